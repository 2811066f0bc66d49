"""Where imports are created and queued again: the functions that the API, ingest_dsr --enqueue
and admin call.

An import is queued in the transaction that creates it (procrastinate's jobs are rows of the same
database), so a job never runs for an import that was not committed, and no import is left
without a job. The job's work is dsrs.imports.runs.
"""

from decimal import Decimal
from pathlib import Path

from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction

from dsrs.formats.filenames import (
    DSRF_EXPECTED,
    EXPECTED,
    FILE_NAME,
    FileNameError,
    is_dsrf_file_name,
    parse_dsrf_file_name,
)
from dsrs.imports import files
from dsrs.imports.tasks import ingest_import
from dsrs.ingest.reports import recognised_file_name
from dsrs.models import Import


class NotRequeueable(Exception):
    pass


def create_import(
    *,
    file_name: str,
    content: File,
    replace: bool = False,
    eur_rate: Decimal | None = None,
    created_by: User | None = None,
) -> Import:
    """Store `content`, a DSR file named `file_name`, and queue its ingestion. FileNameError when
    the name is neither the project's (with a known territory and currency) nor a DDEX DSRF
    file's: nothing is stored."""
    lock = report_lock(file_name)
    stored_as = None
    try:
        with transaction.atomic():
            record = Import.objects.create(
                file_name=file_name, replace=replace, eur_rate=eur_rate, file_size=content.size, created_by=created_by
            )
            record.stored_as = stored_as = files.store(import_id=record.id, file_name=file_name, content=content)
            record.job_id = _enqueue(record.id, lock)
            record.save(update_fields=["stored_as", "job_id"])
    except BaseException:
        if stored_as is not None:
            files.imports_storage().delete(stored_as)
        raise
    return record


def requeue_import(*, import_id: int) -> Import:
    """Queue a failed import again (its file is kept), as a new job."""
    with transaction.atomic():
        record = Import.objects.select_for_update().get(id=import_id)
        if record.status != Import.Status.FAILED:
            raise NotRequeueable(f"import {record.id} is {record.status}: only a failed import is queued again")
        record.status = Import.Status.QUEUED
        record.message = ""
        record.dsr = None
        record.lines_read = record.bytes_read = 0
        record.started_at = record.finished_at = None
        record.job_id = _enqueue(record.id, report_lock(record.file_name))
        record.save()
    return record


def report_lock(file_name: str) -> str:
    """The job lock of the report a file name names: jobs with the same lock run one at a time,
    in the order queued. The project's names give the report as --replace and the DSR
    constraints define it (DSP, service, society, territory, period); a DSRF file's, its sender,
    recipient, service, period and territory (none for a multi-territory file), which its HEAD
    record restates. FileNameError for any other name."""
    path = Path(file_name)
    if is_dsrf_file_name(path):
        dsrf = parse_dsrf_file_name(path)
        return (
            f"dsrf-report:{dsrf.sender}/{dsrf.recipient}/{dsrf.service}/{dsrf.territory or ''}/"
            f"{dsrf.period_start:%Y%m%d}-{dsrf.period_end:%Y%m%d}"
        )
    try:
        report = recognised_file_name(path).name
    except FileNameError as error:
        if not FILE_NAME.fullmatch(path.name):  # a name of neither kind: say both
            raise FileNameError(f"file name does not match {EXPECTED} nor {DSRF_EXPECTED}") from None
        raise error
    return (
        f"dsr-report:{report.dsp}/{report.service}/{report.society or ''}/{report.territory}/"
        f"{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}"
    )


def _enqueue(import_id: int, lock: str) -> int:
    return ingest_import.configure(lock=lock).defer(import_id=import_id)
