"""The ingest_dsr command when the database fails under it or a signal stops it: real processes,
real PostgreSQL."""

import os
import signal
import time

import pytest

from dsrs.models import DSR
from dsrs.tests.support.processes import finish, observer, pause_in_copy, resume, usage_tables, write_big_dsr

pytestmark = [pytest.mark.usefixtures("committing_db"), pytest.mark.slow]

BIG = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"
SMALL = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"


def test_a_statement_timeout_inside_copy_fails_the_file_and_the_next_file_is_ingested(tmp_path, write_dsr, processes):
    big = write_big_dsr(tmp_path / BIG)
    small = write_dsr(SMALL, ["id1\tt\ta\ti\t1\t2"])
    ingest = processes(
        "ingest_dsr", str(big), str(small), app_name="timeout", extra_env={"PGOPTIONS": "-c statement_timeout=3000"}
    )

    with observer() as conn:
        pause_in_copy(conn, ingest, "timeout")
        time.sleep(3.5)  # the COPY now waits for its data past the timeout (3 s: no other statement
        # of the command comes near it, even a commit waiting for a slow disk)
        resume(ingest)
        code, out, err = finish(ingest)

        assert code == 1
        assert err.splitlines() == [
            f"{big}: database error: canceling statement due to statement timeout",
            "CommandError: 1 of 2 files not ingested",
        ]
        failed, ingested = DSR.objects.order_by("id")
        assert (failed.status, failed.error, failed.lines_stored) == (
            "failed",
            f"{big}: database error: canceling statement due to statement timeout",
            0,
        )
        assert f"{small}: ingested as DSR {ingested.id}" in out.splitlines()
        assert (ingested.status, ingested.lines_stored) == ("ingested", 1)
        assert usage_tables(conn) == [f"dsrs_usage_{ingested.id}"]


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_copy_rolls_the_file_back_and_says_so_in_the_exit_status(
    tmp_path, write_dsr, processes, signum, status
):
    big = write_big_dsr(tmp_path / BIG)
    small = write_dsr(SMALL, ["id1\tt\ta\ti\t1\t2"])
    ingest = processes("ingest_dsr", str(big), str(small), app_name="interrupted")

    with observer() as conn:
        pause_in_copy(conn, ingest, "interrupted")
        os.kill(ingest.pid, signum)
        resume(ingest)
        code, out, err = finish(ingest)

        name = signal.Signals(signum).name
        assert (code, out) == (status, "")
        assert err.splitlines() == [
            f"{big}: interrupted by {name}, rolled back: nothing of it is stored",
            "CommandError: interrupted: 2 of 2 files not ingested",
        ]
        assert DSR.objects.count() == 0
        assert usage_tables(conn) == []
