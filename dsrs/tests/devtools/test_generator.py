import gzip
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from dsrs.devtools.generator import (
    SAMPLES,
    flat_rate,
    flat_resource,
    generate_dsr,
    generate_dsrf,
    generate_samples,
    zipf_resource,
)
from dsrs.formats.dsrf import read_prelude
from dsrs.formats.tsv import line_rejection
from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.tests.support.paths import SAMPLE_DATA as DATA


def read_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).splitlines()


def test_the_committed_samples_are_what_the_generator_writes(tmp_path):
    generate_samples(tmp_path)

    assert sorted(p.name for p in DATA.iterdir()) == sorted(SAMPLES)
    for name in SAMPLES:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_the_same_seed_writes_the_same_file_and_another_seed_another(tmp_path):
    generate_dsr(tmp_path / "a.tsv.gz", lines=100, seed=4)
    generate_dsr(tmp_path / "b.tsv.gz", lines=100, seed=4)
    generate_dsr(tmp_path / "c.tsv.gz", lines=100, seed=6)

    assert (tmp_path / "a.tsv.gz").read_bytes() == (tmp_path / "b.tsv.gz").read_bytes()
    assert (tmp_path / "a.tsv.gz").read_bytes() != (tmp_path / "c.tsv.gz").read_bytes()


def test_generated_files_carry_the_flaws_of_real_ones_and_only_valid_lines(tmp_path):
    path = tmp_path / "s.tsv"
    generate_dsr(path, lines=5000, seed=3)

    raw = path.read_bytes()
    header, *lines = [line.removesuffix(b"\r") for line in raw.split(b"\n")[:-1]]
    fields = [line.split(b"\t") for line in lines]
    assert raw.count(b"\r\n") == 5001  # odd seeds write CRLF
    assert header == b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue"
    assert len(lines) == 5000
    assert all(line_rejection(line) is None for line in lines)
    assert any(f[4] == b"" for f in fields)  # empty usages
    assert any(f[5] == b"" for f in fields)  # empty revenue
    assert any(f[1] == b"" for f in fields)  # empty title
    assert any(f[3] == b"" for f in fields)  # empty isrc
    assert any(b"e-" in f[5] for f in fields)  # scientific notation
    assert len({f[0] for f in fields}) < 5000  # a dsp_id repeated inside the file


def test_files_share_resources(tmp_path):
    generate_dsr(tmp_path / "a.tsv", lines=1000, seed=2)
    generate_dsr(tmp_path / "b.tsv", lines=1000, seed=5)

    ids = [{line.split(b"\t")[0] for line in read_lines(tmp_path / name)[1:]} for name in ("a.tsv", "b.tsv")]
    assert len(ids[0] & ids[1]) > 100


def test_a_flat_file_draws_uniformly_from_a_window_of_half_its_pool(tmp_path):
    path = tmp_path / "flat.tsv"
    generate_dsr(path, lines=1000, seed=5, distribution="flat")

    raw = path.read_bytes()
    lines = [line.removesuffix(b"\r") for line in raw.split(b"\n")[1:-1]]
    fields = [line.split(b"\t") for line in lines]
    pool = {flat_resource(rank): rank for rank in range(2000)}  # twice the lines
    by_id = {dsp_id.encode(): rank for (dsp_id, *_details), rank in pool.items()}
    ranks = [by_id[f[0]] for f in fields]
    assert raw.count(b"\r\n") == 1001  # the flaws of the other distributions: CRLF for odd seeds
    assert all(line_rejection(line) is None for line in lines)
    assert all(any(f[i] == b"" for f in fields) for i in (1, 3, 4, 5))
    assert any(b"e-" in f[5] for f in fields)
    # Seed 5 places its window of 1000 ranks at 1275, wrapping past the pool's end.
    assert {(rank - 1275) % 2000 for rank in ranks} <= set(range(1000))
    assert (min(ranks), max(ranks), len(set(ranks))) == (0, 1996, 639)
    # Each line names its resource's details, but for the emptied fields.
    details = {rank: tuple(field.encode() for field in resource[1:]) for resource, rank in pool.items()}
    assert all(
        all(field in (b"", expected) for field, expected in zip(f[1:4], details[rank], strict=True))
        for f, rank in zip(fields, ranks, strict=True)
    )
    assert not {dsp_id for dsp_id, *_ in pool} & {zipf_resource(rank)[0] for rank in range(2000)}
    # Each line earns 0.5 to 1.5 times its resource's rate, the rates spread over four decades.
    earned = [
        (float(f[5]), flat_rate(rank)) for f, rank in zip(fields, ranks, strict=True) if f[5] and b"e-" not in f[5]
    ]
    assert all(0.5 * rate - 5e-9 <= revenue <= 1.5 * rate + 5e-9 for revenue, rate in earned)
    rates = sorted(flat_rate(rank) for rank in range(2000))
    assert (f"{rates[0]:.3g}", rates[-1]) == ("0.0001", 1.0)
    assert {f[4] for f in fields} == {b"", *(str(usages).encode() for usages in range(1, 10))}


def test_flat_files_are_the_same_for_the_same_seed_and_share_resources_by_chance(tmp_path):
    for name, seed in (("a.tsv.gz", 6), ("b.tsv.gz", 6), ("c.tsv.gz", 7)):
        generate_dsr(tmp_path / name, lines=1000, seed=seed, distribution="flat")

    ids = [{line.split(b"\t")[0] for line in read_lines(tmp_path / name)[1:]} for name in ("a.tsv.gz", "c.tsv.gz")]
    assert (tmp_path / "a.tsv.gz").read_bytes() == (tmp_path / "b.tsv.gz").read_bytes()
    assert (tmp_path / "a.tsv.gz").read_bytes() != (tmp_path / "c.tsv.gz").read_bytes()
    assert ids[0] <= {flat_resource(rank)[0].encode() for rank in range(2000)} >= ids[1]
    assert len(ids[0] & ids[1]) == 19  # where the two windows overlap


@pytest.mark.django_db
def test_the_samples_ingest_cleanly():
    results = [ingest_dsr(path=DATA / name) for name in SAMPLES]

    assert [(r.outcome, r.lines_read, r.lines_stored, r.lines_rejected) for r in results] == [
        (Outcome.INGESTED, 1000, 1000, 0)
    ] * 5


def test_the_command_refuses_a_name_ingest_dsr_would_refuse(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="file name does not match"):
        call_command("generate_dsr", str(tmp_path / "sample.tsv"))


DSRF_NAME = "DSR_PADPIDA2011021501G_PADPIDA2007040502I_SpotifyPremium_20240101--20240131__1of1_20240205T120000.tsv.gz"


@pytest.mark.django_db
def test_a_generated_dsrf_file_ingests_with_each_summarys_revenue_exactly(tmp_path):
    path = tmp_path / DSRF_NAME
    call_command("generate_dsr", "--format", "dsrf", str(path), "--lines", "2000", "--seed", "3")
    summaries = read_prelude(path, gzipped=True).summaries.values()

    result = ingest_dsr(path=path)

    assert result.outcome == Outcome.INGESTED, result.message
    assert [(dsr.territory_id, dsr.currency_id) for dsr in result.dsrs] == [("ES", "EUR"), ("FR", "EUR"), ("GB", "GBP")]
    assert {(dsr.dsp, dsr.service, dsr.society, dsr.recipient_party_id) for dsr in result.dsrs} == {
        ("Spotify", "SpotifyPremium", "SGAE", "PADPIDA2007040502I")
    }
    assert (result.lines_read, result.lines_stored, sum(dsr.lines_stored for dsr in result.dsrs)) == (2000, 2000, 2000)
    with connection.cursor() as cursor:
        cursor.execute("SELECT dsr_id, sum(usages), sum(revenue) FROM dsrs_usage GROUP BY dsr_id ORDER BY dsr_id")
        totals = cursor.fetchall()
    expected = [
        (
            dsr.id,
            sum(s.usages for s in summaries if s.territory == dsr.territory_id),
            sum(s.net_revenue for s in summaries if s.territory == dsr.territory_id),
        )
        for dsr in result.dsrs
    ]
    assert totals == expected
    assert all(usages > 0 for _, usages, _ in totals)


def test_the_same_seed_writes_the_same_dsrf_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    generate_dsrf(tmp_path / "a" / DSRF_NAME, sales=300, seed=4)
    generate_dsrf(tmp_path / "b" / DSRF_NAME, sales=300, seed=4)

    assert (tmp_path / "a" / DSRF_NAME).read_bytes() == (tmp_path / "b" / DSRF_NAME).read_bytes()


def test_the_command_refuses_a_name_outside_the_dsrf_convention(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="file name does not match DSR_"):
        call_command(
            "generate_dsr", "--format", "dsrf", str(tmp_path / "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv")
        )
