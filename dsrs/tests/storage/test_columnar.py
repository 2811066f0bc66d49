"""Columnar copies of the DSRs' usage lines (dsrs.storage.columnar), which DuckDB ranks: published once a
DSR is committed, exact, removed with their DSR, rebuilt by a command, and never needed for a right
answer. On conftest.small_catalogue: EUR revenue Spotify A 45, YouTube A 20, Spotify B 20,
Spotify E 10, Spotify D 5, Spotify C 0."""

import os
import shutil
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from django.core.management import call_command

from dsrs import percentile
from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.models import DSR
from dsrs.percentile import top_percentile_resources
from dsrs.storage import columnar
from dsrs.storage.columnar.copy_text import copy_lines
from dsrs.storage.columnar.paths import WRITING
from dsrs.storage.deletion import delete_dsrs

pytestmark = pytest.mark.usefixtures("committed_db")

GBP = "Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv"


def copy_rows(dsr: DSR) -> list[tuple]:
    with duckdb.connect() as duck:
        return duck.execute(
            f"SELECT * FROM ({copy_lines(columnar.copy_path(dsr.columnar_copy), dsr.eur_rate)}) ORDER BY dsp_id"
        ).fetchall()


def ranked(resources) -> list[tuple[str, str, Decimal]]:
    return [(r.dsp, r.dsp_id, r.revenue) for r in resources]


@pytest.fixture
def only(monkeypatch):
    """only("duckdb") or only("postgresql"): the other engine fails if it is asked to rank."""

    def refuse(*args, **kwargs):
        raise AssertionError("ranked by the wrong engine")

    def choose(engine: str) -> None:
        monkeypatch.setattr(percentile, "Ranking" if engine == "duckdb" else "ColumnarRanking", refuse)

    return choose


def test_a_committed_dsr_gets_a_copy_of_its_lines_with_their_exact_eur_units(write_dsr):
    lines = [
        'a\tQuote " and, comma\tBeyoncé\t\t1\t1',  # 1 GBP at 3 per EUR: 0.333333333... EUR
        "b\tback\\slash\tcarriage\rreturn\tISRC\t2\t2",  # 0.666666666...: rounded half up
        "c\t\t\t\t\t0.000000015",  # empty usages are 0; 5e-9 EUR rounds half up to 1e-8
    ]
    dsr = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(3)).dsr

    dsr.refresh_from_db()
    assert copy_rows(dsr) == [
        ("a", 'Quote " and, comma', "Beyoncé", "", 1, 33_333_333),
        ("b", "back\\slash", "carriage\rreturn", "ISRC", 2, 66_666_667),
        ("c", "", "", "", 0, 1),
    ]
    assert columnar.copy_path(dsr.columnar_copy).parent == columnar.directory()


def test_below_100_percent_duckdb_ranks_over_the_copies(small_catalogue, only):
    only("duckdb")

    assert ranked(top_percentile_resources(number=66)) == [
        ("Spotify", "A", Decimal(45)),
        ("YouTube", "A", Decimal(20)),
        ("Spotify", "B", Decimal(20)),
    ]


def test_100_percent_is_ranked_by_postgresql_which_streams_it_in_bounded_memory(small_catalogue, only):
    only("postgresql")

    assert len(top_percentile_resources(number=100)) == 5


def test_a_copy_missing_on_this_machine_leaves_the_ranking_to_postgresql(small_catalogue, only):
    columnar.copy_path(DSR.objects.get(id=small_catalogue.gb_spotify).columnar_copy).unlink()
    only("postgresql")

    assert ranked(top_percentile_resources(number=66)) == [
        ("Spotify", "A", Decimal(45)),
        ("YouTube", "A", Decimal(20)),
        ("Spotify", "B", Decimal(20)),
    ]


def test_lines_of_any_size_the_limits_allow_are_copied_and_ranked_exactly(write_dsr, only):
    # Just below 10^15 at a rate of 1e-10 per EUR: about 10^33 units of 1e-8 EUR, beyond an int64.
    rate, revenue = Decimal("0.0000000001"), "999999999999999.9999999999"
    dsr = ingest_dsr(path=write_dsr(GBP, [f"big\tt\ta\ti\t1\t{revenue}", "small\tt\ta\ti\t1\t1"]), eur_rate=rate).dsr
    only("duckdb")

    dsr.refresh_from_db()
    assert copy_rows(dsr)[0][-1] == Decimal("999999999999999999999999900000000")
    assert ranked(top_percentile_resources(number=10)) == [("Spotify", "big", Decimal("9999999999999999999999999"))]


def test_sums_beyond_duckdbs_38_digits_are_ranked_by_postgresql(write_dsr, monkeypatch):
    # 200,000 lines of about 10^33 units each: about 2 * 10^38 units for the one resource.
    rate, revenue = Decimal("0.0000000001"), "999999999999999.9999999999"
    ingest_dsr(path=write_dsr(GBP, [f"big\tt\ta\ti\t1\t{revenue}"] * 200_000), eur_rate=rate)
    by_postgresql = []
    postgresql_ranking = percentile.Ranking
    monkeypatch.setattr(percentile, "Ranking", lambda *args: by_postgresql.append(args[1]) or postgresql_ranking(*args))

    assert ranked(top_percentile_resources(number=10)) == [
        ("Spotify", "big", Decimal("9999999999999999999999999") * 200_000)
    ]
    assert by_postgresql == [10]


def test_a_selection_beyond_duckdbs_memory_is_ranked_by_postgresql(small_catalogue, monkeypatch, caplog):
    def out_of_memory(*args):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    monkeypatch.setattr(percentile, "ColumnarRanking", out_of_memory)

    assert ranked(top_percentile_resources(number=66)) == [
        ("Spotify", "A", Decimal(45)),
        ("YouTube", "A", Decimal(20)),
        ("Spotify", "B", Decimal(20)),
    ]
    assert (
        "ranked by PostgreSQL: DuckDB Out of Memory Error: could not allocate block; raise COLUMNAR_MEMORY_LIMIT"
        in caplog.text
    )


def test_a_total_times_n_beyond_32_bits_is_ranked_by_duckdb(write_dsr, only):
    # 4 EUR = 400,000,000 units, times N=50: beyond a 32-bit integer.
    ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\t1\t3", "b\tt\ta\ti\t1\t1"]), eur_rate=Decimal(1))
    only("duckdb")

    assert ranked(top_percentile_resources(number=50)) == [("Spotify", "a", Decimal(3))]


def test_copies_off_writes_none_and_postgresql_ranks(settings, write_dsr, only):
    settings.COLUMNAR_COPIES = False
    dsr = ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\t1\t1"]), eur_rate=Decimal(1)).dsr
    only("postgresql")

    dsr.refresh_from_db()
    assert (dsr.columnar_copy, list(columnar.directory().glob(f"dsr-{dsr.id}-*"))) == ("", [])
    assert ranked(top_percentile_resources(number=10)) == [("Spotify", "a", Decimal(1))]


def test_deleting_a_dsr_removes_its_copy(small_catalogue):
    dsr = DSR.objects.get(id=small_catalogue.es_youtube)
    path = columnar.copy_path(dsr.columnar_copy)
    assert path.exists()

    delete_dsrs([dsr])

    assert not path.exists()


def test_a_replaced_dsr_loses_its_copy_and_its_replacement_has_one(write_dsr):
    first = ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\t1\t1"]), eur_rate=Decimal(1)).dsr
    old_copy = columnar.copy_path(first.columnar_copy)

    result = ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\t1\t2"]), eur_rate=Decimal(1), replace=True)

    assert result.outcome == Outcome.INGESTED
    assert not old_copy.exists()
    assert copy_rows(DSR.objects.get(id=result.dsr.id)) == [("a", "t", "a", "i", 1, 200_000_000)]


@pytest.mark.usefixtures("segments_at_commit")
def test_rebuild_columnar_writes_missing_copies_and_removes_old_files_no_dsr_names(small_catalogue, capsys):
    without = DSR.objects.get(id=small_catalogue.no_spotify)
    columnar.copy_path(without.columnar_copy).unlink()
    DSR.objects.filter(id=small_catalogue.gb_spotify).update(columnar_copy="")
    orphan = columnar.directory() / "dsr-999999-0123456789abcdef.parquet"
    orphan.write_bytes(b"cut short")
    an_hour_ago = time.time() - columnar.UNNAMED_GRACE_SECONDS - 1
    os.utime(orphan, (an_hour_ago, an_hour_ago))
    being_written = columnar.directory() / "dsr-999998-0123456789abcdef.parquet"
    being_written.write_bytes(b"not named yet")

    call_command("rebuild_columnar")

    assert sorted(capsys.readouterr().out.splitlines()) == sorted(
        [
            f"DSR {small_catalogue.gb_spotify}: columnar copy written",
            f"DSR {small_catalogue.no_spotify}: columnar copy written",
            "2 columnar copies and 0 resource segments written, 1 file no DSR named removed, "
            "0 descriptions no segment named removed",
        ]
    )
    # The file of gb_spotify's cleared name is recent too: one may be being written, it stays.
    assert (orphan.exists(), being_written.exists()) == (False, True)
    for dsr in DSR.objects.all():
        assert columnar.copy_path(dsr.columnar_copy).exists()
    being_written.unlink()


def test_rebuild_columnar_all_writes_every_copy_again(small_catalogue):
    before = dict(DSR.objects.values_list("id", "columnar_copy"))

    call_command("rebuild_columnar", "--all")

    after = dict(DSR.objects.values_list("id", "columnar_copy"))
    assert sorted(after) == sorted(before)
    assert all(after[id] != before[id] and columnar.copy_path(after[id]).exists() for id in after)
    assert not any(columnar.copy_path(name).exists() for name in before.values())


@pytest.mark.usefixtures("segments_at_commit")
def test_rebuild_columnar_removes_the_folders_of_writes_cut_short_an_hour_ago(small_catalogue, capsys):
    def folder_of_a_write(name: str, *, age: float) -> Path:
        folder = columnar.directory() / WRITING / name
        folder.mkdir(parents=True)
        (folder / "dsr-999997-0123456789abcdef.parquet").write_bytes(b"cut short")
        (folder / "errors").write_bytes(b"")
        for path in [*folder.iterdir(), folder]:
            os.utime(path, (time.time() - age, time.time() - age))
        return folder

    cut_short = folder_of_a_write("tmpcutshort", age=columnar.UNNAMED_GRACE_SECONDS + 1)
    being_written = folder_of_a_write("tmpbeingwritten", age=60)

    call_command("rebuild_columnar")

    assert capsys.readouterr().out == (
        "0 columnar copies and 0 resource segments written, 2 files no DSR named removed, "
        "0 descriptions no segment named removed\n"
    )
    assert (cut_short.exists(), being_written.exists()) == (False, True)
    shutil.rmtree(being_written)


def test_a_write_folder_another_ingestion_removes_meanwhile_is_passed_over(monkeypatch):
    folder = columnar.directory() / WRITING / "tmpremovedmeanwhile"
    folder.mkdir(parents=True)
    abandoned = columnar.abandoned

    def removed_by_another_ingestion(path):
        shutil.rmtree(path)
        return abandoned(path)  # another machine's name: its age is looked at next, and it is gone

    monkeypatch.setattr(columnar, "abandoned", removed_by_another_ingestion)

    assert columnar.remove_abandoned_writes() == []
