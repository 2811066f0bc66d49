"""Where a DSR file is read: gunzipped, cut into whole lines, validated and turned into COPY text.

Two stages that the service runs each in a thread of its own (dsrs.ingest.pipeline):
`read_blocks` reads and gunzips, `validated_chunks` checks the header, cuts whole lines and
validates them (dsrs.lines). The service counts what it takes from the last stage
(`LineCounts.taking`), so the counts are those of the lines handed to COPY, final once the
stages are joined. Memory is bounded: a few blocks between stages, and at most MAX_LINE_BYTES of
a line whose end has not been read yet; a longer line is rejected without being held whole.
"""

import gzip
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from isal import igzip, isal_zlib

from dsrs.lines import HeaderError, Rejection, check_header, to_copy_text

# Small chunks: validating one holds the GIL (one regex call), and the COPY thread needs the GIL to
# feed the server between them. Measured on 2.5M lines: 1 MiB 3.7-4.5 s, 64 KiB 3.1-3.4 s.
CHUNK_BYTES = 64 << 10
MAX_LINE_BYTES = 1 << 20
REPORTED_REJECTIONS = 100


class FileFailure(Exception):
    """The file cannot be ingested: this message says where and why."""


@dataclass(frozen=True)
class Block:
    data: bytes
    bytes_read: int  # of the file as stored (compressed for .gz), up to the end of this block


@dataclass(frozen=True)
class Chunk:
    copy_text: bytes
    stored: int
    rejections: list[Rejection]
    bytes_read: int


def read_blocks(raw: BinaryIO, *, gzipped: bool) -> Iterator[Block]:
    """The file's (decompressed) bytes, CHUNK_BYTES at a time."""
    # ISA-L inflates 2.5x faster than zlib, for the same files and the same errors.
    stream = igzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
    while data := stream.read(CHUNK_BYTES):
        yield Block(data, raw.tell())


class TooLong:
    """Stands for a line longer than MAX_LINE_BYTES among whole lines."""


def validated_chunks(blocks: Iterable[Block]) -> Iterator[Chunk]:
    """The data lines of the file, validated, about a block at a time, after checking the header
    in the first block (a first line longer than a block is no header)."""
    lines_seen = 0  # whose line end was read, the header included
    blocks = iter(read_errors_as_failures(blocks, lambda: lines_seen))
    first = next(blocks, None)
    if first is None:
        raise FileFailure("line 1: the file is empty, expected a header line")
    header_end = first.data.find(b"\n")
    _check_header(first.data if header_end < 0 else first.data[:header_end])
    lines_seen = 1
    rest = [Block(first.data[header_end + 1 :], first.bytes_read)] if 0 <= header_end < len(first.data) - 1 else []
    for lines, bytes_read in whole_lines(itertools.chain(rest, blocks)):
        if lines is TooLong:
            lines_seen += 1
            yield Chunk(b"", 0, [Rejection(lines_seen, f"longer than the limit of {MAX_LINE_BYTES:,} bytes")], bytes_read)
            continue
        copy_text, stored, rejections = to_copy_text(lines, first_line=lines_seen + 1)
        lines_seen += stored + len(rejections)
        yield Chunk(copy_text, stored, rejections, bytes_read)


def whole_lines(blocks: Iterable[Block]) -> Iterator[tuple[bytes | type[TooLong], int]]:
    """Whole lines (each ending in LF) about a block at a time, or TooLong for a line longer than
    MAX_LINE_BYTES, with the bytes read so far. Each byte is copied at most twice, whatever the
    line lengths: the start of an unfinished line is kept as a list of parts, joined once."""
    pending: list[bytes] = []  # the start of a line whose end is not read yet
    pending_bytes = 0
    skipping = False  # inside a line longer than MAX_LINE_BYTES
    bytes_read = 0
    for block in blocks:
        data, bytes_read = block.data, block.bytes_read
        first_end = data.find(b"\n")
        if first_end < 0:
            if not skipping:
                pending.append(data)
                pending_bytes += len(data)
                if pending_bytes > MAX_LINE_BYTES:
                    pending, pending_bytes, skipping = [], 0, True
            continue
        start = 0
        if skipping or pending_bytes + first_end > MAX_LINE_BYTES:
            yield TooLong, bytes_read
            pending, pending_bytes, skipping = [], 0, False
            start = first_end + 1
        cut = data.rfind(b"\n") + 1
        if start < cut:
            whole = memoryview(data)[start:cut]
            yield b"".join([*pending, whole]) if pending else bytes(whole), bytes_read
            pending, pending_bytes = [], 0
        if cut < len(data):
            pending, pending_bytes = [data[cut:]], len(data) - cut
    if skipping:
        yield TooLong, bytes_read
    elif pending:  # the last line has no line end
        yield b"".join(pending) + b"\n", bytes_read


def read_errors_as_failures(blocks: Iterable[Block], lines_seen: Callable[[], int]) -> Iterator[Block]:
    try:
        yield from blocks
    except EOFError:
        raise FileFailure(f"truncated gzip: the file ends after line {lines_seen()}" if lines_seen() else "truncated gzip: the file ends within line 1") from None
    except (gzip.BadGzipFile, isal_zlib.error) as error:
        where = f" after line {lines_seen()}" if lines_seen() else ""
        raise FileFailure(f"not a readable gzip file ({error}){where}") from None


def _check_header(line: bytes) -> None:
    if not line:
        raise FileFailure("line 1: the file is empty, expected a header line")
    try:
        check_header(line.removesuffix(b"\r"))
    except HeaderError as error:
        raise FileFailure(str(error)) from None


@dataclass
class LineCounts:
    """The lines taken from `validated_chunks`, with the first rejected ones."""

    lines_stored: int = 0
    lines_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def lines_read(self) -> int:
        return self.lines_stored + self.lines_rejected

    def taking(self, chunks: Iterable[Chunk], on_taken: Callable[[], None] | None = None) -> Iterator[bytes]:
        """The COPY text of `chunks`, each counted as it is taken; `on_taken` after each."""
        for chunk in chunks:
            self.lines_stored += chunk.stored
            self.lines_rejected += len(chunk.rejections)
            self.rejections.extend(chunk.rejections[: REPORTED_REJECTIONS - len(self.rejections)])
            self.bytes_read = chunk.bytes_read
            if chunk.copy_text:
                yield chunk.copy_text
            if on_taken:
                on_taken()

    def check_acceptable(self) -> None:
        """Fail the whole file when it has no valid line or too many rejected ones."""
        first = f"; first: line {self.rejections[0].line}: {self.rejections[0].reason}" if self.rejections else ""
        if self.lines_stored == 0:
            raise FileFailure(f"no valid usage line ({self.lines_rejected} rejected{first})")
        ratio = self.lines_rejected / self.lines_read
        limit = settings.DSR_MAX_REJECTED_RATIO
        if ratio > limit:
            raise FileFailure(
                f"{self.lines_rejected} of {self.lines_read} lines rejected ({ratio:.2%}), "
                f"more than DSR_MAX_REJECTED_RATIO ({limit:.2%}){first}"
            )
