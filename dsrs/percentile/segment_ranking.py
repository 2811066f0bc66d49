"""The top-percentile ranking computed by DuckDB, in this process, over the selected DSRs' resource
segments (dsrs.storage.columnar.segments): the same answer as dsrs.percentile.ranking, at the same
exact arithmetic, from one row per resource and DSR instead of one per line, keyed by a 16-byte
resource key instead of its dsp_id, and reading the title, artists and isrc of the head only.

1. the segments' exact units are summed per resource key into a temporary table and counted by
   revenue class (ranking.Histogram), which gives the total and the lowest class the head reaches
   into: the resources of that class and above are the candidates, whose rows are read from the
   segments again;
2. each candidate's rows give its usages, its DSRs, and which description of which DSR holds its
   most recent non-empty title, artists and isrc; those descriptions (a few per resource) are
   fetched from PostgreSQL;
3. the candidates are ranked (revenue, then dsp_id, then DSP, in binary order), cut at N% of the
   total, and leave as the API's JSON text, in rank order, FETCH_ROWS at a time.
N=100 has no cut to find and describes every resource: it reads the descriptions the segments
carry, in one pass, as the columnar copies' ranking does over the lines.
Two identities under one key, or a description PostgreSQL lacks, raise UnusableSegments, and the
lines rank instead. DuckDB holds at most COLUMNAR_MEMORY_LIMIT, shared by the process's rankings
(dsrs.percentile.duck; it spills beyond). With `number`
None, the ranking is that of the largest N below 100 whose head the histogram bounds by
PERCENTILE_CACHE_RESOURCES: what warming keeps (dsrs.percentile.warming).
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from dsrs.percentile import duck
from dsrs.percentile.columnar_ranking import HISTOGRAM, REVENUE_JSON
from dsrs.percentile.ranking import CLASSES_PER_E, FETCH_ROWS, Histogram
from dsrs.percentile.selection import SelectedDsr
from dsrs.storage.columnar.copy_text import quoted
from dsrs.storage.connections import copy_file_in


class UnusableSegments(Exception):
    """The segments cannot give this answer exactly: the lines must rank it."""


_RESOURCES = """
CREATE TEMPORARY TABLE resources AS
SELECT resource, sum(units)::HUGEINT AS units FROM read_parquet($segments) GROUP BY resource HAVING sum(units) > 0
"""

_CANDIDATES = """
CREATE TEMPORARY TABLE candidates AS
SELECT resource, units FROM resources WHERE floor($classes_per_e * ln(units::DOUBLE))::INTEGER >= $cut
"""

# Per candidate: sums, DSRs, and the descriptions to read.
_DETAILS = """
CREATE TEMPORARY TABLE details AS
SELECT s.resource, any_value(c.units) AS units, sum(s.usages) AS usages, list_sort(list(s.dsr_id)) AS dsrs,
       any_value(r.dsp) AS dsp, min(s.identity) <> max(s.identity) AS shared,
       arg_max(s.description, r.recency) AS described_by,
       arg_max(s.description, r.recency) FILTER (WHERE s.has_title) AS title_by,
       arg_max(s.description, r.recency) FILTER (WHERE s.has_artists) AS artists_by,
       arg_max(s.description, r.recency) FILTER (WHERE s.has_isrc) AS isrc_by
FROM read_parquet($segments) s JOIN candidates c USING (resource) JOIN selected r USING (dsr_id)
GROUP BY s.resource
"""

# N=100: every resource with revenue, described from the segments' own columns, in one pass.
_EVERY_RESOURCE = """
CREATE TEMPORARY TABLE head AS
SELECT sum(s.units)::HUGEINT AS units, sum(s.usages) AS usages, list_sort(list(s.dsr_id)) AS dsrs,
       any_value(r.dsp) AS dsp, any_value(s.dsp_id) AS dsp_id, min(s.identity) <> max(s.identity) AS shared,
       coalesce(arg_max(s.title, r.recency) FILTER (WHERE s.title <> ''), '') AS title,
       coalesce(arg_max(s.artists, r.recency) FILTER (WHERE s.artists <> ''), '') AS artists,
       coalesce(arg_max(s.isrc, r.recency) FILTER (WHERE s.isrc <> ''), '') AS isrc
FROM read_parquet($segments) s JOIN selected r USING (dsr_id)
GROUP BY s.resource
HAVING sum(s.units) > 0
"""

_HEAD = """
CREATE TEMPORARY TABLE head AS
SELECT *
FROM (
    SELECT *, coalesce(sum(units) OVER (
               ORDER BY units DESC, dsp_id, dsp ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ), 0) AS before
    FROM (
        SELECT x.resource, x.units, x.usages, x.dsrs, x.dsp, d.dsp_id,
               coalesce(t.title, '') AS title, coalesce(a.artists, '') AS artists, coalesce(i.isrc, '') AS isrc
        FROM details x
        JOIN descriptions d ON d.digest = x.described_by
        LEFT JOIN descriptions t ON t.digest = x.title_by
        LEFT JOIN descriptions a ON a.digest = x.artists_by
        LEFT JOIN descriptions i ON i.digest = x.isrc_by
    )
)
WHERE before * 100 < $total::HUGEINT * $number
"""

# In rank order, with each resource's units: the revenue before each is their running sum.
_JSON = """
SELECT units, concat(
    '{{"dsp":', to_json(dsp), ',"dsp_id":', to_json(dsp_id),
    ',"title":', to_json(title), ',"artists":', to_json(artists), ',"isrc":', to_json(isrc),
    ',"usages":', usages, ',"revenue":', {revenue}, ',"dsrs":', to_json(dsrs), '}}')
FROM head
ORDER BY units DESC, dsp_id, dsp
"""

_DESCRIPTION_COLUMNS = {
    "digest": "UUID",
    "dsp_id": "VARCHAR",
    "title": "VARCHAR",
    "artists": "VARCHAR",
    "isrc": "VARCHAR",
}


class SegmentRanking:
    """The ranking of the resources of `dsrs` for the top `number` percent (None: the largest N
    whose head can be kept), from the segments at `segments` ({dsr id: path}). As
    dsrs.percentile.ranking.Ranking: creating it finds the head, so `number`, `total` and
    `candidates` (the head's size) are known; `head()` streams it."""

    def __init__(self, dsrs: list[SelectedDsr], number: int | None, segments: dict[int, Path]) -> None:
        self.files = [str(segments[dsr.id]) for dsr in dsrs]
        self.scratch = Path(tempfile.mkdtemp(dir=_scratch_directory()))
        self.duck = duck.connection()
        self.details = None
        try:
            self.duck.execute("CREATE TEMPORARY TABLE selected (dsr_id BIGINT, dsp VARCHAR, recency INTEGER)")
            self.duck.executemany(
                "INSERT INTO selected VALUES (?, ?, ?)", [(dsr.id, dsr.dsp, dsr.recency) for dsr in dsrs]
            )
            if number == 100:
                self._every_resource()
            else:
                self._find_head(number)
            (self.candidates,) = self.duck.execute("SELECT count(*) FROM head").fetchone()
            if not self.candidates:
                return
            # Run to its end here, so that a failure (memory) comes before any of it is sent.
            self.details = self.duck.execute(_JSON.format(revenue=REVENUE_JSON))
        except BaseException:
            self.close()
            raise

    def _every_resource(self) -> None:
        """Table `head`, of N=100, and `number` and `total`."""
        self.number = 100
        self.duck.execute(_EVERY_RESOURCE, {"segments": self.files})
        total, shared = self.duck.execute("SELECT sum(units), count(*) FILTER (WHERE shared) FROM head").fetchone()
        self._refuse_shared_keys(shared)
        self.total = int(total or 0)

    def _find_head(self, number: int | None) -> None:
        """Table `head`, of the top `number` percent (None: the largest N that can be kept), and
        `number` and `total`."""
        cut = self._cut(number)
        if cut is None:
            self.duck.execute("CREATE TEMPORARY TABLE head AS SELECT NULL AS before WHERE false")
            return
        self.duck.execute(_CANDIDATES, {"classes_per_e": CLASSES_PER_E, "cut": cut})
        self.duck.execute("DROP TABLE resources")
        self.duck.execute(_DETAILS, {"segments": self.files})
        (shared,) = self.duck.execute("SELECT count(*) FILTER (WHERE shared) FROM details").fetchone()
        self._refuse_shared_keys(shared)
        self._fetch_descriptions()
        self.duck.execute(_HEAD, {"total": self.total, "number": self.number})

    def _cut(self, number: int | None) -> int | None:
        """Sum the resources, set `total`, `number` and `candidates` (an upper bound of the head's
        size), and return the lowest class of the head (None: no resource has revenue)."""
        self.duck.execute(_RESOURCES, {"segments": self.files})
        rows = self.duck.execute(HISTOGRAM, {"classes_per_e": CLASSES_PER_E}).fetchall()
        histogram = Histogram({revenue_class: (count, int(units)) for revenue_class, count, units in rows})
        self.total = histogram.total
        if number is None:
            fitting = [n for n in range(1, 100) if histogram.cut(n)[1] <= settings.PERCENTILE_CACHE_RESOURCES]
            number = max(fitting, default=1)
        self.number = number
        cut, self.candidates = histogram.cut(number)
        return cut

    @staticmethod
    def _refuse_shared_keys(shared: int) -> None:
        if shared:
            raise UnusableSegments(f"{shared} of the head's keys stand for two resources or more")

    def _fetch_descriptions(self) -> None:
        """Table `descriptions`: PostgreSQL's rows of the descriptions `details` names, through CSV
        files (a temporary table of their digests on the way in)."""
        wanted, found = self.scratch / "wanted.csv", self.scratch / "descriptions.csv"
        self.duck.execute(
            "COPY (SELECT DISTINCT digest FROM (SELECT unnest([described_by, title_by, artists_by, isrc_by]) AS digest "
            f"FROM details) WHERE digest IS NOT NULL) TO {quoted(str(wanted))} (FORMAT csv, HEADER false)"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE wanted (digest uuid) ON COMMIT DROP")
            copy_file_in(cursor, "COPY wanted FROM STDIN (FORMAT csv)", wanted)
            # An array of the digests, not a join: PostgreSQL then looks each up in the primary key
            # instead of hashing the whole table.
            statement = (
                "COPY (SELECT digest, dsp_id, title, artists, isrc FROM dsrs_resource_description "
                "WHERE digest = ANY(ARRAY(SELECT digest FROM wanted))) TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
            )
            with open(found, "wb") as out, cursor.copy(statement) as copy:
                for data in copy:
                    out.write(data)
        self.duck.execute(
            "CREATE TEMPORARY TABLE descriptions AS SELECT * FROM read_csv($path, header = false, auto_detect = false, "
            "quote = '\"', escape = '\"', allow_quoted_nulls = false, columns = $columns)",
            {"path": str(found), "columns": _DESCRIPTION_COLUMNS},
        )
        (missing,) = self.duck.execute(
            "SELECT count(*) FROM (SELECT DISTINCT digest FROM (SELECT unnest([described_by, title_by, artists_by, "
            "isrc_by]) AS digest FROM details) WHERE digest IS NOT NULL) ANTI JOIN descriptions USING (digest)"
        ).fetchone()
        if missing:
            raise UnusableSegments(f"{missing} descriptions of the head are missing")

    def __enter__(self) -> "SegmentRanking":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.duck.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def head(self) -> Iterator[tuple[int, str]]:
        """(revenue before, resource as JSON) of each resource of the head, in rank order."""
        if self.details is None:
            return
        before = 0
        while rows := self.details.fetchmany(FETCH_ROWS):
            for units, resource in rows:
                yield before, resource
                before += int(units)


def _scratch_directory() -> Path:
    """Where a ranking writes the descriptions it exchanges with PostgreSQL, in a folder of its own."""
    scratch = Path(settings.COLUMNAR_DIR) / ".spill"
    scratch.mkdir(parents=True, exist_ok=True)
    return scratch
