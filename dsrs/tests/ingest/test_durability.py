"""What a crash of the database server leaves: a server of the tests' own, crashed for real."""

import os
import time

import psycopg
import pytest

from dsr_project.embedded_postgres import TUNING, reclaim_orphaned_files, start_server
from dsrs.tests.support.processes import (
    BIG_FILE_LINES,
    finish,
    observer,
    pause_in_copy,
    resume,
    session_query,
    usage_tables,
    wait_until,
    write_big_dsr,
)

pytestmark = pytest.mark.slow

NAME = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"


def test_the_embedded_server_waits_for_the_wal_flush_at_commit(scratch_server):
    with psycopg.connect(scratch_server.admin_url) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_the_embedded_server_keeps_a_quarter_of_the_machines_memory_for_its_buffers(scratch_server):
    quarter_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4 >> 20
    with psycopg.connect(scratch_server.admin_url) as conn:
        shared_buffers_mb = conn.execute(
            "SELECT setting::int8 * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()[0]
    assert shared_buffers_mb == max(512, quarter_mb)


def test_a_server_tuned_by_an_older_version_is_tuned_again_on_next_use(scratch_server):
    tuning = scratch_server.pgdata / "postgresql.dsr.conf"
    tuning.write_text(TUNING + "synchronous_commit = off\n")  # what .pgdata/ got before
    with psycopg.connect(scratch_server.admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")

        start_server(scratch_server.pgdata)

        assert tuning.read_text() == TUNING
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_a_dsr_reported_ingested_survives_a_server_crash_right_after(scratch_server, processes, tmp_path):
    """Even when the session asks for asynchronous commits, as PGOPTIONS or a server's setting can."""
    url = scratch_server.new_database()
    path = write_big_dsr(tmp_path / NAME, 100_000)
    ingest = processes(
        "ingest_dsr", str(path), url=url, app_name="durable", extra_env={"PGOPTIONS": "-c synchronous_commit=off"}
    )

    reported = next(line for line in ingest.stdout if line.startswith(f"{path}: ingested as DSR "))
    scratch_server.crash()
    finish(ingest)
    scratch_server.start()

    dsr_id = int(reported.rsplit(" ", 1)[1])
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT status, lines_stored FROM dsrs_dsr WHERE id = %s", [dsr_id]).fetchall() == [
            ("ingested", 100_000)
        ]
        assert conn.execute("SELECT count(*), sum(usages) FROM dsrs_usage").fetchone() == (100_000, sum(range(100_000)))


def test_a_server_crash_mid_copy_leaves_no_orphaned_file_and_the_failure_is_recorded(
    scratch_server, processes, tmp_path
):
    url = scratch_server.new_database()
    path = write_big_dsr(tmp_path / NAME)
    ingest = processes("ingest_dsr", str(path), url=url, app_name="crashed")
    with observer(url) as conn:
        pause_in_copy(conn, ingest, "crashed")
    time.sleep(1.5)  # what the COPY wrote so far reaches the disk, and grows older than the restart

    scratch_server.crash()
    scratch_server.start()
    resume(ingest)
    code, _out, err = finish(ingest)

    assert scratch_server.unowned_files(url) == []
    [failure, summary] = err.splitlines()
    assert failure.startswith(f"{path}: database error: ")
    assert (code, summary) == (1, "CommandError: 1 of 1 files not ingested")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT status, error FROM dsrs_dsr").fetchall() == [("failed", failure)]
        assert usage_tables(conn) == []


def test_an_ingest_killed_mid_copy_leaves_nothing_and_the_file_can_be_ingested_again(
    scratch_server, processes, tmp_path
):
    url = scratch_server.new_database()
    path = write_big_dsr(tmp_path / NAME)
    ingest = processes("ingest_dsr", str(path), url=url, app_name="killed")
    with observer(url) as conn:
        pause_in_copy(conn, ingest, "killed")
        ingest.kill()
        finish(ingest)

        wait_until(lambda: session_query(conn, "killed") is None, what="the killed ingest's session to end")
        assert conn.execute("SELECT count(*) FROM dsrs_dsr").fetchone() == (0,)
        assert usage_tables(conn) == []
        assert scratch_server.unowned_files(url) == []
        again = processes("ingest_dsr", str(path), url=url, app_name="again")
        assert finish(again)[0] == 0
        assert conn.execute("SELECT status, lines_stored FROM dsrs_dsr").fetchall() == [("ingested", BIG_FILE_LINES)]


def test_reclaiming_never_touches_the_files_of_a_transaction_still_running(scratch_server):
    url = scratch_server.new_database()
    with psycopg.connect(url) as loading:
        loading.execute(
            "CREATE TABLE being_loaded AS SELECT g, repeat('x', 100) AS filler FROM generate_series(1, 10000) g"
        )
        time.sleep(1.5)  # older than the clock margin, yet written after its transaction started

        assert reclaim_orphaned_files(scratch_server.admin_url, scratch_server.pgdata) == []

        loading.commit()
        assert loading.execute("SELECT count(*) FROM being_loaded").fetchone() == (10000,)


def test_with_the_server_down_each_file_fails_with_one_line_and_the_command_goes_on(
    scratch_server, processes, tmp_path, write_dsr
):
    url = scratch_server.new_database()
    first, second = (
        write_dsr(NAME, ["id1\tt\ta\ti\t1\t2"]),
        write_dsr("Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv", ["id1\tt\ta\ti\t1\t2"]),
    )
    scratch_server.crash()
    try:
        code, _out, err = finish(processes("ingest_dsr", str(first), str(second), url=url, app_name="no-server"))
    finally:
        scratch_server.start()

    *failures, summary = err.splitlines()
    assert (code, summary) == (1, "CommandError: 2 of 2 files not ingested")
    assert [line.split(": database error: ")[0] for line in failures] == [str(first), str(second)]
    assert all(line.endswith("(not recorded)") for line in failures)
