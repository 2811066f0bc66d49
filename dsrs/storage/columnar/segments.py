"""Where a DSR's resource segment is written: its committed lines summed per resource, the form of
the lines the top percentile ranks fastest (dsrs.percentile.segment_ranking).

A segment is a Parquet file of one row per resource the DSR reports:
- `resource`: the resource's key, the MD5 of its DSP and dsp_id (as a UUID: 16 bytes that
  DuckDB groups as one 128-bit integer, several times faster than a 30-character string);
- `units` and `usages`: the exact sums of its lines' EUR units (dsrs.money.line_units) and usages;
- `description`: the MD5 of its description in this DSR (dsp_id and the greatest title, artists
  and isrc of its lines, in binary order), a row of table dsrs_resource_description, and
  `has_title`, `has_artists`, `has_isrc`: whether that description has each one non-empty, so that
  the most recent DSR's non-empty value of each is found without reading any;
- `identity`: a second digest of its DSP and dsp_id, another half of another MD5, which tells two
  resources apart if their keys were ever the same;
- `dsp_id`, `title`, `artists`, `isrc`: that description itself, which N=100, reading every
  resource, reads from the segments rather than from PostgreSQL.
A description is stored once however many DSRs report it so: the details of a head read one narrow
row per resource of the head instead of every wide line that reports it. An MD5 stands for the
text it digests: two different texts with the same one are not known, and a query meeting two
identities under one key refuses the segments and ranks from the lines.

Segments are derived data, written by a worker after the DSR is committed (dsrs.storage.columnar.
jobs) from PostgreSQL's lines, atomically (a scratch file renamed, then named in the DSR's row),
removed with their DSR, and written again by `rebuild_columnar`. Descriptions no segment names any
more (their DSRs deleted) are pruned by `rebuild_columnar`.
"""

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import psycopg
from django.db import connection, transaction

from dsrs.models import DSR
from dsrs.storage.columnar.copy_text import quoted
from dsrs.storage.columnar.paths import copy_path, intact, new_name, scratch_folder
from dsrs.storage.columnar.publish import publish
from dsrs.storage.columnar.read_back import COLUMNS, copy_lines_out
from dsrs.storage.connections import copy_file_in, own_connection

logger = logging.getLogger(__name__)

SEGMENT = ".segment.parquet"
# The writer's DuckDB: a DSR's resources are summed in it (about 100 bytes each), spilling beyond.
WRITER_MEMORY = "512MB"
# Writers hold this advisory lock shared from their descriptions' insert to their segment's
# publication; pruning holds it exclusive, so it never removes a description about to be named.
DESCRIPTIONS_LOCK = 0x5345474D454E54  # "SEGMENT"


def resource_key(dsp: str, dsp_id: str) -> str:
    """The SQL of a resource's key: the MD5 of an unambiguous text of its DSP and dsp_id."""
    return f"md5(length({dsp})::VARCHAR || ':' || {dsp} || {dsp_id})::UUID"


def resource_identity(dsp: str, dsp_id: str) -> str:
    """The SQL of a second digest of a resource, independent of its key."""
    return f"md5_number_lower('identity ' || length({dsp})::VARCHAR || ':' || {dsp} || {dsp_id})"


def _description_key(*columns: str) -> str:
    return "md5(" + " || ".join(f"length({column})::VARCHAR || ':' || {column}" for column in columns) + ")::UUID"


# The DSR's resources, summed from the CSV of its lines (read_back.COLUMNS).
_RESOURCES = """
CREATE TEMPORARY TABLE resources AS
SELECT *, {description} AS description
FROM (
    SELECT {resource} AS resource, {identity} AS identity, $dsr_id::BIGINT AS dsr_id, dsp_id,
           sum(units)::DECIMAL(38,0) AS units, sum(usages)::BIGINT AS usages,
           max(title) AS title, max(artists) AS artists, max(isrc) AS isrc
    FROM (SELECT $dsp AS dsp, * FROM read_csv($lines, header = false, auto_detect = false, quote = '"', escape = '"',
          allow_quoted_nulls = false, columns = $columns))
    GROUP BY dsp, dsp_id
)
"""


def write_segment(dsr: DSR) -> str | None:
    """Write the segment of ingested DSR `dsr` from its committed lines, store its descriptions and
    name it in its row (replacing a previous one). Returns its file name, or None when the DSR was
    deleted meanwhile."""
    started = time.monotonic()
    scratch = scratch_folder()
    try:
        lines = scratch / "lines.csv"
        try:
            copy_lines_out(dsr, lines)
        except psycopg.errors.UndefinedTable:
            return None  # deleted, or replaced, meanwhile
        written, descriptions = scratch / new_name(dsr.id, SEGMENT), scratch / "descriptions.csv"
        _summed(dsr, lines, written, descriptions)
        lines.unlink()
        with _descriptions_lock(shared=True):
            _store_descriptions(descriptions)
            name = publish(dsr, written, field="resource_segment")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.debug("DSR %s: resource segment %s written in %.1f s", dsr.id, name, time.monotonic() - started)
    return name


def _summed(dsr: DSR, lines: Path, segment: Path, descriptions: Path) -> None:
    config = {"memory_limit": WRITER_MEMORY, "preserve_insertion_order": False}
    with duckdb.connect(config=config) as duck:
        duck.execute(
            _RESOURCES.format(
                resource=resource_key("dsp", "dsp_id"),
                identity=resource_identity("dsp", "dsp_id"),
                description=_description_key("dsp_id", "title", "artists", "isrc"),
            ),
            {"dsr_id": dsr.id, "dsp": dsr.dsp, "lines": str(lines), "columns": COLUMNS},
        )
        # The narrow columns first: a ranking reads only those it needs.
        duck.execute(
            "COPY (SELECT resource, identity, dsr_id, units, usages, description, "
            "title <> '' AS has_title, artists <> '' AS has_artists, isrc <> '' AS has_isrc, "
            f"dsp_id, title, artists, isrc FROM resources) TO {quoted(str(segment))} (FORMAT parquet)"
        )
        # Quoted, so that PostgreSQL's CSV reads an empty field as an empty string, not NULL.
        duck.execute(
            "COPY (SELECT DISTINCT description, dsp_id, title, artists, isrc FROM resources) "
            f"TO {quoted(str(descriptions))} (FORMAT csv, HEADER false, FORCE_QUOTE *)"
        )


def _store_descriptions(descriptions: Path) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE incoming (LIKE dsrs_resource_description) ON COMMIT DROP")
        copy_file_in(cursor, "COPY incoming FROM STDIN (FORMAT csv)", descriptions)
        # In digest order, so that two writers inserting the same descriptions never deadlock.
        cursor.execute(
            "INSERT INTO dsrs_resource_description SELECT * FROM incoming ORDER BY digest ON CONFLICT DO NOTHING"
        )


@contextmanager
def _descriptions_lock(*, shared: bool) -> Iterator[None]:
    lock = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
    with own_connection(autocommit=True) as holder:
        holder.execute(f"SELECT {lock}(%s)", [DESCRIPTIONS_LOCK])
        yield


def prune_descriptions() -> int | None:
    """Remove the descriptions that no published segment names; returns how many. None when a
    segment is missing on this machine, or damaged: what it names is unknown, so nothing is removed."""
    with _descriptions_lock(shared=False):
        names = list(DSR.objects.exclude(resource_segment="").values_list("resource_segment", flat=True))
        if not all(intact(name) for name in names):
            return None
        named = [str(copy_path(name)) for name in names]
        scratch = scratch_folder()
        try:
            kept = scratch / "kept.csv"
            with duckdb.connect(config={"memory_limit": WRITER_MEMORY}) as duck:
                source = "read_parquet($named)" if named else "(SELECT NULL::UUID AS description WHERE false)"
                duck.execute(
                    f"COPY (SELECT DISTINCT description FROM {source}) "
                    f"TO {quoted(str(kept))} (FORMAT csv, HEADER false)",
                    {"named": named} if named else {},
                )
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("CREATE TEMPORARY TABLE kept (digest uuid PRIMARY KEY) ON COMMIT DROP")
                copy_file_in(cursor, "COPY kept FROM STDIN (FORMAT csv)", kept)
                cursor.execute(
                    "DELETE FROM dsrs_resource_description d "
                    "WHERE NOT EXISTS (SELECT FROM kept k WHERE k.digest = d.digest)"
                )
                return cursor.rowcount
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
