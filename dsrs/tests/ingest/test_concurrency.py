"""Loads, deletions and reads at the same time: real processes and sessions, committed work."""

import re
import threading
import time

import pytest
from django.db import connection

from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.storage import deletion
from dsrs.storage.deletion import DeletionBusy, delete_dsrs
from dsrs.tests.support.processes import (
    BIG_FILE_LINES,
    finish,
    observer,
    pause_in_copy,
    resume,
    usage_tables,
    write_big_dsr,
)

pytestmark = [pytest.mark.usefixtures("committing_db"), pytest.mark.slow]

BIG = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"
SMALL = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"
# What a reader may wait behind a deletion: partitions.LOCK_TIMEOUT, and slack for a busy
# machine; without the fixes readers wait until their 5 s statement_timeout.
READER_WAIT = 2.0


def in_thread(function, *args) -> tuple[threading.Thread, dict]:
    """Run `function` in a thread with a database connection of its own; the outcome in a dict."""
    outcome = {}

    def run():
        started = time.monotonic()
        try:
            outcome["value"] = function(*args)
        except Exception as error:
            outcome["error"] = error
        finally:
            outcome["seconds"] = time.monotonic() - started
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def timed_read(conn) -> float:
    """Seconds a plain read of dsrs_usage takes, failing past 5 s rather than hanging."""
    started = time.monotonic()
    conn.execute("SET statement_timeout = '5s'")
    conn.execute("SELECT count(*) FROM dsrs_usage")
    return time.monotonic() - started


def test_a_stalled_ingest_blocks_neither_deletions_nor_readers_nor_the_api(tmp_path, write_dsr, processes, client):
    kept = ingest_dsr(path=write_dsr(SMALL, ["kept\tt\ta\ti\t1\t2"])).dsr
    other = ingest_dsr(
        path=write_dsr("YouTube_YouTubeMusic_ES_EUR_20200101-20200131.tsv", ["other\tt\ta\ti\t1\t2"])
    ).dsr
    ingest = processes("ingest_dsr", str(write_big_dsr(tmp_path / BIG)), app_name="stalled")
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '5s'")  # the API's queries fail rather than hang

    with observer() as conn:
        pause_in_copy(conn, ingest, "stalled")
        deleting, deleted = in_thread(delete_dsrs, [other])
        time.sleep(0.3)  # a deletion that waits would now hold up the reads
        try:
            started = time.monotonic()
            response = client.get("/resources/percentile/100")
            assert (response.status_code, [r["dsrs"] for r in response.json()]) == (200, [[kept.id]])
            assert time.monotonic() - started < READER_WAIT
            assert timed_read(conn) < READER_WAIT
            deleting.join(5)
            assert deleted.keys() == {"value", "seconds"}
            assert deleted["seconds"] < READER_WAIT
        finally:
            resume(ingest)
        code, _out, err = finish(ingest)

        assert (code, err) == (0, "")
        loaded = DSR.objects.exclude(id=kept.id).get()
        assert (loaded.status, loaded.lines_stored) == ("ingested", BIG_FILE_LINES)
        assert usage_tables(conn) == sorted([f"dsrs_usage_{kept.id}", f"dsrs_usage_{loaded.id}"])


def test_readers_do_not_queue_behind_a_deletion_waiting_for_a_long_query(write_dsr):
    dsr = ingest_dsr(path=write_dsr(SMALL, ["id1\tt\ta\ti\t1\t2"])).dsr

    with observer() as long_query, observer() as reader:
        long_query.execute("BEGIN")
        long_query.execute("SELECT count(*) FROM dsrs_usage")  # its lock lasts until COMMIT
        deleting, deleted = in_thread(delete_dsrs, [dsr])
        time.sleep(0.3)  # the deletion has tried, and waits to try again
        try:
            assert timed_read(reader) < READER_WAIT
            assert timed_read(reader) < READER_WAIT
        finally:
            long_query.execute("COMMIT")
        deleting.join(5)

        assert deleted.keys() == {"value", "seconds"}
        assert deleted["seconds"] > 0.3  # it waited for the long query
        assert DSR.objects.count() == 0
        assert usage_tables(reader) == []


def test_a_deletion_gives_up_with_a_clear_error_when_queries_keep_the_lines_busy(write_dsr, monkeypatch):
    monkeypatch.setattr(deletion, "PATIENCE_SECONDS", 0.5)
    dsr = ingest_dsr(path=write_dsr(SMALL, ["id1\tt\ta\ti\t1\t2"])).dsr
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '5s'")  # a deletion that waits fails instead of hanging

    with observer() as long_query, long_query.transaction():
        long_query.execute("SELECT count(*) FROM dsrs_usage")
        with pytest.raises(DeletionBusy) as raised:
            delete_dsrs([dsr])

    assert str(raised.value) == f"DSR {dsr.id} not deleted: queries kept reading usage lines for 0.5 s; try again later"
    assert DSR.objects.get().status == "ingested"


def ingest_side_by_side(processes, conn, *runs: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """Start one ingest_dsr per `runs` (its arguments), hold each in its COPY until all are in
    theirs (so each has passed its checks before any commits), then let them race to commit."""
    started = []
    for number, args in enumerate(runs):
        process = processes("ingest_dsr", *args, app_name=f"racer-{number}")
        pause_in_copy(conn, process, f"racer-{number}")
        started.append(process)
    for process in started:
        resume(process)
    return [finish(process) for process in started]


def messages(results) -> list[str]:
    """What each process said about its file, without the line counts, in a stable order."""
    said = [line for code, out, err in results for line in (out + err).splitlines() if not line.startswith((" ", "{"))]
    return sorted(said)


def test_the_same_file_twice_at_once_is_ingested_once_and_skipped_once(tmp_path, processes):
    path = str(write_big_dsr(tmp_path / BIG))

    with observer() as conn:
        results = ingest_side_by_side(processes, conn, (path,), (path,))

        dsr = DSR.objects.get()
        assert [code for code, out, err in results] == [0, 0]
        assert messages(results) == [
            f"{path}: ingested as DSR {dsr.id}",
            f"{path}: skipped, this file is already ingested as DSR {dsr.id}",
        ]
        assert (dsr.status, dsr.lines_stored) == ("ingested", BIG_FILE_LINES)
        assert usage_tables(conn) == [f"dsrs_usage_{dsr.id}"]


def test_two_files_of_one_report_at_once_ingest_one_and_refuse_the_other(tmp_path, processes):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = (
        str(write_big_dsr(tmp_path / "a" / BIG)),
        str(write_big_dsr(tmp_path / "b" / BIG, BIG_FILE_LINES + 1)),
    )

    with observer() as conn:
        results = ingest_side_by_side(processes, conn, (first,), (second,))

        dsr = DSR.objects.get()
        loser = second if dsr.path == first else first
        assert sorted(code for code, out, err in results) == [0, 1]
        assert messages(results) == sorted(
            [
                f"{dsr.path}: ingested as DSR {dsr.id}",
                f"{loser}: DSR {dsr.id} ({dsr.path}) already reports this DSP, service, society, territory and period; "
                "to swap it for this file, ingest it with --replace",
                "CommandError: 1 of 1 files not ingested",
            ]
        )
        assert usage_tables(conn) == [f"dsrs_usage_{dsr.id}"]


def test_two_replacements_of_a_report_at_once_replace_one_after_the_other(tmp_path, write_dsr, processes):
    original = ingest_dsr(path=write_dsr(BIG, ["id1\tt\ta\ti\t1\t2"])).dsr
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = (
        str(write_big_dsr(tmp_path / "a" / BIG)),
        str(write_big_dsr(tmp_path / "b" / BIG, BIG_FILE_LINES + 1)),
    )

    with observer() as conn:
        results = ingest_side_by_side(processes, conn, ("--replace", first), ("--replace", second))

        last = DSR.objects.get()
        assert [code for code, out, err in results] == [0, 0]
        replacements = {
            int(new): int(old)
            for new, old in (
                re.fullmatch(r".*: ingested as DSR (\d+), replacing DSR (\d+)", line).groups()
                for line in messages(results)
            )
        }
        [earlier] = set(replacements) - {last.id}
        assert replacements == {earlier: original.id, last.id: earlier}  # as if one had run after the other
        assert (last.status, last.lines_stored) == (
            "ingested",
            BIG_FILE_LINES if last.path == first else BIG_FILE_LINES + 1,
        )
        assert usage_tables(conn) == [f"dsrs_usage_{last.id}"]
