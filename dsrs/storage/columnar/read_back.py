"""A copy written from the lines PostgreSQL committed, read back by COPY: for a DSR whose copy was
not written while its lines were loaded (the DSRs of a DSRF file of several reports, a line the
streamed writer cannot round exactly, a writer that failed, `rebuild_columnar`). Each line's units
come from the SQL of the PostgreSQL ranking (dsrs.money.line_units), exact for any line."""

from pathlib import Path

import duckdb
from psycopg import sql

from dsrs.models import DSR
from dsrs.money import line_units
from dsrs.storage.columnar.copy_text import quoted
from dsrs.storage.connections import own_connection
from dsrs.storage.partitions import partition_name

# The columns of a copy, as DuckDB reads PostgreSQL's CSV output of them.
# A line's units are below 10^33 (revenue below 10^15, rates of 1e-10 and more): 38 digits hold them.
COLUMNS = {
    "dsp_id": "VARCHAR",
    "title": "VARCHAR",
    "artists": "VARCHAR",
    "isrc": "VARCHAR",
    "usages": "BIGINT",
    "units": "DECIMAL(38,0)",
}


def write_from_database(dsr: DSR, scratch: Path, name: str) -> Path:
    """The copy of `dsr`'s lines at `scratch`/`name`. Raises psycopg.errors.UndefinedTable when the
    DSR is gone (deleted or replaced)."""
    lines = scratch / "lines.csv"
    copy_lines_out(dsr, lines)
    written = scratch / name
    _write_parquet(lines, written)
    lines.unlink()
    return written


def copy_lines_out(dsr: DSR, path: Path) -> None:
    """The DSR's lines as CSV at `path`. One connection: psycopg hands over COPY output a row at a
    time, so a second connection in a thread only contends for the GIL (it was slower split in two)."""
    statement = sql.SQL(
        "COPY (SELECT dsp_id, title, artists, isrc, usages, {} FROM {}) TO STDOUT WITH (FORMAT csv)"
    ).format(line_units(dsr.eur_rate), sql.Identifier(partition_name(dsr.id)))
    with own_connection() as connection, open(path, "wb") as out, connection.cursor().copy(statement) as copy:
        for data in copy:
            out.write(data)


def _write_parquet(lines: Path, path: Path) -> None:
    # Bounded memory in the ingesting process (DuckDB spills beyond it); lines need no order.
    with duckdb.connect(config={"memory_limit": "128MB", "preserve_insertion_order": False}) as duck:
        # PostgreSQL's CSV writes an empty string as "" and never a NULL (the columns are NOT
        # NULL): allow_quoted_nulls off keeps "" an empty string.
        duck.execute(
            "COPY (SELECT * FROM read_csv($lines, header = false, auto_detect = false, quote = '\"', escape = '\"', "
            f"allow_quoted_nulls = false, columns = $columns)) TO {quoted(str(path))} (FORMAT parquet)",
            {"lines": str(lines), "columns": COLUMNS},
        )
