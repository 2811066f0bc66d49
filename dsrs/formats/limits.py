"""Where the bounds on a whole file are set, for both formats: how large it may grow once
decompressed, how many lines it may hold, and when its rejected lines already prove that it
cannot pass DSR_MAX_REJECTED_RATIO.

A DSP's largest monthly file holds about a billion lines (some 100 GB of TSV) and compresses
by less than ten; gzip expands data at most about a thousand times, which only a decompression
bomb (a small file of a few repeated lines) comes near. So a file fails as soon as it passes
DSR_MAX_BYTES or DSR_MAX_LINES, or a .gz expands beyond DSR_MAX_EXPANSION times its size, and
as soon as more lines are rejected than the ratio allows of the most lines it could still hold.
"""

from dataclasses import dataclass

from django.conf import settings

# Any file may decompress to this much, however small: only a bomb reaches a bound above it.
SMALL_FILE_BYTES = 1 << 20


class TooLarge(Exception):
    """The file's decompressed bytes passed their bound; the message says which."""


@dataclass(frozen=True)
class InputLimits:
    max_bytes: int  # decompressed
    too_many_bytes: str  # why a file that passes max_bytes fails
    max_lines: int
    # The most lines the file can hold, every line at least its line end: what the rejected
    # lines are measured against before the file is read to its end.
    possible_lines: int
    file_size: int  # as stored: read to its end, the file's own counts decide


def input_limits(*, file_size: int, gzipped: bool) -> InputLimits:
    max_bytes = settings.DSR_MAX_BYTES
    too_many_bytes = f"more than {max_bytes:,} bytes once decompressed (DSR_MAX_BYTES)"
    expansion = settings.DSR_MAX_EXPANSION
    expanded = max(file_size * expansion, SMALL_FILE_BYTES)
    if gzipped and expanded < max_bytes:
        max_bytes = expanded
        too_many_bytes = (
            f"decompresses to more than {expansion} times its {file_size:,} bytes (DSR_MAX_EXPANSION): DSPs' "
            "files do not, decompression bombs do"
        )
    most_bytes = max_bytes if gzipped else min(max_bytes, file_size)
    return InputLimits(
        max_bytes=max_bytes,
        too_many_bytes=too_many_bytes,
        max_lines=settings.DSR_MAX_LINES,
        possible_lines=min(settings.DSR_MAX_LINES, most_bytes),
        file_size=file_size,
    )
