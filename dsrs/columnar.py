"""Where each DSR's columnar copy of its usage lines is written, found and removed.

The top-percentile query is a scan of every selected line and a hash aggregation by resource:
over Parquet files, DuckDB does it several times faster than PostgreSQL over its heap rows, and
the gap grows with the lines (README, "Hundreds of millions of usages"). The copy is derived
data; PostgreSQL stays the system of record:
- written from what PostgreSQL committed: once a DSR is committed, its partition is read by COPY,
  each line with its EUR units computed by the SQL of the PostgreSQL ranking
  (dsrs.percentile.ranking.line_units), so both give the same exact answer;
- atomically: the file is written under a temporary name, renamed, and only then named in the
  DSR's row (`columnar_copy`); queries read only copies that committed rows name;
- removed with its DSR, once the deletion commits; `rebuild_columnar` writes missing copies again
  and removes files no DSR names.
"""

import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg
from django.conf import settings
from django.db import transaction
from psycopg import sql

from dsrs.connections import own_connection
from dsrs.models import DSR
from dsrs.percentile.ranking import line_units
from dsrs.usage_storage import partition_name

logger = logging.getLogger(__name__)

# Under COLUMNAR_DIR: copies being written, on the same file system so that renaming is atomic.
WRITING = ".writing"
SUFFIX = ".parquet"
# Longer than writing the copy of a 100M-line DSR takes (a few minutes).
UNNAMED_GRACE_SECONDS = 3600
# The columns of a copy, as DuckDB reads PostgreSQL's CSV output of them.
# A line's units are below 10^33 (revenue below 10^15, rates of 1e-10 and more): 38 digits hold them.
COLUMNS = {"dsp_id": "VARCHAR", "title": "VARCHAR", "artists": "VARCHAR", "isrc": "VARCHAR", "usages": "BIGINT", "units": "DECIMAL(38,0)"}


def directory() -> Path:
    return Path(settings.COLUMNAR_DIR)


def copy_path(name: str) -> Path:
    return directory() / name


def write_copies(dsrs: Iterable[DSR]) -> None:
    """Write the copy of each of `dsrs`, just committed. A copy that cannot be written is logged
    and left to `rebuild_columnar`: the DSR is ingested either way, and queried in PostgreSQL."""
    if not settings.COLUMNAR_COPIES:
        return
    for dsr in dsrs:
        try:
            write_copy(dsr)
        except (OSError, duckdb.Error, psycopg.Error) as error:
            logger.warning("DSR %s: no columnar copy (%s); `manage.py rebuild_columnar` writes it", dsr.id, error)


def write_copy(dsr: DSR) -> str | None:
    """Write the copy of ingested DSR `dsr` and name it in its row (replacing a previous copy).
    Returns its file name, or None when the DSR was deleted meanwhile."""
    started = time.monotonic()
    writing = directory() / WRITING
    writing.mkdir(parents=True, exist_ok=True)
    name = f"dsr-{int(dsr.id)}-{secrets.token_hex(8)}{SUFFIX}"
    with tempfile.TemporaryDirectory(dir=writing) as scratch:
        lines = Path(scratch) / "lines.csv"
        try:
            _copy_lines_out(dsr, lines)
        except psycopg.errors.UndefinedTable:
            return None  # deleted, or replaced, meanwhile
        written = Path(scratch) / name
        _write_parquet(lines, written)
        os.replace(written, copy_path(name))
    with transaction.atomic():
        # The row lock orders this with a deletion: either the deletion sees the name and removes
        # the file once it commits, or this finds no ingested row and removes it now.
        previous = DSR.objects.select_for_update().filter(id=dsr.id, status=DSR.Status.INGESTED).values_list("columnar_copy", flat=True).first()
        if previous is None:
            copy_path(name).unlink(missing_ok=True)
            return None
        DSR.objects.filter(id=dsr.id).update(columnar_copy=name)
        if previous:
            transaction.on_commit(lambda: remove_copies([previous]))
    dsr.columnar_copy = name
    logger.debug("DSR %s: columnar copy %s written in %.1f s", dsr.id, name, time.monotonic() - started)
    return name


def remove_copies(names: Iterable[str]) -> None:
    for name in names:
        if name:
            copy_path(name).unlink(missing_ok=True)


@dataclass
class Rebuilt:
    written: list[int] = field(default_factory=list)  # DSR ids
    removed: list[str] = field(default_factory=list)  # file names no DSR named


def rebuild(*, every: bool = False) -> Rebuilt:
    """Write the copy of each ingested DSR that has none, or whose file this machine does not
    see (`every`: of each ingested DSR), and remove the files that no DSR names."""
    rebuilt = Rebuilt()
    for dsr in DSR.objects.filter(status=DSR.Status.INGESTED).order_by("id"):
        if every or not dsr.columnar_copy or not copy_path(dsr.columnar_copy).exists():
            if write_copy(dsr):
                rebuilt.written.append(dsr.id)
    for path in _unnamed_files():
        path.unlink(missing_ok=True)
        rebuilt.removed.append(path.name)
    return rebuilt


def _unnamed_files() -> list[Path]:
    """Copies no DSR names, and writes cut short (a crash between the rename and the row's
    update, or during the write), left alone for UNNAMED_GRACE_SECONDS: one may be being written."""
    named = set(DSR.objects.exclude(columnar_copy="").values_list("columnar_copy", flat=True))
    files = [path for path in directory().glob(f"*{SUFFIX}") if path.name not in named]
    files += [path for path in (directory() / WRITING).glob("*/*") if path.is_file()]
    old = time.time() - UNNAMED_GRACE_SECONDS
    return [path for path in files if path.stat().st_mtime < old]


def _copy_lines_out(dsr: DSR, path: Path) -> None:
    """The DSR's lines as CSV at `path`. One connection: psycopg hands over COPY output a row at a
    time, so a second connection in a thread only contends for the GIL (2.5M lines: 2.7 s alone,
    3.4 s split in two)."""
    statement = sql.SQL("COPY (SELECT dsp_id, title, artists, isrc, usages, {} FROM {}) TO STDOUT WITH (FORMAT csv)").format(
        line_units(dsr.eur_rate), sql.Identifier(partition_name(dsr.id))
    )
    with own_connection() as connection, open(path, "wb") as out:
        with connection.cursor().copy(statement) as copy:
            for data in copy:
                out.write(data)


def _write_parquet(lines: Path, path: Path) -> None:
    # Bounded memory in the ingesting process (DuckDB spills beyond it); lines need no order.
    with duckdb.connect(config={"memory_limit": "128MB", "preserve_insertion_order": False}) as duck:
        # PostgreSQL's CSV writes an empty string as "" and never a NULL (the columns are NOT
        # NULL): allow_quoted_nulls off keeps "" an empty string.
        duck.execute(
            "COPY (SELECT * FROM read_csv($lines, header = false, auto_detect = false, quote = '\"', escape = '\"', "
            "allow_quoted_nulls = false, columns = $columns)) TO '" + str(path).replace("'", "''") + "' (FORMAT parquet)",
            {"lines": str(lines), "columns": COLUMNS},
        )
