"""The ingestion service: one DSR file in, its DSR with its usage lines stored, or nothing.

`ingest_dsr` is what the ingest_dsr command (and anything else) calls. The file's format is told
from its content (dsrs.formats.detect), and the DSRs it makes from its name or prelude
(dsrs.ingest.reports): the project's TSV makes one DSR; a DDEX DSRF file one per (territory,
currency) of its summary records. A file is streamed in bounded chunks through three threads:
read (gunzip) and validate (dsrs.formats.tsv, or the DSRF reader), COPY (dsrs.storage.partitions)
in the calling thread, so memory does not grow with the file.
The lines, the DSRs and their `ingested` status become visible in one commit; on any failure the
transaction rolls back and only `failed` DSR rows are recorded.
"""

import enum
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
from django.db import DatabaseError, OperationalError, connection, transaction

from dsrs.ecb.rates import RateError, mean_ecb_rate
from dsrs.formats import dsrf
from dsrs.formats.blocks import FileFailure, read_blocks
from dsrs.formats.detect import Format, detect_format
from dsrs.formats.limits import input_limits
from dsrs.formats.usage_lines import LineCounts
from dsrs.ingest.interrupts import interruptible
from dsrs.ingest.pipeline import in_thread
from dsrs.ingest.reports import FileReports, Refused, dsrf_reports, tsv_report
from dsrs.models import DSR
from dsrs.storage import columnar, partitions
from dsrs.storage.columnar import jobs
from dsrs.storage.deletion import delete_dsr

# The logger's name is what log collectors filter the per-file records on: it stays the one it had
# before the service moved here.
logger = logging.getLogger("dsrs.ingestion")

# More read-ahead only lets the reading threads take the GIL from the COPY thread more often.
READ_AHEAD_CHUNKS = 4


class Outcome(enum.StrEnum):
    INGESTED = "ingested"
    SKIPPED = "skipped"  # this very file is already ingested
    FAILED = "failed"  # recorded as a failed DSR
    REFUSED = "refused"  # nothing recorded: bad name, unknown code, or a report already ingested


class Remedy(enum.StrEnum):
    """What the caller can do about a file refused or failed for this reason, in the words of its
    own interface (an option of ingest_dsr, a field of POST /imports/)."""

    REPLACE = "replace"  # the file's report is ingested: this file can replace it
    EUR_RATE = "eur_rate"  # the ECB has no rate for it: a rate can be given


@dataclass
class Progress:
    lines: int
    bytes_read: int  # of the file as stored (compressed for .gz)
    file_size: int
    seconds: float


@dataclass
class IngestResult:
    path: Path
    outcome: Outcome
    message: str
    dsr: DSR | None = None
    lines_read: int = 0
    lines_stored: int = 0
    lines_rejected: int = 0
    seconds: float = 0.0
    dsrs: list[DSR] = field(default_factory=list)  # the file's DSRs, ingested or failed (dsr is the first)
    # Failed for a reason outside the file (connection lost, server shut down, deadlock): the
    # same file may well be ingested when tried again.
    transient: bool = False
    remedy: Remedy | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.INGESTED, Outcome.SKIPPED)


class IngestFailure(Exception):
    """A file-level failure: the file is not stored and a failed DSR records this message."""

    def __init__(self, message: str, *, remedy: Remedy | None = None) -> None:
        super().__init__(message)
        self.remedy = remedy


@dataclass(frozen=True)
class _Request:
    """What the caller of ingest_dsr asked for."""

    path: Path
    replace: bool
    eur_rate: Decimal | None
    on_progress: Callable[[Progress], None] | None
    in_commit: Callable[[list[DSR]], None] | None


def ingest_dsr(
    *,
    path: Path,
    replace: bool = False,
    eur_rate: Decimal | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    in_commit: Callable[[list[DSR]], None] | None = None,
) -> IngestResult:
    """Ingest the file at `path`. `replace`: swap the ingested DSRs of the same reports for this
    file's; `eur_rate`: the rate of every DSR of the file instead of the ECB's. `in_commit(dsrs)`
    runs inside the transaction that commits the ingested DSRs (a DSRF file's may be several), so
    that what it writes (an import's outcome) is committed with them, or not at all."""
    request = _Request(path=path, replace=replace, eur_rate=eur_rate, on_progress=on_progress, in_commit=in_commit)
    started = time.monotonic()
    try:
        try:
            reports = dsrf_reports(path, eur_rate=eur_rate) if detect_format(path) == Format.DSRF else tsv_report(path)
        except Refused as refusal:
            result = IngestResult(path=path, outcome=Outcome.REFUSED, message=f"{path}: {refusal}")
        else:
            result = _ingest(request, reports, started)
    except (DatabaseError, psycopg.Error) as error:  # before a failure could be recorded: the database is gone
        _drop_broken_connection()
        result = IngestResult(
            path=path,
            outcome=Outcome.FAILED,
            message=f"{path}: {_one_line(error)} (not recorded)",
            transient=_is_transient(error),
        )
    _log_result(result)
    return result


def _ingest(request: _Request, reports: FileReports, started: float) -> IngestResult:
    """What every file goes through once its DSRs are known (one for TSV, one per territory and
    currency for DSRF): skip or refuse it, choose the EUR rates, load its lines with the copies of
    the lines they stream (dsrs.storage.columnar.streamed), and commit them all at once, or record
    each DSR as failed."""
    path, dsrs = request.path, reports.dsrs
    replaced = []
    try:
        with interruptible():
            sha256 = file_sha256(path)
            for dsr in dsrs:
                dsr.sha256 = sha256
            if (done := _already_done(request, dsrs, sha256)) is not None:
                return done
            for dsr in dsrs:
                dsr.eur_rate, dsr.eur_rate_source = _eur_rate(dsr, request.eur_rate)
        for dsr in dsrs:
            dsr.id = partitions.next_dsr_id()
        # What an ingestion killed mid-write left of its copy goes now, not an hour later.
        columnar.remove_abandoned_writes()
        with columnar.streamed_copies() as streamed, transaction.atomic(), interruptible():
            partitions.commit_durably()
            _load(request, reports, streamed)
            reports.counts.check_acceptable()
            # Another process may have committed this file or this report during the load:
            # decide again, one ingestion at a time, as if it had run before this one.
            partitions.take_turn_to_commit()
            if (done := _already_done(request, dsrs, sha256)) is not None:
                transaction.set_rollback(True)
                return done
            if request.replace:
                replaced = [report for dsr in dsrs if (report := _ingested_report(dsr)) is not None]
                for report in replaced:
                    delete_dsr(report)
            for dsr, tally in zip(dsrs, reports.tallies, strict=True):
                _fill_counts(dsr, tally)
                dsr.status = DSR.Status.INGESTED
                dsr.save(force_insert=True)
                partitions.attach_partition(dsr.id)
            if request.in_commit is not None:
                request.in_commit(dsrs)
            jobs.queue_segments(dsrs)
            # Named in the DSRs' rows, or read from their lines by other connections: once the
            # commit is done.
            transaction.on_commit(lambda: columnar.write_copies(dsrs, streamed))
            # Leaving the block commits: a signal from here on waits for the command to stop.
    except (IngestFailure, FileFailure, dsrf.DsrfError, DatabaseError, psycopg.Error, OSError) as error:
        # Django wraps the errors of execute(), not those raised inside cursor.copy(): psycopg's own.
        failure = f"{path}: {_one_line(error)}"
        recorded = [_record_failure(dsr, tally, failure) for dsr, tally in zip(dsrs, reports.tallies, strict=True)]
        return IngestResult(
            path=path,
            outcome=Outcome.FAILED,
            message=next((message for message in recorded if message != failure), failure),
            remedy=error.remedy if isinstance(error, IngestFailure) else None,
            dsr=dsrs[0],
            dsrs=dsrs,
            lines_read=reports.counts.lines_read,
            lines_rejected=reports.counts.lines_rejected,
            seconds=time.monotonic() - started,
            transient=_is_transient(error),
        )
    replacing = f", replacing DSR {', '.join(str(report.id) for report in replaced)}" if replaced else ""
    return IngestResult(
        path=path,
        outcome=Outcome.INGESTED,
        message=f"{path}: ingested as DSR {reports.described()}{replacing}",
        dsr=dsrs[0],
        dsrs=dsrs,
        lines_read=reports.counts.lines_read,
        lines_stored=reports.counts.lines_stored,
        lines_rejected=reports.counts.lines_rejected,
        seconds=time.monotonic() - started,
    )


def _load(request: _Request, reports: FileReports, streamed: columnar.StreamedCopies) -> None:
    """Stream the file's blocks through its reader and hand their COPY text to its partitions,
    counting the lines in `reports.counts`. However it ends, the reading threads are joined before
    this returns or raises."""
    started = time.monotonic()
    counts, on_progress = reports.counts, request.on_progress
    file_size = request.path.stat().st_size
    limits = input_limits(file_size=file_size, gzipped=reports.gzipped)
    with (
        open(request.path, "rb") as raw,
        in_thread(
            read_blocks(raw, gzipped=reports.gzipped, limits=limits), name="dsr-read", ahead=READ_AHEAD_CHUNKS
        ) as blocks,
        in_thread(reports.read(blocks), name="dsr-validate", ahead=READ_AHEAD_CHUNKS) as chunks,
    ):

        def report_progress() -> None:
            on_progress(Progress(counts.lines_read, counts.bytes_read, file_size, time.monotonic() - started))

        reports.store(streamed, counts.taking(chunks, report_progress if on_progress else None, limits=limits))


def _fill_counts(dsr: DSR, counts: LineCounts | dsrf.Tally) -> None:
    dsr.lines_read, dsr.lines_stored, dsr.lines_rejected = counts.lines_read, counts.lines_stored, counts.lines_rejected
    dsr.rejections = [{"line": r.line, "reason": r.reason} for r in counts.rejections]


def _log_result(result: IngestResult) -> None:
    """One structured record per file (JSON on stdout with the project's logging settings)."""
    logger.log(
        logging.INFO if result.ok else logging.WARNING,
        result.message,
        extra={
            "path": str(result.path),
            "outcome": str(result.outcome),
            "dsr_id": result.dsr.id if result.dsr else None,
            "lines_read": result.lines_read,
            "lines_stored": result.lines_stored,
            "lines_rejected": result.lines_rejected,
            "seconds": round(result.seconds, 3),
        },
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _already_done(request: _Request, dsrs: list[DSR], sha256: str) -> IngestResult | None:
    """Skipped when this very file is ingested; refused when one of its reports is, unless the
    request is to replace it."""
    path = request.path
    duplicate = DSR.objects.filter(sha256=sha256, status=DSR.Status.INGESTED).first()
    if duplicate is not None:
        return IngestResult(
            path=path,
            outcome=Outcome.SKIPPED,
            message=f"{path}: skipped, this file is already ingested as DSR {duplicate.id}",
            dsr=duplicate,
        )
    previous = next((report for dsr in dsrs if (report := _ingested_report(dsr)) is not None), None)
    if previous is not None and not request.replace:
        return IngestResult(
            path=path,
            outcome=Outcome.REFUSED,
            message=f"{path}: DSR {previous.id} ({previous.path}) already reports this DSP, service, society, "
            "territory and period",
            remedy=Remedy.REPLACE,
        )
    return None


def _ingested_report(dsr: DSR) -> DSR | None:
    """The ingested DSR of the same report as `dsr` (not yet saved)."""
    return DSR.objects.filter(
        status=DSR.Status.INGESTED,
        dsp=dsr.dsp,
        service=dsr.service,
        society=dsr.society,
        territory_id=dsr.territory_id,
        period_start=dsr.period_start,
        period_end=dsr.period_end,
    ).first()


def _eur_rate(dsr: DSR, override: Decimal | None) -> tuple[Decimal, str]:
    if override is not None:
        return override, DSR.RateSource.OVERRIDE
    try:
        return mean_ecb_rate(dsr.currency_id, dsr.period_start, dsr.period_end), DSR.RateSource.ECB
    except RateError as error:
        raise IngestFailure(str(error), remedy=Remedy.EUR_RATE) from None


def _one_line(error: Exception) -> str:
    """The reason alone: database errors carry CONTEXT and HINT lines after it."""
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return f"database error: {reason}" if isinstance(error, (DatabaseError, psycopg.Error)) else reason


def _is_transient(error: Exception) -> bool:
    # OperationalError is PostgreSQL's word for what is outside the statement: a lost connection,
    # a shutdown, a deadlock or serialization failure, a cancelled query, a full disk.
    return isinstance(error, (OperationalError, psycopg.OperationalError))


def _drop_broken_connection() -> None:
    # A lost connection stays broken inside Django until closed; the next query reconnects.
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def _record_failure(dsr: DSR, counts: LineCounts | dsrf.Tally, message: str) -> str:
    """Record the failed DSR; the message, saying so when even that failed (database gone)."""
    dsr.status = DSR.Status.FAILED
    dsr.error = message
    _fill_counts(dsr, counts)
    dsr.lines_stored = 0  # the valid lines read were rolled back with the rest
    _drop_broken_connection()
    try:
        with transaction.atomic():
            partitions.commit_durably()
            if dsr.id is None:  # failed before drawing an id for the partition
                dsr.id = partitions.next_dsr_id()
            dsr.save(force_insert=True)
    except DatabaseError as error:
        _drop_broken_connection()
        dsr.id = None
        return f"{message} (not recorded: {_one_line(error)})"
    return message
