"""The imports services in-process: a job's run and its outcome, transient failures tried again,
re-queueing, the file handed to ingestion, and `ingest_dsr --enqueue`."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone
from procrastinate.jobs import Job

from dsrs.imports import files, runs
from dsrs.imports.runs import TransientFailure, run_import
from dsrs.imports.services import NotRequeueable, create_import, requeue_import
from dsrs.imports.tasks import RETRY
from dsrs.ingest.service import IngestResult, Outcome
from dsrs.models import DSR, Import
from dsrs.tests.support.dsrf_files import NAME as DSRF_NAME
from dsrs.tests.support.dsrf_files import release, resource, sale, summary, write_dsrf
from dsrs.tests.support.uploads import dsr_bytes

pytestmark = pytest.mark.usefixtures("committing_imports")

NAME = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"


def queue(content: bytes, name: str = NAME, **options) -> Import:
    return create_import(file_name=name, content=ContentFile(content), **options)


def job_statuses() -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (args->>'import_id')::bigint, status FROM procrastinate_jobs "
            "WHERE task_name = 'ingest_import' ORDER BY id"
        )
        return cursor.fetchall()


class TestRun:
    def test_an_ingested_file_records_its_dsr_lines_and_times(self):
        record = queue(dsr_bytes(3))

        run_import(import_id=record.id, last_attempt=False)

        record.refresh_from_db()
        dsr = DSR.objects.get()
        assert (record.status, record.dsr, record.message, record.lines_read) == (
            "ingested",
            dsr,
            f"ingested as DSR {dsr.id}",
            3,
        )
        assert (dsr.status, dsr.lines_stored, Path(dsr.path).name) == ("ingested", 3, NAME)
        assert record.created_at <= record.started_at <= record.finished_at

    def test_the_same_file_again_is_skipped_and_names_the_dsr(self):
        first, second = queue(dsr_bytes(3)), queue(dsr_bytes(3))

        for record in (first, second):
            run_import(import_id=record.id, last_attempt=False)

        second.refresh_from_db()
        dsr = DSR.objects.get()
        assert (second.status, second.dsr, second.message) == (
            "skipped",
            dsr,
            f"skipped, this file is already ingested as DSR {dsr.id}",
        )

    def test_another_delivery_of_the_report_is_refused_unless_it_replaces(self):
        first, refused, replacing = queue(dsr_bytes(3)), queue(dsr_bytes(4)), queue(dsr_bytes(5), replace=True)
        run_import(import_id=first.id, last_attempt=False)
        first.refresh_from_db()
        replaced_id = first.dsr_id

        for record in (refused, replacing):
            run_import(import_id=record.id, last_attempt=False)

        first.refresh_from_db(), refused.refresh_from_db(), replacing.refresh_from_db()
        dsr = DSR.objects.get()
        assert (refused.status, refused.dsr) == ("refused", None)
        assert refused.message.startswith(f"DSR {replaced_id} (")
        assert refused.message.endswith(
            "already reports this DSP, service, society, territory and period; to swap it for this file, upload it "
            "with replace=true"
        )
        assert (replacing.status, replacing.dsr, replacing.message, dsr.lines_stored) == (
            "ingested",
            dsr,
            f"ingested as DSR {dsr.id}, replacing DSR {replaced_id}",
            5,
        )
        assert first.dsr is None  # its DSR was replaced, so deleted

    def test_a_period_without_ecb_rate_fails_and_says_how_to_give_one(self):
        record = queue(dsr_bytes(3), name="Spotify_SpotifyDuo_RU_RUB_20230101-20230131.tsv")

        run_import(import_id=record.id, last_attempt=False)

        record.refresh_from_db()
        assert (record.status, record.message) == (
            "failed",
            "no ECB rate for RUB published between 2023-01-01 and 2023-01-31; give one with eur_rate",
        )

    def test_a_dsrf_file_of_two_territories_records_its_first_dsr_and_names_both(self, tmp_path):
        path = write_dsrf(
            tmp_path,
            [
                summary("S1", "ES", "EUR", 3, "30"),
                summary("S2", "GB", "GBP", 4, "8"),
                release("B1"),
                resource("B1", "RS1", "id1", "ISRC1", "Song", "Ana"),
                sale("B1", "S1", "RS1", 3),
                sale("B1", "S2", "RS1", 4),
            ],
            name=DSRF_NAME.replace("_ES_", "__"),
        )
        record = queue(path.read_bytes(), path.name)

        run_import(import_id=record.id, last_attempt=False)

        record.refresh_from_db()
        spain, britain = DSR.objects.order_by("id")
        assert (record.status, record.dsr, record.lines_read) == ("ingested", spain, 2)
        assert record.message == f"ingested as DSR {spain.id} (ES EUR), {britain.id} (GB GBP)"
        assert record.bytes_read == record.file_size == path.stat().st_size

    def test_a_bad_file_fails_with_the_reason_and_is_not_tried_again(self):
        record = queue(b"not a header\n")

        run_import(import_id=record.id, last_attempt=False)  # no exception: no retry

        record.refresh_from_db()
        failed = DSR.objects.get()
        assert (record.status, record.dsr, failed.status) == ("failed", failed, "failed")
        assert (
            record.message
            == "line 1: expected the header 'dsp_id title artists isrc usages revenue' (tab-separated), found 'not a header'"  # noqa: E501 (an exact value, whole)
        )

    def test_a_finished_import_is_not_run_again(self, monkeypatch):
        record = queue(dsr_bytes(3))
        run_import(import_id=record.id, last_attempt=False)
        monkeypatch.setattr("dsrs.imports.runs.ingest_dsr", lambda **kwargs: pytest.fail("ingested twice"))

        run_import(import_id=record.id, last_attempt=False)  # as after a worker died before telling the queue

        record.refresh_from_db()
        assert record.status == "ingested"


class TestTransientFailures:
    @pytest.fixture
    def database_gone(self, monkeypatch):
        def ingest(*, path, **kwargs):
            return IngestResult(
                path,
                Outcome.FAILED,
                f"{path}: database error: server closed the connection unexpectedly (not recorded)",
                transient=True,
            )

        monkeypatch.setattr("dsrs.imports.runs.ingest_dsr", ingest)

    def test_it_is_raised_for_the_job_to_be_tried_again_and_the_import_is_queued(self, database_gone):
        record = queue(dsr_bytes(3))

        with pytest.raises(TransientFailure):
            run_import(import_id=record.id, last_attempt=False)

        record.refresh_from_db()
        assert (record.status, record.message) == (
            "queued",
            "database error: server closed the connection unexpectedly (not recorded); tried again later",
        )

    def test_on_the_last_attempt_the_import_fails(self, database_gone):
        record = queue(dsr_bytes(3))

        run_import(import_id=record.id, last_attempt=True)

        record.refresh_from_db()
        assert (record.status, record.message) == (
            "failed",
            "database error: server closed the connection unexpectedly (not recorded)",
        )

    def test_a_database_error_of_the_job_itself_is_raised_and_the_import_queued(self, monkeypatch):
        record = queue(dsr_bytes(3))

        def ingest(**kwargs):
            raise OperationalError("the database system is shutting down")

        monkeypatch.setattr("dsrs.imports.runs.ingest_dsr", ingest)

        with pytest.raises(OperationalError):
            run_import(import_id=record.id, last_attempt=False)

        record.refresh_from_db()
        assert (record.status, record.message) == ("queued", "the database system is shutting down; tried again later")

    def test_a_database_error_after_the_ingested_outcome_leaves_it_and_the_next_run_does_nothing(self, monkeypatch):
        record = queue(dsr_bytes(3))
        real_ingest, real_end = runs.ingest_dsr, runs._end
        returned = []

        def ingest(**kwargs):
            returned.append(real_ingest(**kwargs))  # the DSR and the import's outcome are committed
            return returned[-1]

        def end(import_id, status, *args, **kwargs):
            if returned and status == Import.Status.INGESTED:
                raise OperationalError("server closed the connection unexpectedly")
            return real_end(import_id, status, *args, **kwargs)

        monkeypatch.setattr(runs, "ingest_dsr", ingest)
        monkeypatch.setattr(runs, "_end", end)

        with pytest.raises(OperationalError):
            run_import(import_id=record.id, last_attempt=False)
        run_import(import_id=record.id, last_attempt=False)  # the job's retry

        record.refresh_from_db()
        dsr = DSR.objects.get()
        assert (record.status, record.dsr, record.message, len(returned)) == (
            "ingested",
            dsr,
            f"ingested as DSR {dsr.id}",
            1,
        )

    @pytest.mark.parametrize(
        "exception, attempts, retried_in",
        [
            (TransientFailure("lost"), 0, 3),
            (TransientFailure("lost"), 1, 9),
            (TransientFailure("lost"), 3, 81),
            (TransientFailure("lost"), 4, None),  # the fifth attempt was the last
            (OperationalError("lost"), 0, 3),
            (ValueError("a bug"), 0, None),
        ],
    )
    def test_the_retry_strategy_backs_off_for_transient_errors_only(self, exception, attempts, retried_in):
        job = Job(id=1, queue="imports", lock=None, queueing_lock=None, task_name="ingest_import", attempts=attempts)

        decision = RETRY.get_retry_decision(exception=exception, job=job)

        assert (round((decision.retry_at - timezone.now()).total_seconds()) if decision else None) == retried_in


class TestRequeue:
    def test_a_failed_import_is_queued_again_as_a_new_job(self):
        record = queue(b"not a header\n")
        run_import(import_id=record.id, last_attempt=False)

        requeued = requeue_import(import_id=record.id)

        assert (requeued.status, requeued.message, requeued.dsr, requeued.started_at, requeued.finished_at) == (
            "queued",
            "",
            None,
            None,
            None,
        )
        assert requeued.job_id != record.job_id
        assert job_statuses() == [(record.id, "todo"), (record.id, "todo")]  # the first one ran in-process

    def test_an_import_that_did_not_fail_is_not_queued_again(self):
        record = queue(dsr_bytes(3))

        with pytest.raises(NotRequeueable, match=f"import {record.id} is queued: only a failed import is queued again"):
            requeue_import(import_id=record.id)


class TestFiles:
    def test_a_storage_without_local_paths_is_copied_under_the_same_name(self, settings):
        settings.STORAGES = {**settings.STORAGES, "imports": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
        stored_as = files.store(import_id=7, file_name=NAME, content=ContentFile(dsr_bytes(2)))

        with files.local_file(stored_as) as path:
            assert (path.name, path.read_bytes()) == (NAME, dsr_bytes(2))
        assert not path.exists()

    def test_a_local_folder_gives_its_own_path(self, imports_storage):
        stored_as = files.store(import_id=7, file_name=NAME, content=ContentFile(b"x"))

        with files.local_file(stored_as) as path:
            assert path == imports_storage / "7" / NAME


class TestEnqueueCommand:
    def test_it_queues_the_files_and_names_their_imports(self, write_dsr):
        path = write_dsr(NAME + ".gz", ["A\tT\tA\tI\t1\t1"])
        out = StringIO()

        call_command("ingest_dsr", "--enqueue", "--replace", "--eur-rate", "2", str(path), stdout=out)

        record = Import.objects.get()
        assert out.getvalue() == f"{path}: queued as import {record.id}\n"
        assert (record.file_name, record.replace, record.eur_rate, record.file_size, record.status) == (
            NAME + ".gz",
            True,
            2,
            path.stat().st_size,
            "queued",
        )
        assert job_statuses() == [(record.id, "todo")]

    def test_a_bad_name_or_a_missing_file_is_not_queued_and_the_exit_status_says_so(self, write_dsr, tmp_path):
        bad = write_dsr("report.tsv", [])
        err = StringIO()

        with pytest.raises(CommandError, match="2 of 2 files not queued"):
            call_command("ingest_dsr", "--enqueue", str(bad), str(tmp_path / NAME), stderr=err)

        assert err.getvalue().splitlines() == [
            f"{bad}: file name does not match "
            f"{{DSP}}_{{Service}}[_{{Society}}]_{{Territory}}_{{Currency}}_{{YYYYMMDD}}-{{YYYYMMDD}}.tsv[.gz] nor "
            "DSR_{SenderPartyId}_{RecipientPartyId}_{ServiceDescription}_{YYYYMMDD}--{YYYYMMDD}_{Territory}_{XofY}_{YYYYMMDDTHHMMSS}.tsv[.gz]: not queued",  # noqa: E501 (an exact value, whole)
            f"{tmp_path / NAME}: No such file or directory: not queued",
        ]
        assert (Import.objects.count(), job_statuses()) == (0, [])
