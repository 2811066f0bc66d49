"""The ingestion service: one DSR file in, one DSR with its usage lines stored, or nothing.

`ingest_dsr` is what the ingest_dsr command (and anything else) calls. A file is streamed in
bounded chunks: read (gunzip), validate (dsrs.lines), COPY (dsrs.usage_storage), so memory does
not grow with the file. The lines, the DSR row and its `ingested` status become visible in one
commit; on any failure the transaction rolls back and only a `failed` DSR row is recorded.
"""

import enum
import functools
import gzip
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from isal import igzip, isal_zlib

from dsrs import usage_storage
from dsrs.deletion import delete_dsr
from dsrs.filenames import DsrFileName, FileNameError, parse_dsr_file_name
from dsrs.lines import HeaderError, Rejection, check_header, to_copy_text
from dsrs.models import DSR, Currency, Territory
from dsrs.rates import RateError, mean_ecb_rate

logger = logging.getLogger(__name__)

# Small chunks: validating one holds the GIL (one regex call), and the COPY thread needs the GIL to
# feed the server between them. Measured on 2.5M lines: 1 MiB 3.7-4.5 s, 64 KiB 3.1-3.4 s.
CHUNK_BYTES = 64 << 10
# More read-ahead only lets the reading threads take the GIL from the COPY thread more often.
READ_AHEAD_CHUNKS = 4
REPORTED_REJECTIONS = 100


class Outcome(enum.StrEnum):
    INGESTED = "ingested"
    SKIPPED = "skipped"  # this very file is already ingested
    FAILED = "failed"  # recorded as a failed DSR
    REFUSED = "refused"  # nothing recorded: bad name, unknown code, or a report already ingested


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

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.INGESTED, Outcome.SKIPPED)


class IngestFailure(Exception):
    """A file-level failure: the file is not stored and a failed DSR records this message."""


def ingest_dsr(
    *,
    path: Path,
    replace: bool = False,
    eur_rate: Decimal | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> IngestResult:
    result = _ingest_dsr(path=path, replace=replace, eur_rate=eur_rate, on_progress=on_progress)
    _log_result(result)
    return result


def _ingest_dsr(*, path, replace, eur_rate, on_progress) -> IngestResult:
    started = time.monotonic()
    try:
        name = parse_dsr_file_name(path)
    except FileNameError as error:
        return IngestResult(path, Outcome.REFUSED, f"{path}: {error}")
    territory = Territory.objects.filter(code_2=name.territory).first()
    if territory is None:
        return IngestResult(path, Outcome.REFUSED, f"{path}: unknown territory {name.territory!r} (ISO 3166 alpha-2)")
    currency = Currency.objects.filter(code=name.currency).first()
    if currency is None:
        return IngestResult(path, Outcome.REFUSED, f"{path}: unknown currency {name.currency!r} (ISO 4217)")

    dsr = DSR(
        path=str(path),
        dsp=name.dsp,
        service=name.service,
        society=name.society,
        territory=territory,
        currency=currency,
        period_start=name.period_start,
        period_end=name.period_end,
    )
    reader = DsrReader(path, gzipped=name.gzipped, on_progress=on_progress)
    replaced = None
    try:
        dsr.sha256 = file_sha256(path)
        if (done := _already_done(path, name, dsr.sha256, replace)) is not None:
            return done
        dsr.eur_rate, dsr.eur_rate_source = _eur_rate(name, eur_rate)
        dsr.id = usage_storage.next_dsr_id()
        with transaction.atomic():
            usage_storage.commit_durably()
            usage_storage.load_partition(dsr.id, _in_thread(reader.copy_chunks(), "dsr-validate"))
            reader.check_acceptable()
            # Another process may have committed this file or this report during the load: decide
            # again, one ingestion at a time, as if it had run before this one.
            usage_storage.take_turn_to_commit()
            if (done := _already_done(path, name, dsr.sha256, replace)) is not None:
                transaction.set_rollback(True)
                return done
            replaced = _ingested_report(name) if replace else None
            if replaced is not None:
                delete_dsr(replaced)
            reader.fill_counts(dsr)
            dsr.status = DSR.Status.INGESTED
            dsr.save(force_insert=True)
            usage_storage.attach_partition(dsr.id)
    except (IngestFailure, DatabaseError, psycopg.Error, OSError) as error:
        # Django wraps the errors of execute(), not those raised inside cursor.copy(): psycopg's own.
        message = f"{path}: {_one_line(error)}"
        message = _record_failure(dsr, reader, message)
        return IngestResult(
            path, Outcome.FAILED, message, dsr, dsr.lines_read, dsr.lines_stored, dsr.lines_rejected, time.monotonic() - started
        )
    replacing = f", replacing DSR {replaced.id}" if replaced is not None else ""
    return IngestResult(
        path,
        Outcome.INGESTED,
        f"{path}: ingested as DSR {dsr.id}{replacing}",
        dsr,
        *reader.counts(),
        time.monotonic() - started,
    )


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


def _already_done(path: Path, name: DsrFileName, sha256: str, replace: bool) -> IngestResult | None:
    """Skipped when this very file is ingested; refused when its report is, unless `replace`."""
    duplicate = DSR.objects.filter(sha256=sha256, status=DSR.Status.INGESTED).first()
    if duplicate is not None:
        return IngestResult(path, Outcome.SKIPPED, f"{path}: skipped, this file is already ingested as DSR {duplicate.id}", dsr=duplicate)
    previous = _ingested_report(name)
    if previous is not None and not replace:
        return IngestResult(
            path,
            Outcome.REFUSED,
            f"{path}: DSR {previous.id} ({previous.path}) already reports this DSP, service, society, "
            f"territory and period; use --replace to swap it for this file",
        )
    return None


def _ingested_report(name: DsrFileName) -> DSR | None:
    return DSR.objects.filter(
        status=DSR.Status.INGESTED,
        dsp=name.dsp,
        service=name.service,
        society=name.society,
        territory_id=name.territory,
        period_start=name.period_start,
        period_end=name.period_end,
    ).first()


def _eur_rate(name: DsrFileName, override: Decimal | None) -> tuple[Decimal, str]:
    if override is not None:
        return override, DSR.RateSource.OVERRIDE
    try:
        return mean_ecb_rate(name.currency, name.period_start, name.period_end), DSR.RateSource.ECB
    except RateError as error:
        raise IngestFailure(f"{error}; give one with --eur-rate") from None


def _one_line(error: Exception) -> str:
    """The reason alone: database errors carry CONTEXT and HINT lines after it."""
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    return f"database error: {reason}" if isinstance(error, (DatabaseError, psycopg.Error)) else reason


def _drop_broken_connection() -> None:
    # A lost connection stays broken inside Django until closed; the next query reconnects.
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def _record_failure(dsr: DSR, reader: "DsrReader", message: str) -> str:
    """Record the failed DSR; the message, saying so when even that failed (database gone)."""
    dsr.status = DSR.Status.FAILED
    dsr.error = message
    reader.fill_counts(dsr)
    dsr.lines_stored = 0  # the valid lines read were rolled back with the rest
    _drop_broken_connection()
    try:
        with transaction.atomic():
            usage_storage.commit_durably()
            if dsr.id is None:  # failed before drawing an id for the partition
                dsr.id = usage_storage.next_dsr_id()
            dsr.save(force_insert=True)
    except DatabaseError as error:
        _drop_broken_connection()
        dsr.id = None
        return f"{message} (not recorded: {_one_line(error)})"
    return message


class DsrReader:
    """Streams a DSR file as COPY text chunks, counting and reporting rejected lines."""

    def __init__(self, path: Path, *, gzipped: bool, on_progress: Callable[[Progress], None] | None):
        self.path = path
        self.gzipped = gzipped
        self.on_progress = on_progress
        self.lines_stored = 0
        self.lines_rejected = 0
        self.rejections: list[Rejection] = []

    @property
    def lines_read(self) -> int:
        return self.lines_stored + self.lines_rejected

    def counts(self) -> tuple[int, int, int]:
        return self.lines_read, self.lines_stored, self.lines_rejected

    def fill_counts(self, dsr: DSR) -> None:
        dsr.lines_read, dsr.lines_stored, dsr.lines_rejected = self.counts()
        dsr.rejections = [{"line": r.line, "reason": r.reason} for r in self.rejections]

    def copy_chunks(self) -> Iterator[bytes]:
        started = time.monotonic()
        with open(self.path, "rb") as raw:
            file_size = raw.seek(0, 2)
            raw.seek(0)
            # ISA-L inflates 2.5x faster than zlib, for the same files and the same errors.
            stream = igzip.GzipFile(fileobj=raw, mode="rb") if self.gzipped else raw
            for chunk in self._line_chunks(stream):
                copy_text, stored, rejections = to_copy_text(chunk, first_line=self.lines_read + 2)
                self.lines_stored += stored
                self.lines_rejected += len(rejections)
                self.rejections.extend(rejections[: REPORTED_REJECTIONS - len(self.rejections)])
                yield copy_text
                if self.on_progress:
                    self.on_progress(Progress(self.lines_read, raw.tell(), file_size, time.monotonic() - started))

    def _line_chunks(self, stream) -> Iterator[bytes]:
        """Whole lines, about CHUNK_BYTES at a time, after checking the header line."""
        pending = b""
        header_checked = False
        for block in self._blocks(stream):
            if not header_checked:
                pending += block
                end = pending.find(b"\n")
                if end < 0:
                    continue
                self._check_header(pending[:end])
                block = pending[end + 1 :]
                pending = b""
                header_checked = True
            # One copy per block: the partial line held over, joined to the block's whole lines.
            cut = block.rfind(b"\n") + 1
            if cut:
                yield pending + block[:cut]
                pending = block[cut:]
            else:
                pending += block
        if not header_checked:
            self._check_header(pending)
            pending = b""
        if pending:  # the last line has no line end
            yield pending + b"\n"

    def _blocks(self, stream) -> Iterator[bytes]:
        """The file's (decompressed) bytes, read and gunzipped in a thread of their own."""
        try:
            yield from _in_thread(iter(functools.partial(stream.read, CHUNK_BYTES), b""), "dsr-read")
        except EOFError:
            raise IngestFailure(f"truncated gzip: the file ends after line {self.lines_read + 1}") from None
        except (gzip.BadGzipFile, isal_zlib.error) as error:
            raise IngestFailure(f"not a readable gzip file ({error}) after line {self.lines_read + 1}") from None

    def _check_header(self, line: bytes) -> None:
        if not line:
            raise IngestFailure("line 1: the file is empty, expected a header line")
        try:
            check_header(line.removesuffix(b"\r"))
        except HeaderError as error:
            raise IngestFailure(str(error)) from None

    def check_acceptable(self) -> None:
        """Fail the whole file when it has no valid line or too many rejected ones."""
        first = f"; first: line {self.rejections[0].line}: {self.rejections[0].reason}" if self.rejections else ""
        if self.lines_stored == 0:
            raise IngestFailure(f"no valid usage line ({self.lines_rejected} rejected{first})")
        ratio = self.lines_rejected / self.lines_read
        limit = settings.DSR_MAX_REJECTED_RATIO
        if ratio > limit:
            raise IngestFailure(
                f"{self.lines_rejected} of {self.lines_read} lines rejected ({ratio:.2%}), "
                f"more than DSR_MAX_REJECTED_RATIO ({limit:.2%}){first}"
            )


class _EndOfItems:
    pass


def _in_thread(items: Iterable, name: str) -> Iterator:
    """Iterate `items` in a thread of its own, at most READ_AHEAD_CHUNKS ahead of the consumer.

    Ingestion is a pipeline of three stages that each wait on something else: gunzip (ISA-L releases
    the GIL), line validation (holds the GIL) and COPY (waits on the socket without the GIL). Each
    stage in its own thread keeps both cores busy, and the database's, instead of running the
    stages one after the other. The bounded queue bounds the memory held between stages.
    """
    handed_over: queue.Queue = queue.Queue(maxsize=READ_AHEAD_CHUNKS)
    stop = threading.Event()

    def put(item) -> None:
        while not stop.is_set():
            try:
                handed_over.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for item in items:
                put(item)
                if stop.is_set():
                    return
            put(_EndOfItems)
        except BaseException as error:  # raised again in the consuming thread
            put(error)
        finally:
            if isinstance(items, Generator):  # stopped early: release what it holds (files, threads)
                items.close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while (item := handed_over.get()) is not _EndOfItems:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
