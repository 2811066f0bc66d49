"""Copies written while the lines are loaded (dsrs.storage.columnar.streamed), in either format: COPY text
that DuckDB reads (dsrs.storage.columnar.copy_text) or Parquet. The same rows and the same exact units as
a copy read back from PostgreSQL, PostgreSQL's units whenever DuckDB cannot give them exactly,
and nothing left behind by an ingestion that fails."""

import os
import shutil
import signal
import tempfile
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from pathlib import Path

import duckdb
import pytest
from django.db import connection
from psycopg import sql

from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.models import DSR
from dsrs.money import line_units
from dsrs.percentile import top_percentile_resources
from dsrs.storage import columnar
from dsrs.storage.columnar import streamed
from dsrs.storage.columnar.copy_text import copy_lines
from dsrs.storage.columnar.paths import WRITING, scratch_folder
from dsrs.storage.columnar.read_back import write_from_database
from dsrs.storage.partitions import partition_name
from dsrs.tests.support.dsrf_files import NAME as DSRF_NAME
from dsrs.tests.support.dsrf_files import release, resource, sale, summary, write_dsrf
from dsrs.tests.support.paths import SEED_DATA
from dsrs.tests.support.processes import wait_until, write_big_dsr

pytestmark = pytest.mark.usefixtures("committed_db")

GBP = "Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv"


def parquet_rows(path: Path) -> list[tuple]:
    with duckdb.connect() as duck:
        return duck.execute("SELECT * FROM read_parquet(?) ORDER BY ALL", [str(path)]).fetchall()


def copy_rows(dsr: DSR) -> list[tuple]:
    dsr.refresh_from_db()
    with duckdb.connect() as duck:
        return duck.execute(
            f"SELECT * FROM ({copy_lines(columnar.copy_path(dsr.columnar_copy), dsr.eur_rate)}) ORDER BY ALL"
        ).fetchall()


def read_back_rows(dsr: DSR) -> list[tuple]:
    scratch = Path(tempfile.mkdtemp())
    try:
        return parquet_rows(write_from_database(dsr, scratch, "read-back.parquet"))
    finally:
        shutil.rmtree(scratch)


def postgresql_units(dsr: DSR) -> dict[str, Decimal]:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT dsp_id, {} FROM {}")
            .format(line_units(dsr.eur_rate), sql.Identifier(partition_name(dsr.id)))
            .as_string(cursor.connection)
        )
        return dict(cursor.fetchall())


# Parquet copies are written by a writer process of their own: slow.
@pytest.fixture(params=["text", pytest.param("parquet", marks=pytest.mark.slow)], autouse=True)
def copy_format(request, settings) -> str:
    settings.COLUMNAR_FORMAT = request.param
    return request.param


@pytest.fixture
def read_back(monkeypatch) -> list[int]:
    """The ids of the DSRs whose copy was read back from PostgreSQL."""
    ids = []

    def recording(dsr, *args):
        ids.append(dsr.id)
        return write_from_database(dsr, *args)

    monkeypatch.setattr(columnar, "write_from_database", recording)
    return ids


def writing_folders() -> set[Path]:
    return set((columnar.directory() / WRITING).glob("*"))


def test_the_copy_is_written_from_the_lines_as_they_are_loaded(write_dsr, read_back, copy_format):
    lines = [
        'a\tQuote " and, comma\tBeyoncé\t\t1\t1',  # 1 GBP at 3 per EUR: 0.333333333... EUR
        "b\tback\\slash \\N \\\\r\tcarriage\rreturn\tISRC\t2\t2",  # 0.666666666...: rounded half up
        "c\t\t\t\t\t0.000000015",  # empty usages are 0; 5e-9 EUR rounds half up to 1e-8
        "d\tt\ta\ti\t3\t1.5E-8",  # the same, in scientific notation
    ]
    dsr = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(3)).dsr

    assert copy_rows(dsr) == [
        ("a", 'Quote " and, comma', "Beyoncé", "", 1, 33_333_333),
        ("b", "back\\slash \\N \\\\r", "carriage\rreturn", "ISRC", 2, 66_666_667),
        ("c", "", "", "", 0, 1),
        ("d", "t", "a", "i", 3, 1),
    ]
    assert copy_rows(dsr) == read_back_rows(dsr)
    assert read_back == []
    assert dsr.columnar_copy.endswith({"text": ".tsv", "parquet": ".parquet"}[copy_format])


PLACE = Decimal("1e-18")
# Rates of each kind: EUR, a rate of few digits, ECB means of 10 decimal places, the extremes.
RATES = ["1", "3", "0.8945954545", "9.9384227273", "0.0000000001", "99999999999999.9999999999"]


def near_ties(rate: Decimal) -> list[str]:
    """Revenues of 18 decimal places at most whose units fall on a rounding tie, or next to one
    on each side, and others."""
    revenues = [
        "0",
        "1",
        "0.1",
        "123.456",
        "1e-3",
        "2.5E+2",
        ".5",
        "7.",
        "999999999999999.999999999999999999",
        "8.22048588203189e-13",
    ]
    with localcontext(prec=80):
        for units in (0, 1, 2, 41, 10**6 + 7, 10**10 + 1, 10**11 + 3, 10**13 + 9, 10**20 + 11):
            tie = (Decimal(units) + Decimal("0.5")) * rate / 10**8
            below, above = tie.quantize(PLACE, ROUND_FLOOR), tie.quantize(PLACE, ROUND_CEILING)
            if above < 10**15:
                revenues += [
                    f"{revenue:f}" for revenue in sorted({below - PLACE, below, above, above + PLACE}) if revenue >= 0
                ]
    return revenues


@pytest.mark.parametrize("rate", RATES)
def test_each_line_gets_the_units_postgresql_ranks_by_exactly_at_and_beside_every_tie(write_dsr, read_back, rate):
    revenues = near_ties(Decimal(rate))
    lines = [f"{number}\tt\ta\ti\t1\t{revenue}" for number, revenue in enumerate(revenues)]
    dsr = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(rate)).dsr

    streamed_units = {dsp_id: units for dsp_id, *_, units in copy_rows(dsr)}
    assert streamed_units == postgresql_units(dsr)
    assert read_back == []


def test_the_seed_dsrs_copies_are_those_read_back_from_postgresql(read_back):
    if not SEED_DATA.is_dir():
        pytest.skip("the seed DSRs are not checked out beside the project")
    for path in sorted(SEED_DATA.iterdir()):
        dsr = ingest_dsr(path=path).dsr
        assert copy_rows(dsr) == read_back_rows(dsr), path.name
    assert read_back == []


def test_a_line_of_more_than_18_decimal_places_by_a_tie_is_ranked_exactly(write_dsr, read_back, copy_format, caplog):
    # 0.4999... units at 3 GBP per EUR: 0, where 18 decimal places (0.000000015) would give 1.
    lines = ["a\tt\ta\ti\t1\t0.0000000149999999999999999999", "b\tt\ta\ti\t1\t1"]
    dsr = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(3)).dsr

    assert [(r.dsp_id, r.revenue) for r in top_percentile_resources(number=99)] == [("b", Decimal("0.33333333"))]
    if copy_format == "text":  # DuckDB cannot read it exactly: PostgreSQL ranks
        assert (
            f"percentile over DSRs [{dsr.id}] ranked by PostgreSQL: a line DuckDB cannot round exactly" in caplog.text
        )
    else:  # the writer cannot write it exactly: the copy is read back, with PostgreSQL's units
        assert (read_back, [units for *_, units in copy_rows(dsr)]) == ([dsr.id], [0, 33_333_333])


@pytest.mark.parametrize("copy_format", ["parquet"], indirect=True)
def test_a_parquet_writer_that_fails_leaves_the_copy_to_be_read_back(
    write_dsr, read_back, monkeypatch, tmp_path, caplog, copy_format
):
    failing = tmp_path / "failing_writer.py"
    failing.write_text("import sys\nsys.exit('No space left on device')\n")
    monkeypatch.setattr(streamed, "WRITER", failing)
    lines = [f"r{number}\ttitle {number}\tartist\tISRC\t1\t0.5" for number in range(50_000)]  # beyond the pipe's 1 MiB

    result = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(1))

    assert result.outcome == Outcome.INGESTED
    assert len(copy_rows(result.dsr)) == 50_000
    assert read_back == [result.dsr.id]
    assert (
        f"DSR {result.dsr.id}: copy not written with its lines (No space left on device); read back from PostgreSQL"
        in caplog.text
    )


@pytest.mark.parametrize("copy_format", ["text"], indirect=True)
def test_a_text_copy_the_disk_cannot_hold_leaves_the_ingestion_whole_and_is_read_back(
    write_dsr, read_back, monkeypatch, caplog
):
    before = writing_folders()
    real_open = open
    # The copy's file is /dev/full: every write fails as on a full disk.
    monkeypatch.setattr(
        streamed, "open", lambda path, mode, **options: real_open("/dev/full", mode, **options), raising=False
    )
    lines = [f"r{number}\ttitle {number}\tartist\tISRC\t1\t0.5" for number in range(50_000)]

    result = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(1))

    assert (result.outcome, result.lines_stored) == (Outcome.INGESTED, 50_000)
    assert len(copy_rows(result.dsr)) == 50_000
    assert read_back == [result.dsr.id]
    assert (
        f"DSR {result.dsr.id}: copy not written with its lines ([Errno 28] No space left on device); read back from "
        "PostgreSQL" in caplog.text
    )
    assert writing_folders() == before


@pytest.mark.slow  # an ingest_dsr process of its own, killed
@pytest.mark.parametrize("copy_format", ["text"], indirect=True)
def test_what_an_ingestion_killed_mid_write_left_goes_at_the_next_one(write_dsr, processes, tmp_path):
    before = writing_folders()
    killed = processes("ingest_dsr", str(write_big_dsr(tmp_path / GBP, 1_000_000)), app_name="killed-mid-write")

    def copy_begun() -> list[Path]:
        return [path for folder in writing_folders() - before for path in folder.iterdir() if path.stat().st_size]

    [copy] = wait_until(copy_begun, what="the ingestion to write its copy")
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert copy.suffix == ".tsv" and copy.exists()  # half written, left behind
    still_writing = scratch_folder()  # a writer of this process, alive

    result = ingest_dsr(path=write_dsr(GBP.replace("GB_GBP", "ES_EUR"), ["a\tt\ta\ti\t1\t1"]))

    assert result.outcome == Outcome.INGESTED
    assert writing_folders() - before == {still_writing}
    shutil.rmtree(still_writing)


def test_a_failed_ingestion_leaves_neither_a_copy_nor_a_folder_behind(write_dsr):
    before = writing_folders()

    result = ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\tmany\t1"] * 10), eur_rate=Decimal(1))

    assert result.outcome == Outcome.FAILED
    assert list(columnar.directory().glob(f"dsr-{result.dsr.id}-*")) == []
    assert writing_folders() == before


def test_an_ingestion_leaves_no_folder_behind(write_dsr):
    before = writing_folders()

    dsr = ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\t1\t1"]), eur_rate=Decimal(1)).dsr

    dsr.refresh_from_db()
    assert columnar.copy_path(dsr.columnar_copy).exists()
    assert writing_folders() == before


def test_a_dsrf_file_of_one_report_gets_its_copy_as_its_lines_are_loaded(tmp_path, read_back):
    records = [
        summary("S1", "GB", "GBP", 4, "8"),
        release("B1"),
        resource("B1", "RS1", "id1", "ISRC1", "Tab\\\there", "New\\\nline|B\\\\slash"),
        sale("B1", "S1", "RS1", 4),
        release("B2"),
        resource("B2", "X", "id2", "ISRC2", "British Song", "Ben"),
        sale("B2", "S1", "X", 0),
    ]
    dsr = ingest_dsr(path=write_dsrf(tmp_path, records, name=DSRF_NAME.replace("_ES_", "_GB_"))).dsr

    units = postgresql_units(dsr)["id1"]
    assert copy_rows(dsr) == [
        ("id1", "Tab\there", "New\nline|B\\slash", "ISRC1", 4, units),
        ("id2", "British Song", "Ben", "ISRC2", 0, 0),
    ]
    assert copy_rows(dsr) == read_back_rows(dsr)
    assert read_back == []


def test_the_dsrs_of_a_dsrf_file_of_several_reports_have_their_copies_read_back(tmp_path, read_back):
    records = [
        summary("S1", "ES", "EUR", 3, "30"),
        summary("S2", "GB", "GBP", 4, "8"),
        release("B1"),
        resource("B1", "RS1", "id1", "ISRC1", "Song", "Ana"),
        sale("B1", "S1", "RS1", 3),
        sale("B1", "S2", "RS1", 4),
    ]

    spain, britain = ingest_dsr(path=write_dsrf(tmp_path, records, name=DSRF_NAME.replace("_ES_", "__"))).dsrs

    assert copy_rows(spain) == [("id1", "Song", "Ana", "ISRC1", 3, 30 * 10**8)]
    assert copy_rows(britain) == [("id1", "Song", "Ana", "ISRC1", 4, postgresql_units(britain)["id1"])]
    assert read_back == [spain.id, britain.id]
