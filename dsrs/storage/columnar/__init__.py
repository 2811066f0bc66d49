"""Where each DSR's copy of its usage lines, which DuckDB ranks, is written, published and removed.

The top-percentile query is a scan of every selected line and a hash aggregation by resource:
over files, DuckDB does it several times faster than PostgreSQL over its heap rows, and the gap
grows with the lines (docs/performance.md). The copy is derived data;
PostgreSQL stays the system of record:
- written from what PostgreSQL committed: the COPY text its load sends, written as the lines load
  (dsrs.storage.columnar.streamed), or else Parquet read back from the committed partition
  (dsrs.storage.columnar.read_back); DuckDB reads each line with the exact EUR units of the PostgreSQL
  ranking (dsrs.storage.columnar.copy_text), so both engines give the same answer;
- atomically: the file is written under a scratch folder, renamed, and only once the DSR is
  committed named in its row (`columnar_copy`); queries read only copies that committed rows name;
- removed with its DSR, once the deletion commits; `rebuild_columnar` writes missing copies again
  and removes files no DSR names.
Its resource segment, the form the percentile ranks fastest, is written after the commit by a
worker (dsrs.storage.columnar.segments, jobs), and follows the same rules.
"""

import contextlib
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg
from django.conf import settings

from dsrs.models import DSR
from dsrs.storage.columnar.copy_text import PARQUET
from dsrs.storage.columnar.paths import (
    WRITING,
    abandoned,
    copy_path,
    directory,
    intact,
    new_name,
    remove,
    scratch_folder,
)
from dsrs.storage.columnar.publish import publish
from dsrs.storage.columnar.read_back import write_from_database
from dsrs.storage.columnar.segments import prune_descriptions, write_segment
from dsrs.storage.columnar.streamed import StreamedCopies, streamed_copies

__all__ = [
    "StreamedCopies",
    "copy_path",
    "directory",
    "rebuild",
    "remove_abandoned_writes",
    "remove_copies",
    "streamed_copies",
    "write_copies",
    "write_copy",
]

logger = logging.getLogger(__name__)

# What writing a copy or a segment raises when it cannot be written (a full disk, a bad file in the
# way, DuckDB's or PostgreSQL's error): the DSR stays ingested, and answered without the file.
WRITE_FAILURES = (OSError, duckdb.Error, psycopg.Error)

# Longer than writing the copy of a 100M-line DSR takes (a few minutes).
UNNAMED_GRACE_SECONDS = 3600


def write_copies(dsrs: Iterable[DSR], streamed: StreamedCopies | None = None) -> None:
    """Publish the copy of each of `dsrs`, just committed: the one `streamed` wrote while its lines
    were loaded, or else one read back from PostgreSQL. A copy that cannot be written is logged
    and left to `rebuild_columnar`: the DSR is ingested either way, and queried in PostgreSQL."""
    if not settings.COLUMNAR_COPIES:
        return
    for dsr in dsrs:
        try:
            written = streamed.finished(dsr) if streamed else None
            if written is None:
                write_copy(dsr)
            else:
                publish(dsr, written, field="columnar_copy")
        except WRITE_FAILURES as error:
            logger.warning("DSR %s: no columnar copy (%s); `manage.py rebuild_columnar` writes it", dsr.id, error)


def write_copy(dsr: DSR) -> str | None:
    """Write the copy of ingested DSR `dsr` from its committed lines and name it in its row
    (replacing a previous copy). Returns its file name, or None when the DSR was deleted meanwhile."""
    started = time.monotonic()
    scratch = scratch_folder()
    try:
        try:
            written = write_from_database(dsr, scratch, new_name(dsr.id, PARQUET))
        except psycopg.errors.UndefinedTable:
            return None  # deleted, or replaced, meanwhile
        name = publish(dsr, written, field="columnar_copy")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.debug("DSR %s: columnar copy %s read back in %.1f s", dsr.id, name, time.monotonic() - started)
    return name


def remove_copies(names: Iterable[str]) -> None:
    for name in names:
        if name:
            remove(name)


@dataclass
class Rebuilt:
    written: list[int] = field(default_factory=list)  # DSR ids
    segments: list[int] = field(default_factory=list)  # DSR ids
    removed: list[str] = field(default_factory=list)  # file names no DSR named
    descriptions_removed: int | None = 0  # None: not pruned, a segment missing here
    failed: list[str] = field(default_factory=list)  # what could not be written, and why


def rebuild(*, every: bool = False) -> Rebuilt:
    """Write the copy and the resource segment of each ingested DSR that has none, or whose file
    this machine does not see or finds damaged (`every`: of each ingested DSR), going on past any
    that fails; remove the files that no DSR names and the descriptions no segment names."""
    rebuilt = Rebuilt()
    for dsr in DSR.objects.filter(status=DSR.Status.INGESTED).order_by("id"):
        for field_name, write, done in (
            ("columnar_copy", write_copy, rebuilt.written),
            ("resource_segment", write_segment, rebuilt.segments),
        ):
            if not _missing(getattr(dsr, field_name), every):
                continue
            # One file that cannot be written (a full disk, a bad file in the way) stops no other.
            try:
                if write(dsr):
                    done.append(dsr.id)
            except WRITE_FAILURES as error:
                rebuilt.failed.append(f"DSR {dsr.id}: {field_name.replace('_', ' ')} not written ({error})")
    for path in _unnamed_copies():
        remove(path.name)
        rebuilt.removed.append(path.name)
    rebuilt.removed += remove_abandoned_writes()
    rebuilt.descriptions_removed = prune_descriptions()
    return rebuilt


def _missing(name: str, every: bool) -> bool:
    """Absent, or not the file that was published (see paths.intact)."""
    return every or not name or not intact(name)


def _unnamed_copies() -> list[Path]:
    """Copies no DSR names (a crash between the rename and the row's update), left alone for
    UNNAMED_GRACE_SECONDS: one may be being published."""
    named = {name for names in DSR.objects.values_list("columnar_copy", "resource_segment") for name in names}
    old = time.time() - UNNAMED_GRACE_SECONDS
    return [path for path in directory().glob("dsr-*") if path.name not in named and path.stat().st_mtime < old]


def _abandoned_scratch_folders() -> list[Path]:
    """Folders of writes cut short (a crash during the write): on this machine, those whose writer
    is gone; of another machine's (a shared volume), those in which nothing changed for
    UNNAMED_GRACE_SECONDS, longer than writing the copy of a 100M-line DSR takes."""
    old = time.time() - UNNAMED_GRACE_SECONDS
    found = []
    for folder in (directory() / WRITING).glob("*"):
        # Another ingestion may be removing the same folder: gone meanwhile, it is not ours to count.
        with contextlib.suppress(OSError):
            left = abandoned(folder) if folder.is_dir() else False
            if left or (left is None and all(path.stat().st_mtime < old for path in [folder, *folder.iterdir()])):
                found.append(folder)
    return found


def remove_abandoned_writes() -> list[str]:
    """Remove the folders of writes cut short; the names of the files they held."""
    removed = []
    for folder in _abandoned_scratch_folders():
        with contextlib.suppress(OSError):  # another process removing it too
            removed += [path.name for path in folder.iterdir()]
        shutil.rmtree(folder, ignore_errors=True)
    return removed
