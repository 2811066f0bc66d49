"""The top-percentile ranking computed by DuckDB, in this process, over the selected DSRs' resource
segments (dsrs.storage.columnar.segments): the same answer as dsrs.percentile.ranking, at the same
exact arithmetic, from one row per resource and DSR instead of one per line, keyed by a 16-byte
resource key instead of its dsp_id, and without reading any title, artists or isrc but the head's.

1. the segments' exact units are summed per resource key into a temporary table and counted by
   revenue class (ranking.Histogram), which gives the total and the lowest class the head reaches
   into; the resources of that class and above are the candidates;
2. the candidates' rows are read from the segments again (usages, DSR, description), and their
   descriptions fetched from PostgreSQL (one row per distinct description);
3. the candidates are ranked (revenue, then dsp_id, then DSP, in binary order), cut at N% of the
   total, and leave as the API's JSON text, in rank order, with the most recent DSR's non-empty
   metadata (columnar_ranking's rules).
A key that two dsp_ids share, or a description PostgreSQL lacks, raises UnusableSegments, and the
lines rank instead. DuckDB holds at most COLUMNAR_MEMORY_LIMIT (it spills beyond). With `number`
None, the ranking is that of the largest N whose head the histogram bounds by
PERCENTILE_CACHE_RESOURCES: what warming keeps (dsrs.percentile.warming).
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
from django.conf import settings
from django.db import connection

from dsrs.percentile.columnar_ranking import REVENUE_JSON
from dsrs.percentile.ranking import CLASSES_PER_E, FETCH_ROWS, Histogram
from dsrs.percentile.selection import SelectedDsr


class UnusableSegments(Exception):
    """The segments cannot give this answer exactly: the lines must rank it."""


_RESOURCES = """
CREATE TEMPORARY TABLE resources AS
SELECT resource, sum(units)::HUGEINT AS units FROM read_parquet($segments) GROUP BY resource HAVING sum(units) > 0
"""

_HISTOGRAM = """
SELECT floor($classes_per_e * ln(units::DOUBLE))::INTEGER AS revenue_class, count(*), sum(units)
FROM resources
GROUP BY 1
"""

_CANDIDATES = """
CREATE TEMPORARY TABLE candidates AS
SELECT resource, units FROM resources WHERE floor($classes_per_e * ln(units::DOUBLE))::INTEGER >= $cut
"""

_FOUND = """
CREATE TEMPORARY TABLE found AS
SELECT s.resource, s.dsr_id, s.usages, s.description
FROM read_parquet($segments) s SEMI JOIN candidates c ON s.resource = c.resource
"""

_DESCRIBED = """
CREATE TEMPORARY TABLE described AS
SELECT f.resource, c.units, any_value(r.dsp) AS dsp, min(d.dsp_id) AS dsp_id,
       count(DISTINCT (r.dsp, d.dsp_id)) AS identities, count(*) - count(d.digest) AS undescribed,
       coalesce(arg_max(d.title, r.recency) FILTER (WHERE d.title <> ''), '') AS title,
       coalesce(arg_max(d.artists, r.recency) FILTER (WHERE d.artists <> ''), '') AS artists,
       coalesce(arg_max(d.isrc, r.recency) FILTER (WHERE d.isrc <> ''), '') AS isrc,
       sum(f.usages) AS usages, list_sort(list(f.dsr_id)) AS dsrs
FROM found f
JOIN candidates c USING (resource)
JOIN selected r USING (dsr_id)
LEFT JOIN descriptions d ON d.digest = f.description
GROUP BY f.resource, c.units
"""

_HEAD = """
CREATE TEMPORARY TABLE head AS
SELECT *
FROM (
    SELECT *, coalesce(sum(units) OVER (
               ORDER BY units DESC, dsp_id, dsp ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ), 0) AS before
    FROM described
)
WHERE before * 100 < $total::HUGEINT * $number
"""

_DETAILS = """
SELECT before, concat(
    '{{"dsp":', to_json(dsp), ',"dsp_id":', to_json(dsp_id),
    ',"title":', to_json(title), ',"artists":', to_json(artists), ',"isrc":', to_json(isrc),
    ',"usages":', usages, ',"revenue":', {revenue}, ',"dsrs":', to_json(dsrs), '}}')
FROM head
ORDER BY units DESC, dsp_id, dsp
"""


class SegmentRanking:
    """The ranking of the resources of `dsrs` for the top `number` percent (None: the largest N
    whose head can be kept), from the segments at `segments` ({dsr id: path}). As
    dsrs.percentile.ranking.Ranking: creating it finds the head, so `number`, `total` and
    `candidates` are known; `head()` streams it."""

    def __init__(self, dsrs: list[SelectedDsr], number: int | None, segments: dict[int, Path]) -> None:
        self.files = [str(segments[dsr.id]) for dsr in dsrs]
        self.scratch = Path(tempfile.mkdtemp(dir=_spill_directory()))
        self.duck = duckdb.connect(
            config={"memory_limit": settings.COLUMNAR_MEMORY_LIMIT, "temp_directory": str(self.scratch)}
        )
        try:
            self.duck.execute("CREATE TEMPORARY TABLE selected (dsr_id BIGINT, dsp VARCHAR, recency INTEGER)")
            self.duck.executemany(
                "INSERT INTO selected VALUES (?, ?, ?)", [(dsr.id, dsr.dsp, dsr.recency) for dsr in dsrs]
            )
            cut = self._cut(number)
            if cut is None:
                self.details = None
                return
            self.duck.execute(_CANDIDATES, {"classes_per_e": CLASSES_PER_E, "cut": cut})
            self.duck.execute("DROP TABLE resources")
            self.duck.execute(_FOUND, {"segments": self.files})
            self._fetch_descriptions()
            self.duck.execute(_DESCRIBED)
            identities, undescribed = self.duck.execute(
                "SELECT coalesce(max(identities), 1), coalesce(sum(undescribed), 0) FROM described"
            ).fetchone()
            if identities > 1:
                raise UnusableSegments("two resources share a key")
            if undescribed:
                raise UnusableSegments(f"{undescribed} rows of the head have no description")
            self.duck.execute(_HEAD, {"total": self.total, "number": self.number})
            (self.candidates,) = self.duck.execute("SELECT count(*) FROM head").fetchone()
            # Run to its end here, so that a failure (memory) comes before any of it is sent.
            self.details = self.duck.execute(_DETAILS.format(revenue=REVENUE_JSON))
        except BaseException:
            self.close()
            raise

    def _cut(self, number: int | None) -> int | None:
        """Sum the resources, set `total`, `number` and `candidates` (an upper bound of the head's
        size), and return the lowest class of the head (None: no resource has revenue)."""
        self.duck.execute(_RESOURCES, {"segments": self.files})
        rows = self.duck.execute(_HISTOGRAM, {"classes_per_e": CLASSES_PER_E}).fetchall()
        histogram = Histogram({revenue_class: (count, int(units)) for revenue_class, count, units in rows})
        self.total = histogram.total
        if number is None:
            fitting = [n for n in range(1, 100) if histogram.cut(n)[1] <= settings.PERCENTILE_CACHE_RESOURCES]
            number = max(fitting, default=1)
        self.number = number
        cut, self.candidates = histogram.cut(number)
        return cut

    def _fetch_descriptions(self) -> None:
        """Table `descriptions`: PostgreSQL's rows of the candidates' descriptions, through a CSV file."""
        digests = [str(digest) for (digest,) in self.duck.execute("SELECT DISTINCT description FROM found").fetchall()]
        path = self.scratch / "descriptions.csv"
        connection.ensure_connection()
        with connection.cursor() as cursor, open(path, "wb") as out:
            statement = (
                "COPY (SELECT digest, dsp_id, title, artists, isrc FROM dsrs_resource_description "
                "WHERE digest = ANY(%s::uuid[])) TO STDOUT (FORMAT csv, FORCE_QUOTE *)"
            )
            with cursor.copy(statement, [digests]) as copy:
                for data in copy:
                    out.write(data)
        self.duck.execute(
            "CREATE TEMPORARY TABLE descriptions AS SELECT * FROM read_csv($path, header = false, auto_detect = false, "
            "quote = '\"', escape = '\"', allow_quoted_nulls = false, columns = $columns)",
            {
                "path": str(path),
                "columns": {
                    "digest": "UUID",
                    "dsp_id": "VARCHAR",
                    "title": "VARCHAR",
                    "artists": "VARCHAR",
                    "isrc": "VARCHAR",
                },
            },
        )

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
        while rows := self.details.fetchmany(FETCH_ROWS):
            for before, resource in rows:
                yield int(before), resource


def _spill_directory() -> Path:
    spill = Path(settings.COLUMNAR_DIR) / ".spill"
    spill.mkdir(parents=True, exist_ok=True)
    return spill
