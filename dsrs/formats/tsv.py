"""Where a TSV DSR file is read: its header checked, its lines validated and turned into
PostgreSQL COPY text.

`validated_chunks` is the TSV reader's stage of the ingestion pipeline: it checks the header in
the first block, cuts whole lines (dsrs.formats.blocks) and validates them a chunk at a time. A
chunk whose lines are all valid (the usual case) is checked by one regular expression and
rewritten by a few bytes-level passes, all in C, so the cost per line stays far below a Python
loop. Only a chunk holding a bad line is walked line by line, to say which line is wrong and why.
"""

import itertools
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal

from dsrs.formats.blocks import MAX_LINE_BYTES, Block, FileFailure, TooLong, read_errors_as_failures, whole_lines
from dsrs.formats.usage_lines import Chunk, Rejection
from dsrs.formats.values import MAX_REVENUE_CHARS, MAX_USAGES, REVENUE, REVENUE_LIMIT, USAGES, shown

HEADER = ("dsp_id", "title", "artists", "isrc", "usages", "revenue")

# The fast path for a chunk of LF-terminated lines: first every line must hold exactly five tabs
# (one bytes.translate), then one regular expression checks the fields. Knowing the tab count lets
# text fields be matched as [^\t]*, which the regex engine scans in a tight C loop, unlike
# [^\t\n]*. The fast path accepts a subset of what line_rejection() accepts, whose bounds it
# proves by the digit counts: at most 12 usage digits; revenue with at most 15 digits before the
# point and a negative exponent if any, or in normalized scientific notation (one digit before
# the point) with an exponent up to 14. A chunk it accepts is all valid; any other is checked
# line by line.
_FAST_REVENUE = (
    rb"(?:(?:\d{1,15}(?:\.\d{0,60})?|\.\d{1,60})(?:[eE]-\d{1,3})?|\d(?:\.\d{0,60})?[eE]\+?0{0,2}(?:1[0-4]|\d))"
)
_ALL_BUT_TAB_AND_LF = bytes(byte for byte in range(256) if byte not in b"\t\n")
_LINE_SHAPE = b"\t" * (len(HEADER) - 1) + b"\n"
_VALID_LINES = re.compile(rb"(?:[^\t]+\t[^\t]*\t[^\t]*\t[^\t]*\t\d{0,12}\t" + _FAST_REVENUE + rb"?\n)*")
# Empty usages (5th field) or revenue (6th field) mean 0. In a valid line, two tabs followed by
# one tab-free field and the line end are the 4th and 5th tabs; a tab before the line end is the
# 5th.
_EMPTY_USAGES = re.compile(rb"\t\t([^\t\n]*\n)")
_EMPTY_REVENUE = re.compile(rb"\t\n")  # a regex: faster than bytes.replace for this pattern


class HeaderError(ValueError):
    pass


def check_header(line: bytes) -> None:
    """`line` is the file's first line without its line end."""
    line = line.removeprefix(b"\xef\xbb\xbf")
    try:
        names = tuple(name.strip().lower() for name in line.decode("utf-8").split("\t"))
    except UnicodeDecodeError:
        names = ()
    if names != HEADER:
        shown = line[:200].decode("utf-8", "replace")
        raise HeaderError(f"line 1: expected the header {' '.join(HEADER)!r} (tab-separated), found {shown!r}")


def line_rejection(line: bytes) -> str | None:
    """Why a data line (without its line end) is rejected, or None when it is valid."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"invalid UTF-8 at byte {error.start + 1}"
    if b"\x00" in line:
        return "contains a NUL character"
    fields = line.split(b"\t")
    if len(fields) != len(HEADER):
        return f"expected {len(HEADER)} tab-separated fields, found {len(fields)}"
    dsp_id, _title, _artists, _isrc, usages, revenue = fields
    if not dsp_id:
        return "empty dsp_id"
    if usages and not USAGES.fullmatch(usages):
        return f"usages {shown(usages)} is not an unsigned integer (digits 0-9)"
    if len(usages.lstrip(b"0")) > len(str(MAX_USAGES)):  # no int() of a million digits
        return f"usages {shown(usages)} is over the limit of {MAX_USAGES:,}"
    if len(revenue) > MAX_REVENUE_CHARS:
        return f"revenue {shown(revenue)} is longer than the limit of {MAX_REVENUE_CHARS} characters"
    if revenue and not REVENUE.fullmatch(revenue):
        return f"revenue {shown(revenue)} is not an unsigned decimal number"
    if revenue and Decimal(revenue.decode()) >= REVENUE_LIMIT:
        return f"revenue {shown(revenue)} is not below the limit of 10^15"
    return None


def to_copy_text(chunk: bytes, first_line: int) -> tuple[bytes, int, list[Rejection]]:
    """Validate a chunk of whole lines, each ending in LF or CRLF, the first being line
    `first_line` of the file.

    Returns the valid lines in COPY text format, their count, and the rejected lines.
    """
    if b"\r" in chunk:
        chunk = chunk.replace(b"\r\n", b"\n")
    lines = chunk.count(b"\n")
    if _all_valid(chunk, lines):
        valid, stored, rejections = chunk, lines, []
    else:
        valid, rejections = _split_valid(chunk, first_line)
        stored = lines - len(rejections)
    if b"\\" in valid:
        valid = valid.replace(b"\\", b"\\\\")
    if b"\r" in valid:  # a carriage return inside a field; COPY would take it for a line end
        valid = valid.replace(b"\r", b"\\r")
    valid = _EMPTY_REVENUE.sub(b"\t0\n", _EMPTY_USAGES.sub(rb"\t0\t\1", valid))
    return valid, stored, rejections


def _all_valid(chunk: bytes, lines: int) -> bool:
    if b"\x00" in chunk or chunk.translate(None, _ALL_BUT_TAB_AND_LF) != _LINE_SHAPE * lines:
        return False
    if not _VALID_LINES.fullmatch(chunk):
        return False
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _split_valid(chunk: bytes, first_line: int) -> tuple[bytes, list[Rejection]]:
    valid = []
    rejections = []
    for number, line in enumerate(chunk.split(b"\n")[:-1], start=first_line):
        reason = line_rejection(line)
        if reason is None:
            valid.append(line)
        else:
            rejections.append(Rejection(number, reason))
    return b"".join(line + b"\n" for line in valid), rejections


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
            yield Chunk(
                b"", 0, [Rejection(lines_seen, f"longer than the limit of {MAX_LINE_BYTES:,} bytes")], bytes_read
            )
            continue
        copy_text, stored, rejections = to_copy_text(lines, first_line=lines_seen + 1)
        lines_seen += stored + len(rejections)
        yield Chunk(copy_text, stored, rejections, bytes_read)


def _check_header(line: bytes) -> None:
    if not line:
        raise FileFailure("line 1: the file is empty, expected a header line")
    try:
        check_header(line.removesuffix(b"\r"))
    except HeaderError as error:
        raise FileFailure(str(error)) from None
