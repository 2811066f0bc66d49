"""Imports ingested by real `ingest_worker` processes on the test database: uploaded through the
API, queued, run, and what happens with the same file twice, a worker killed mid-job, and two
workers at once."""

import os
import signal
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from dsrs.ingest.service import file_sha256
from dsrs.models import DSR, Import
from dsrs.tests.support.database import usage_partitions
from dsrs.tests.support.processes import observer, pause_in_copy, resume, session_query, wait_until
from dsrs.tests.support.uploads import dsr_bytes, upload
from dsrs.tests.support.users import user_with_token

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committing_imports")]

ES_JANUARY = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"
GB_JANUARY = "Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv"
# Enough lines for a worker to be seen running, caught in its COPY, and overlapping another.
BIG = 300_000


@pytest.fixture
def uploader() -> str:
    # Not pytest-django's django_user_model: it would put the test inside a transaction.
    return user_with_token(get_user_model(), "uploader", "add_import")


@pytest.fixture
def start_worker(processes, imports_storage):
    def start(app_name: str):
        return processes("ingest_worker", app_name=app_name, extra_env={"IMPORTS_STORAGE_DIR": str(imports_storage)})

    return start


def state(import_id: int) -> dict:
    return (
        Import.objects.filter(id=import_id)
        .values("status", "lines_read", "bytes_read", "file_size", "dsr", "message")
        .get()
    )


def finished(import_id: int) -> dict | None:
    current = state(import_id)
    return current if current["status"] in Import.FINISHED else None


def idle_for(conn, app_name: str, *, seconds: float) -> bool:
    """No session of `app_name` did anything for `seconds` (its worker's heartbeats aside)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        query = session_query(conn, app_name) or ""
        if query and "procrastinate" not in query:
            return False
        time.sleep(0.05)
    return True


def workers_registered() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_workers")
        return cursor.fetchone()[0]


def jobs() -> list[tuple]:
    """Each job's import, status and runs (procrastinate counts a run when it ends or is retried),
    once none is queued or running: a worker tells the queue a job is done after the import is."""

    def settled():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (args->>'import_id')::bigint, status, attempts FROM procrastinate_jobs "
                "WHERE task_name = 'ingest_import' ORDER BY id"
            )
            rows = cursor.fetchall()
        return rows if all(status not in ("todo", "doing") for _, status, _ in rows) else None

    return wait_until(settled, what="the jobs to end")


def test_an_upload_is_queued_then_run_by_a_worker_with_its_progress_then_ingested(
    client, uploader, start_worker, imports_storage
):
    content = dsr_bytes(BIG)
    created = upload(client, uploader, ES_JANUARY, content).json()
    assert created["status"] == "queued"

    start_worker("worker-a")
    running = wait_until(
        lambda: (s := state(created["id"]))["status"] == "running" and s["lines_read"] > 0 and s,
        what="the import running",
    )
    done = wait_until(lambda: finished(created["id"]), timeout=60, what="the import finished")

    dsr = DSR.objects.get()
    assert 0 < running["bytes_read"] < running["file_size"] == len(content)
    assert done == {
        "status": "ingested",
        "lines_read": BIG,
        "bytes_read": len(content),
        "file_size": len(content),
        "dsr": dsr.id,
        "message": f"ingested as DSR {dsr.id}",
    }
    assert (dsr.status, dsr.lines_stored) == ("ingested", BIG)
    polled = client.get(f"/imports/{created['id']}", headers={"Authorization": uploader}).json()
    assert (polled["status"], polled["dsr"], polled["started_at"] is not None, polled["finished_at"] is not None) == (
        "ingested",
        dsr.id,
        True,
        True,
    )
    assert [d["id"] for d in client.get("/dsrs/").json()] == [dsr.id]
    assert jobs() == [(created["id"], "succeeded", 1)]


def test_the_same_file_twice_is_ingested_once_and_a_bad_file_fails_without_a_retry(client, uploader, start_worker):
    first = upload(client, uploader, ES_JANUARY, dsr_bytes(10)).json()
    again = upload(client, uploader, ES_JANUARY, dsr_bytes(10)).json()
    bad = upload(client, uploader, GB_JANUARY, b"no header\n").json()

    start_worker("worker-a")
    outcomes = [wait_until(lambda i=i: finished(i["id"]), what="the imports finished") for i in (first, again, bad)]

    dsr = DSR.objects.get(status="ingested")
    failed = DSR.objects.get(status="failed")
    assert [(o["status"], o["dsr"]) for o in outcomes] == [
        ("ingested", dsr.id),
        ("skipped", dsr.id),
        ("failed", failed.id),
    ]
    assert outcomes[1]["message"] == f"skipped, this file is already ingested as DSR {dsr.id}"
    assert outcomes[2]["message"].startswith("line 1: expected the header")
    assert jobs() == [(first["id"], "succeeded", 1), (again["id"], "succeeded", 1), (bad["id"], "succeeded", 1)]


def test_the_job_of_a_worker_killed_mid_ingestion_is_run_again_by_another_within_a_minute(
    client, uploader, start_worker, imports_storage
):
    content = dsr_bytes(BIG)
    killed = start_worker("worker-killed")
    wait_until(lambda: workers_registered() == 1, what="the first worker")
    created = upload(client, uploader, ES_JANUARY, content).json()
    with observer() as watching:
        pause_in_copy(watching, killed, "worker-killed")
    os.kill(killed.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert state(created["id"])["status"] == "running"

    start_worker("worker-rescuer")
    done = wait_until(lambda: finished(created["id"]), timeout=60, what="the import run again")
    recovered_in = time.monotonic() - killed_at

    dsr = DSR.objects.get()
    assert recovered_in < 60
    assert (done["status"], done["dsr"], done["lines_read"]) == ("ingested", dsr.id, BIG)
    assert (dsr.sha256, dsr.lines_stored) == (file_sha256(imports_storage / str(created["id"]) / ES_JANUARY), BIG)
    assert usage_partitions() == [f"dsrs_usage_{dsr.id}"]  # the killed load left nothing
    assert jobs() == [(created["id"], "succeeded", 2)]  # two runs


def test_a_frozen_worker_whose_job_another_took_over_ingests_once_and_the_other_run_waits_for_it(
    client, uploader, start_worker
):
    frozen = start_worker("worker-frozen")
    wait_until(lambda: workers_registered() == 1, what="the first worker")
    created = upload(client, uploader, ES_JANUARY, dsr_bytes(BIG)).json()
    with observer() as watching:
        pause_in_copy(watching, frozen, "worker-frozen")  # alive, its heartbeat stalled
    start_worker("worker-second")

    def taken_over() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT status FROM procrastinate_jobs WHERE task_name = 'ingest_import'")
            (status,) = cursor.fetchone()
        return state(created["id"])["message"] == "its worker stopped responding: queued again" and status == "doing"

    wait_until(taken_over, timeout=60, what="the second worker to take the job")
    time.sleep(3)  # unfenced, the second run would load the file and commit it meanwhile
    resume(frozen)
    with observer() as watching:
        # The first run goes on to its end: its commit, or finding the file ingested by the other.
        wait_until(lambda: idle_for(watching, "worker-frozen", seconds=2), timeout=60, what="the first run to end")
    done = wait_until(lambda: finished(created["id"]), timeout=60, what="the import to end")

    dsr = DSR.objects.get()
    assert (done["status"], done["dsr"], done["lines_read"]) == ("ingested", dsr.id, BIG)
    assert usage_partitions() == [f"dsrs_usage_{dsr.id}"]
    assert [status for _, status, _ in jobs()] == ["succeeded"]


def test_a_connection_lost_mid_load_is_tried_again_after_a_wait_and_ends_ingested(client, uploader, start_worker):
    worker = start_worker("worker-a")
    wait_until(lambda: workers_registered() == 1, what="the worker")
    created = upload(client, uploader, ES_JANUARY, dsr_bytes(BIG)).json()
    with observer() as watching:
        pause_in_copy(watching, worker, "worker-a")
        watching.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'worker-a' AND query "
            "LIKE 'COPY%%'"
        )
    resume(worker)

    queued_again = wait_until(
        lambda: (s := state(created["id"]))["status"] == "queued" and s, what="the import queued again"
    )
    queued_at = time.monotonic()
    done = wait_until(lambda: finished(created["id"]), timeout=60, what="the import tried again")
    waited = time.monotonic() - queued_at

    failed, ingested = DSR.objects.order_by("id")
    # psycopg words the lost connection by the call that finds it closed, which depends on timing.
    lost = ("sending copy data failed: server closed the connection unexpectedly", "connection socket closed")
    assert queued_again["message"] in [f"database error: {reason}; tried again later" for reason in lost]
    assert (failed.status, ingested.status, done["status"], done["dsr"]) == (
        "failed",
        "ingested",
        "ingested",
        ingested.id,
    )
    assert waited > 2.5  # the first retry waits 3 s
    assert jobs() == [(created["id"], "succeeded", 2)]


def test_two_workers_ingest_two_files_at_the_same_time(client, uploader, start_worker):
    start_worker("worker-a"), start_worker("worker-b")
    wait_until(lambda: workers_registered() == 2, what="both workers")

    with observer() as watching:
        # Holding the ingestions' turn to commit: neither finishes before both have started, however
        # fast the first file loads while the second is uploaded.
        watching.execute("SELECT pg_advisory_lock(hashtextextended('dsrs ingestion commit', 0))")
        ids = [
            upload(client, uploader, name, dsr_bytes(BIG, first=n)).json()["id"]
            for n, name in enumerate((ES_JANUARY, GB_JANUARY))
        ]
        wait_until(
            lambda: Import.objects.filter(id__in=ids, status="running").count() == 2, what="both imports running"
        )
        watching.execute("SELECT pg_advisory_unlock(hashtextextended('dsrs ingestion commit', 0))")
    for import_id in ids:
        wait_until(lambda import_id=import_id: finished(import_id), timeout=60, what="the imports finished")

    es, gb = Import.objects.filter(id__in=ids).order_by("id")
    assert (es.status, gb.status, DSR.objects.filter(status="ingested").count()) == ("ingested", "ingested", 2)
    assert es.started_at < gb.finished_at and gb.started_at < es.finished_at  # they overlapped
