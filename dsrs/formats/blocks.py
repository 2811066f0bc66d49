"""Where a DSR file of either format is read: gunzipped into blocks, and blocks cut into whole lines.

`read_blocks` is the first stage of the ingestion pipeline (a thread of its own); `whole_lines` is
where each format's reader (dsrs.formats.tsv, dsrs.formats.dsrf) starts in the next stage. Memory
is bounded: a few blocks between stages, and at most MAX_LINE_BYTES of a line whose end has not
been read yet; a longer line is reported as TooLong without being held whole.
"""

import gzip
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from isal import igzip, isal_zlib

from dsrs.formats.limits import InputLimits, TooLarge

# Small chunks: validating one holds the GIL (one regex call), and the COPY thread needs the GIL to
# feed the server between them (1 MiB chunks loaded measurably slower).
CHUNK_BYTES = 64 << 10
MAX_LINE_BYTES = 1 << 20


class FileFailure(Exception):
    """The file cannot be ingested: this message says where and why."""


@dataclass(frozen=True)
class Block:
    data: bytes
    bytes_read: int  # of the file as stored (compressed for .gz), up to the end of this block


def read_blocks(raw: BinaryIO, *, gzipped: bool, limits: InputLimits | None = None) -> Iterator[Block]:
    """The file's (decompressed) bytes, CHUNK_BYTES at a time; TooLarge past `limits.max_bytes`."""
    # ISA-L inflates several times faster than zlib, for the same files and the same errors.
    stream = igzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
    max_bytes = limits.max_bytes if limits else None
    decompressed = 0
    while data := stream.read(CHUNK_BYTES):
        decompressed += len(data)
        if max_bytes is not None and decompressed > max_bytes:
            raise TooLarge(limits.too_many_bytes)
        yield Block(data, raw.tell())


class TooLong:
    """Stands for a line longer than MAX_LINE_BYTES among whole lines."""


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
    except TooLarge as error:
        raise FileFailure(f"{error}, after line {lines_seen():,}") from None
    except EOFError:
        raise FileFailure(
            f"truncated gzip: the file ends after line {lines_seen()}"
            if lines_seen()
            else "truncated gzip: the file ends within line 1"
        ) from None
    except (gzip.BadGzipFile, isal_zlib.error) as error:
        where = f" after line {lines_seen()}" if lines_seen() else ""
        raise FileFailure(f"not a readable gzip file ({error}){where}") from None
