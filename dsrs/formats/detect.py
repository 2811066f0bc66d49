"""Where a DSR file's format is told: the project's TSV (dsrs.formats.tsv) or a DDEX
DSR flat file (dsrs.formats.dsrf), from the file's first line, whatever its name.

A DSRF file starts with a HEAD record (after `#` comment lines, if any); a TSV file with its header
line. A file named by the DSRF convention is a DSRF file even when it does not start with HEAD, so
that it fails as one ("expected a HEAD record") rather than for its name.
"""

import enum
from pathlib import Path

from isal import igzip, isal_zlib

from dsrs.formats.filenames import is_dsrf_file_name

# A first line longer than this is no HEAD record, whose dozen short cells take a few hundred bytes.
HEAD_BYTES = 64 << 10


class Format(enum.StrEnum):
    TSV = "tsv"
    DSRF = "dsrf"


def detect_format(path: Path) -> Format:
    if is_dsrf_file_name(path) or _first_record_type(path) == b"HEAD":
        return Format.DSRF
    return Format.TSV


def _first_record_type(path: Path) -> bytes | None:
    """The first cell of the first line that is not a comment; None when the file cannot be read
    (the TSV path then says why, as it always has)."""
    try:
        with open(path, "rb") as raw:
            stream = igzip.GzipFile(fileobj=raw, mode="rb") if path.name.endswith(".gz") else raw
            start = stream.read(HEAD_BYTES)
    except (OSError, EOFError, isal_zlib.error):  # gzip.BadGzipFile is an OSError
        return None
    for line in start.removeprefix(b"\xef\xbb\xbf").split(b"\n")[:-1] or [start]:
        if not line.startswith(b"#"):
            return line.split(b"\t", 1)[0].rstrip(b"\r")
    return None
