"""Where a queued import is run: the job's work (dsrs.imports.tasks), which ingests the import's
file with the ingestion service, the same as `ingest_dsr`, and records the outcome.

The outcome of an ingested file is written in the transaction that commits the DSR, so a worker
that dies at any point leaves either the DSR with its import `ingested`, or neither.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from django.db import DatabaseError, OperationalError, connection
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone

from dsrs.imports import files
from dsrs.imports.progress import progress_writer
from dsrs.ingest.service import IngestResult, Outcome, Remedy, ingest_dsr
from dsrs.models import DSR, Import

STATUS_OF_OUTCOME = {
    Outcome.INGESTED: Import.Status.INGESTED,
    Outcome.SKIPPED: Import.Status.SKIPPED,
    Outcome.REFUSED: Import.Status.REFUSED,
    Outcome.FAILED: Import.Status.FAILED,
}

# What the client can do about a refused or failed file, in the words of POST /imports/.
REMEDIES = {
    Remedy.REPLACE: "to swap it for this file, upload it with replace=true",
    Remedy.EUR_RATE: "give one with eur_rate",
}


# How long a run waits for another run of the same import to end (see _sole_run).
SOLE_RUN_WAIT_SECONDS = 600


class TransientFailure(Exception):
    """The ingestion failed for a reason outside the file: its job is tried again later."""


def run_import(*, import_id: int, last_attempt: bool) -> None:
    """The job's work: ingest the import's file and record the outcome. A transient failure is
    raised as TransientFailure (or the database's OperationalError) for the job to be tried
    again, unless this is its `last_attempt`: then, as any other failure, it ends `failed`."""
    try:
        with _sole_run(import_id):
            _run(import_id, last_attempt)
    except (OperationalError, psycopg.OperationalError) as error:
        _end_unexpectedly(import_id, error, tried_again=not last_attempt)
        raise
    except TransientFailure:
        raise
    except Exception as error:
        _end_unexpectedly(import_id, error, tried_again=False)
        raise


@contextmanager
def _sole_run(import_id: int) -> Iterator[None]:
    """Held on this worker's database session while it runs the import. A worker frozen long
    enough for its job to be queued again is not dead: the second run waits here until the first
    ends (or its session does, when its worker dies), then finds the outcome recorded, instead of
    ingesting the same file beside it and ending `skipped` for the first run's own DSR."""
    key = f"dsr-import:{import_id}"
    waited_until = time.monotonic() + SOLE_RUN_WAIT_SECONDS
    with connection.cursor() as cursor:
        while not _locked(cursor, key):
            if time.monotonic() > waited_until:
                # Frozen for good, or still at work: the job is tried again later.
                raise TransientFailure(f"another run of import {import_id} is still going on")
            time.sleep(1)
    try:
        yield
    finally:
        # A session lost meanwhile took its lock with it.
        with suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def _locked(cursor: CursorWrapper, key: str) -> bool:
    cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
    return cursor.fetchone()[0]


def _run(import_id: int, last_attempt: bool) -> None:
    record = Import.objects.get(id=import_id)
    if record.status in Import.FINISHED:
        return  # its worker died after committing the outcome, before telling the queue
    Import.objects.filter(id=import_id).update(
        status=Import.Status.RUNNING, started_at=timezone.now(), finished_at=None, lines_read=0, bytes_read=0
    )

    def record_ingested(dsrs: list[DSR]) -> None:
        ids = ", ".join(str(dsr.id) for dsr in dsrs)
        lines_read = sum(dsr.lines_read for dsr in dsrs)
        _end(
            import_id,
            Import.Status.INGESTED,
            f"ingested as DSR {ids}",
            dsr=dsrs[0],
            lines_read=lines_read,
            read_whole=True,
        )

    with files.local_file(record.stored_as) as path, progress_writer(import_id) as on_progress:
        result = ingest_dsr(
            path=path,
            replace=record.replace,
            eur_rate=record.eur_rate,
            on_progress=on_progress,
            in_commit=record_ingested,
        )
    message = _client_message(result, path)
    if result.transient and not last_attempt:
        _end(import_id, Import.Status.QUEUED, f"{message}; tried again later", dsr=result.dsr, finished=False)
        raise TransientFailure(message)
    ingested = result.outcome == Outcome.INGESTED
    _end(
        import_id,
        STATUS_OF_OUTCOME[result.outcome],
        message,
        dsr=result.dsr,
        lines_read=result.lines_read,
        read_whole=ingested,
    )


def _client_message(result: IngestResult, path: Path) -> str:
    """The service's message without the path it starts with (the storage's, not the client's),
    with what the client can do about it in the words of POST /imports/."""
    remedy = f"; {REMEDIES[result.remedy]}" if result.remedy else ""
    return result.message.removeprefix(f"{path}: ") + remedy


def _end(
    import_id: int,
    status: str,
    message: str,
    *,
    dsr: DSR | None,
    lines_read: int | None = None,
    read_whole: bool = False,
    finished: bool = True,
    unless_finished: bool = False,
) -> None:
    fields = {"status": status, "message": message, "dsr_id": dsr.id if dsr is not None and dsr.id else None}
    if lines_read is not None:
        fields["lines_read"] = lines_read
    if read_whole:  # the progress written last may be a second old
        fields["bytes_read"] = F("file_size")
    if finished:
        fields["finished_at"] = timezone.now()
    imports = Import.objects.filter(id=import_id)
    if unless_finished:
        imports = imports.exclude(status__in=Import.FINISHED)
    imports.update(**fields)


def _end_unexpectedly(import_id: int, error: Exception, *, tried_again: bool) -> None:
    """Say why the job stopped, if the database can still be told; not over an outcome already
    recorded (an ingested import, whose last write failed)."""
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if connection.connection is not None and not connection.is_usable():
        connection.close()
    with suppress(DatabaseError):
        if tried_again:
            _end(
                import_id,
                Import.Status.QUEUED,
                f"{reason}; tried again later",
                dsr=None,
                finished=False,
                unless_finished=True,
            )
        else:
            _end(import_id, Import.Status.FAILED, reason, dsr=None, unless_finished=True)
