"""Copies written while their DSR's lines are loaded, from the very COPY text the load sends, in
the form COLUMNAR_FORMAT says:
- text: each chunk that goes to PostgreSQL is also written to the copy, which DuckDB parses at
  each cold query (dsrs.storage.columnar.copy_text). It costs the ingestion next to nothing;
- parquet: each chunk also goes to a child process (to_parquet.py, beside this module) that encodes the
  lines as Parquet with DuckDB, on the core the ingestion leaves idle: CPU that the load needs on
  two cores, for cold queries about twice as fast (docs/performance.md).
Either way the copy holds the bytes PostgreSQL parsed, and is published only once they are
committed (dsrs.storage.columnar). A copy that cannot be written (a full disk, an I/O error, a
line the Parquet writer cannot round exactly) costs the ingestion nothing: it is read back from
PostgreSQL after the commit instead. A DSRF file of several reports sends its DSRs' lines
interleaved: their copies are read back too. Whatever is not published when the ingestion is
over, committed or not, is removed.
"""

import contextlib
import fcntl
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from dsrs.models import DSR
from dsrs.storage.columnar.copy_text import DSRF_TEXT, PARQUET, TEXT
from dsrs.storage.columnar.paths import new_name, scratch_folder

logger = logging.getLogger(__name__)

WRITER = Path(__file__).with_name("to_parquet.py")
# The writer imports copy_text beside it, which imports dsrs.money: the project on its path.
PROJECT_ROOT = Path(__file__).resolve().parents[3]
# The writer's DuckDB: CSV buffers and a row group at a time; it spills beyond.
WRITER_MEMORY_LIMIT = "128MB"
# A pipe of 1 MiB (Linux's default maximum) instead of 64 KiB: the writer and the load each run at
# their own pace for longer, instead of taking turns at every chunk.
PIPE_BYTES = 1 << 20
# The writer takes its lines in bursts: DuckDB reads 8 MiB, then parses them and writes a row group
# while nothing drains the pipe. The load hands its chunks to a thread that waits on the pipe for it
# (the load no longer waits for the bursts), with up to this many chunks (64 MiB) between them.
QUEUED_CHUNKS = 1024
# Once the lines are all sent, the writer only writes its last row group: far less than this.
FINISH_TIMEOUT_SECONDS = 600


class _End:
    pass


@dataclass
class _Writer:
    process: subprocess.Popen
    scratch: Path
    output: Path
    # Chunks on their way to the writer's pipe, sent by a thread of their own.
    chunks: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=QUEUED_CHUNKS))
    sender: threading.Thread | None = None
    failure: str = ""

    def send_chunks(self) -> None:
        while (chunk := self.chunks.get()) is not _End:
            if not self.failure:
                try:
                    self.process.stdin.write(chunk)
                except OSError as error:  # the writer stopped: its reason is in its errors
                    self.failure = str(error)
        try:
            self.process.stdin.close()
        except OSError as error:
            self.failure = self.failure or str(error)


@dataclass
class _Text:
    scratch: Path
    path: Path
    complete: bool = False


class StreamedCopies:
    """The copies being written for the DSRs of one ingestion: a text file, or a Parquet writer
    process, each."""

    def __init__(self) -> None:
        self._texts: dict[int, _Text] = {}
        self._writers: dict[int, _Writer] = {}

    def feeding(self, dsrs: list[DSR], chunks: Iterable[bytes], *, led_by_dsr_id: bool = False) -> Iterator[bytes]:
        """`chunks`, each also written to the copy of `dsrs`' lines: COPY text of one DSR's lines,
        or, `led_by_dsr_id`, of DSRs' lines each led by its DSR's id (a DSRF file's). Several
        DSRs' copies are read back instead: DuckDB's Parquet write of one file per DSR
        (PARTITION_BY) needed several times the writer's memory limit, and failed within it."""
        if not settings.COLUMNAR_COPIES or len(dsrs) > 1:
            yield from chunks
        elif settings.COLUMNAR_FORMAT == "text":
            yield from self._writing_text(dsrs[0], chunks, led_by_dsr_id)
        else:
            writer = self._start(dsrs[0], led_by_dsr_id)
            for chunk in chunks:
                writer.chunks.put(chunk)
                yield chunk
            writer.chunks.put(_End)  # and the writer's pipe is closed once the rest is sent

    def _writing_text(self, dsr: DSR, chunks: Iterable[bytes], led_by_dsr_id: bool) -> Iterator[bytes]:
        """`chunks`, each also written to the text copy. A copy that cannot be written (a full
        disk, an I/O error) is given up and the load goes on: it is read back after the commit."""
        copy = None
        try:
            scratch = scratch_folder()
            text = self._texts[dsr.id] = _Text(
                scratch, scratch / new_name(dsr.id, DSRF_TEXT if led_by_dsr_id else TEXT)
            )
            # Unbuffered: each chunk is written whole, so closing the file has nothing left to fail.
            copy = open(text.path, "wb", buffering=0)  # noqa: SIM115 (closed below, or when given up)
        except OSError as error:
            self._give_up(dsr, error)
        try:
            for chunk in chunks:
                if copy is not None:
                    try:
                        copy.write(chunk)
                    except OSError as error:
                        copy.close()
                        copy = None
                        self._give_up(dsr, error)
                yield chunk
        finally:
            if copy is not None:
                copy.close()
        if copy is not None:
            self._texts[dsr.id].complete = True

    def _give_up(self, dsr: DSR, error: OSError) -> None:
        logger.warning("DSR %s: copy not written with its lines (%s); read back from PostgreSQL", dsr.id, error)
        if (text := self._texts.pop(dsr.id, None)) is not None:
            shutil.rmtree(text.scratch, ignore_errors=True)

    def finished(self, dsr: DSR) -> Path | None:
        """The copy written for `dsr`, under its name, once all its lines were sent; None when
        there is none."""
        if (text := self._texts.get(dsr.id)) is not None:
            return text.path if text.complete else None
        writer = self._writers.get(dsr.id)
        if writer is None:
            return None
        writer.sender.join()
        try:
            returncode = writer.process.wait(timeout=FINISH_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            writer.process.kill()
            returncode = writer.process.wait()
        if returncode != 0 or writer.failure or not writer.output.exists():
            errors = (writer.scratch / "errors").read_text(errors="replace").strip()
            logger.info(
                "DSR %s: copy not written with its lines (%s); read back from PostgreSQL",
                dsr.id,
                errors or writer.failure or f"exit status {returncode}",
            )
            return None
        named = writer.scratch / new_name(dsr.id, PARQUET)
        writer.output.rename(named)
        return named

    def discard(self) -> None:
        """Stop every writer and remove what is left of each copy (a published copy was moved)."""
        for text in self._texts.values():
            shutil.rmtree(text.scratch, ignore_errors=True)
        self._texts.clear()
        for writer in self._writers.values():
            if writer.process.poll() is None:
                writer.process.kill()
            writer.process.wait()
            if writer.sender.is_alive():
                writer.chunks.put(_End)  # a killed writer's pipe takes nothing: the rest goes fast
                writer.sender.join()
            shutil.rmtree(writer.scratch, ignore_errors=True)
        self._writers.clear()

    def _start(self, dsr: DSR, led_by_dsr_id: bool) -> _Writer:
        scratch = scratch_folder()
        output = scratch / "lines.parquet"
        arguments = [str(output), WRITER_MEMORY_LIMIT, str(dsr.eur_rate)] + (
            ["--led-by-dsr-id"] if led_by_dsr_id else []
        )
        with open(scratch / "errors", "wb") as errors:
            process = subprocess.Popen(
                [sys.executable, str(WRITER), *arguments],
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
                },
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                # Its own session: a Ctrl-C to the ingestion is for the ingestion to handle, which
                # stops the writer itself.
                start_new_session=True,
            )
        with contextlib.suppress(OSError):  # a smaller pipe only makes the two take turns more often
            fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        writer = self._writers[dsr.id] = _Writer(process, scratch, output)
        writer.sender = threading.Thread(target=writer.send_chunks, name="dsr-columnar-copy", daemon=True)
        writer.sender.start()
        return writer


@contextmanager
def streamed_copies() -> Iterator[StreamedCopies]:
    copies = StreamedCopies()
    try:
        yield copies
    finally:
        copies.discard()
