"""Derived files never change an answer (dsrs.storage.columnar.paths.intact): a copy of the lines or
a resource segment records its size in its name when published; one that is cut, emptied, doubled
or replaced by a directory is never ranked, the next engine answers (PostgreSQL last), and a job is
queued to write it again; one damaged at the same size fails DuckDB's read and is ranked around
too. On conftest.small_catalogue: EUR revenue Spotify A 45, YouTube A 20, Spotify B 20, Spotify E
10, Spotify D 5, Spotify C 0."""

import os

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dsrs.models import DSR
from dsrs.percentile import top_percentile_json
from dsrs.storage import columnar
from dsrs.storage.columnar.paths import NAME, intact

pytestmark = pytest.mark.usefixtures("committed_db")


def answers() -> list[bytes]:
    """N=10, 70 and 100 over every DSR, each computed afresh."""
    found = []
    for number in (10, 70, 100):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM dsrs_percentile_answer")
        found.append(b"".join(top_percentile_json(number=number)))
    return found


def rewrites_queued(task: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (args->>'dsr_id')::bigint FROM procrastinate_jobs WHERE task_name = %s AND queueing_lock "
            "IS NOT NULL AND status = 'todo' ORDER BY id",
            [task],
        )
        return [dsr_id for (dsr_id,) in cursor.fetchall()]


def cut(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def emptied(path):
    path.write_bytes(b"")


def doubled(path):
    path.write_bytes(path.read_bytes() * 2)


def a_directory(path):
    path.unlink()
    path.mkdir()


DAMAGES = [cut, emptied, doubled, a_directory]


@pytest.mark.usefixtures("segments_at_commit")
def test_a_published_file_is_named_with_its_size(small_catalogue):
    for dsr in DSR.objects.all():
        for name in (dsr.columnar_copy, dsr.resource_segment):
            assert int(NAME.fullmatch(name)["bytes"]) == columnar.copy_path(name).stat().st_size, name
            assert intact(name) is True


@pytest.mark.usefixtures("segments_at_commit")
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_segment_is_never_ranked_and_is_queued_to_be_written_again(small_catalogue, damage):
    right = answers()
    dsr = DSR.objects.get(id=small_catalogue.gb_spotify)
    segment = columnar.copy_path(dsr.resource_segment)

    damage(segment)

    assert intact(dsr.resource_segment) is False
    assert answers() == right
    assert rewrites_queued("write_resource_segment") == [dsr.id]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_copy_of_the_lines_is_never_ranked_and_is_queued_to_be_written_again(small_catalogue, damage):
    # No segments: the copies answer, as before a worker writes a DSR's segment.
    right = answers()
    dsr = DSR.objects.get(id=small_catalogue.es_spotify)

    damage(columnar.copy_path(dsr.columnar_copy))

    assert answers() == right
    assert rewrites_queued("write_columnar_copy") == [dsr.id]


@pytest.mark.usefixtures("segments_at_commit")
def test_a_segment_damaged_at_its_own_size_fails_duckdbs_read_and_is_ranked_around(small_catalogue):
    right = answers()
    segment = columnar.copy_path(DSR.objects.get(id=small_catalogue.no_spotify).resource_segment)

    segment.write_bytes(os.urandom(segment.stat().st_size))

    assert answers() == right


@pytest.mark.usefixtures("segments_at_commit")
def test_rebuild_columnar_writes_damaged_files_again(small_catalogue, capsys):
    es = DSR.objects.get(id=small_catalogue.es_spotify)
    cut(columnar.copy_path(es.resource_segment))
    doubled(columnar.copy_path(es.columnar_copy))

    call_command("rebuild_columnar")

    es.refresh_from_db()
    assert capsys.readouterr().out.splitlines()[:2] == [
        f"DSR {es.id}: columnar copy written",
        f"DSR {es.id}: resource segment written",
    ]
    assert (intact(es.columnar_copy), intact(es.resource_segment)) == (True, True)


def test_the_job_writes_a_damaged_copy_again(small_catalogue):
    from dsrs.storage.columnar.jobs import write_columnar_copy

    dsr = DSR.objects.get(id=small_catalogue.gb_spotify)
    damaged = dsr.columnar_copy
    a_directory(columnar.copy_path(damaged))

    write_columnar_copy(dsr_id=dsr.id)

    dsr.refresh_from_db()
    assert (dsr.columnar_copy != damaged, intact(dsr.columnar_copy), columnar.copy_path(damaged).exists()) == (
        True,
        True,
        False,
    )


@pytest.mark.usefixtures("segments_at_commit")
def test_rebuild_columnar_goes_on_past_a_file_it_cannot_write_and_says_so(small_catalogue, monkeypatch, capsys):
    es, gb = (DSR.objects.get(id=dsr_id) for dsr_id in (small_catalogue.es_spotify, small_catalogue.gb_spotify))
    for dsr in (es, gb):
        cut(columnar.copy_path(dsr.resource_segment))
    write_segment = columnar.write_segment

    def full_disk_for_es(dsr):
        if dsr.id == es.id:
            raise OSError(28, "No space left on device")
        return write_segment(dsr)

    monkeypatch.setattr(columnar, "write_segment", full_disk_for_es)

    with pytest.raises(CommandError, match=r"^1 file could not be written$"):
        call_command("rebuild_columnar")

    out, err = capsys.readouterr()
    gb.refresh_from_db()
    assert err.splitlines() == [f"DSR {es.id}: resource segment not written ([Errno 28] No space left on device)"]
    assert f"DSR {gb.id}: resource segment written" in out.splitlines()
    assert intact(gb.resource_segment) is True
