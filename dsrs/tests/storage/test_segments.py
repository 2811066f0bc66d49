"""Resource segments (dsrs.storage.columnar.segments), the form of a DSR's lines the percentile ranks
fastest: queued with the DSR's commit, written by a worker from PostgreSQL's lines, exact, removed
with their DSR, rebuilt by a command, and never needed for a right answer. On
conftest.small_catalogue: EUR revenue Spotify A 45, YouTube A 20, Spotify B 20, Spotify E 10,
Spotify D 5, Spotify C 0."""

from decimal import Decimal

import duckdb
import pytest
from django.core.management import call_command
from django.db import connection

from dsrs import percentile
from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.percentile import top_percentile_resources
from dsrs.storage import columnar
from dsrs.storage.columnar import jobs, segments
from dsrs.storage.deletion import delete_dsrs

pytestmark = pytest.mark.usefixtures("committed_db")

GBP = "Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv"
HEAD_70 = [("Spotify", "A", Decimal(45)), ("YouTube", "A", Decimal(20)), ("Spotify", "B", Decimal(20))]


def ranked(resources) -> list[tuple[str, str, Decimal]]:
    return [(r.dsp, r.dsp_id, r.revenue) for r in resources]


def segment_rows(dsr: DSR) -> list[tuple]:
    """The rows of `dsr`'s segment, each with the description PostgreSQL holds for it."""
    with duckdb.connect() as duck:
        rows = duck.execute(
            "SELECT description::VARCHAR, dsr_id, usages, units FROM read_parquet($path)",
            {"path": str(columnar.copy_path(dsr.resource_segment))},
        ).fetchall()
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest::text, dsp_id, title, artists, isrc FROM dsrs_resource_description")
        descriptions = {digest: tuple(description) for digest, *description in cursor.fetchall()}
    return sorted((*descriptions[digest], *numbers) for digest, *numbers in rows)


@pytest.fixture
def ranked_by(monkeypatch):
    """The engines that ranked, in order: "segments", "copies" or "postgresql"."""
    used = []
    for name, engine in (("SegmentRanking", "segments"), ("ColumnarRanking", "copies"), ("Ranking", "postgresql")):
        original = getattr(percentile, name)

        def spy(*args, original=original, engine=engine, **kwargs):
            used.append(engine)
            return original(*args, **kwargs)

        monkeypatch.setattr(percentile, name, spy)
    return used


def queued_segments() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (args->>'dsr_id')::bigint FROM procrastinate_jobs "
            "WHERE task_name = 'write_resource_segment' AND queue_name = %s AND status = 'todo' ORDER BY id",
            [jobs.QUEUE],
        )
        return [dsr_id for (dsr_id,) in cursor.fetchall()]


def run_queued_segment_jobs() -> None:
    for dsr_id in queued_segments():
        jobs.write_resource_segment(dsr_id=dsr_id)


def test_ingesting_a_dsr_queues_its_segment_in_the_same_commit(small_catalogue):
    assert queued_segments() == [
        small_catalogue.es_spotify,
        small_catalogue.gb_spotify,
        small_catalogue.no_spotify,
        small_catalogue.es_youtube,
    ]
    assert set(DSR.objects.values_list("resource_segment", flat=True)) == {""}


def test_a_failed_ingestion_queues_nothing(write_dsr):
    ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\tnot a number\t1"]), eur_rate=Decimal(1))

    assert queued_segments() == []


def test_a_segment_sums_each_resource_of_its_dsr_exactly_with_its_greatest_metadata(write_dsr):
    lines = [
        "a\tTitle\t\tISRC1\t1\t1",  # 1 GBP at 3 per EUR: 33,333,333 units of 1e-8 EUR
        "a\t\tArtist\tISRC0\t2\t2",  # 66,666,667 units: each line rounded, then summed
        "b\tback\\slash\tcarriage\rreturn\t\t\t0.000000015",  # empty usages are 0; 5e-9 EUR rounds up
    ]
    dsr = ingest_dsr(path=write_dsr(GBP, lines), eur_rate=Decimal(3)).dsr

    jobs.write_resource_segment(dsr_id=dsr.id)

    dsr.refresh_from_db()
    assert dsr.resource_segment.startswith(f"dsr-{dsr.id}-") and dsr.resource_segment.endswith(segments.SEGMENT)
    assert segment_rows(dsr) == [
        ("a", "Title", "Artist", "ISRC1", dsr.id, 3, Decimal(100_000_000)),
        ("b", "back\\slash", "carriage\rreturn", "", dsr.id, 0, Decimal(1)),
    ]


def test_the_segments_rank_the_same_answer_as_the_lines(small_catalogue, ranked_by):
    lines_answer = {number: top_percentile_resources(number=number) for number in (10, 50, 99)}
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dsrs_percentile_answer")
    run_queued_segment_jobs()

    for number, expected in lines_answer.items():
        assert top_percentile_resources(number=number) == expected
    assert ranked(top_percentile_resources(number=70)) == HEAD_70
    assert ranked_by == ["copies"] * 3 + ["segments"] * 3


def test_writing_a_segment_again_is_harmless(small_catalogue):
    run_queued_segment_jobs()
    names = dict(DSR.objects.values_list("id", "resource_segment"))

    run_queued_segment_jobs()

    assert dict(DSR.objects.values_list("id", "resource_segment")) == names


def test_a_dsr_without_its_segment_yet_is_ranked_from_the_copies(small_catalogue, ranked_by):
    run_queued_segment_jobs()
    DSR.objects.filter(id=small_catalogue.no_spotify).update(resource_segment="")

    assert ranked(top_percentile_resources(number=70)) == HEAD_70
    assert ranked_by == ["copies"]


def test_a_missing_description_gives_the_answer_from_the_lines(small_catalogue, ranked_by, caplog):
    run_queued_segment_jobs()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dsrs_resource_description WHERE dsp_id = 'B'")

    assert ranked(top_percentile_resources(number=70)) == HEAD_70
    assert ranked_by == ["segments", "copies"]
    assert "ranked from the lines: 2 descriptions of the head are missing" in caplog.text


def test_two_resources_under_one_key_give_the_answer_from_the_lines(write_dsr, monkeypatch, ranked_by, caplog):
    # Every resource under one key: what a collision of MD5s would do to the segments.
    monkeypatch.setattr(segments, "resource_key", lambda dsp, dsp_id: "md5('one key')::UUID")
    dsr = ingest_dsr(path=write_dsr(GBP, ["a\tt\ta\ti\t1\t3", "b\tt\ta\ti\t1\t1"]), eur_rate=Decimal(1)).dsr
    jobs.write_resource_segment(dsr_id=dsr.id)

    assert ranked(top_percentile_resources(number=50)) == [("Spotify", "a", Decimal(3))]
    assert ranked_by == ["segments", "copies"]
    assert "ranked from the lines: 1 of the head's keys stand for two resources or more" in caplog.text


def test_deleting_a_dsr_removes_its_segment(small_catalogue):
    run_queued_segment_jobs()
    dsr = DSR.objects.get(id=small_catalogue.es_youtube)
    path = columnar.copy_path(dsr.resource_segment)
    assert path.exists()

    delete_dsrs([dsr])

    assert not path.exists()
    assert ranked(top_percentile_resources(number=70)) == [("Spotify", "A", Decimal(45)), ("Spotify", "B", Decimal(20))]


def test_a_segment_job_of_a_deleted_dsr_does_nothing(small_catalogue):
    dsr = DSR.objects.get(id=small_catalogue.es_youtube)
    delete_dsrs([dsr])

    jobs.write_resource_segment(dsr_id=dsr.id)

    assert list(columnar.directory().glob(f"dsr-{dsr.id}-*")) == []


def test_rebuild_columnar_writes_missing_segments_and_prunes_descriptions_no_segment_names(small_catalogue, capsys):
    run_queued_segment_jobs()
    delete_dsrs([DSR.objects.get(id=small_catalogue.es_youtube)])
    DSR.objects.filter(id=small_catalogue.gb_spotify).update(resource_segment="")

    call_command("rebuild_columnar")

    assert capsys.readouterr().out.splitlines() == [
        f"DSR {small_catalogue.gb_spotify}: resource segment written",
        "0 columnar copies and 1 resource segment written, 0 files no DSR named removed, "
        "1 description no segment named removed",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT dsp_id FROM dsrs_resource_description ORDER BY dsp_id, title")
        assert [dsp_id for (dsp_id,) in cursor.fetchall()] == ["A", "A", "B", "B", "C", "D", "E"]
    assert ranked(top_percentile_resources(number=70)) == [("Spotify", "A", Decimal(45)), ("Spotify", "B", Decimal(20))]
