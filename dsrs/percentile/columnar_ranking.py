"""The top-percentile ranking computed by DuckDB, in this process, over the selected DSRs'
columnar copies (dsrs.storage.columnar): the same answer as dsrs.percentile.ranking, at the same exact
arithmetic, for selections whose every DSR has a copy.

Each copy holds a line's exact EUR units (DECIMAL(38,0), those of PostgreSQL's ranking), so sums are
exact (in int128; a sum beyond 38 digits raises, and PostgreSQL's numeric ranks instead) and the
ranking and the cut compare integers, as in PostgreSQL:
1. resources are summed from two narrow columns (dsp_id, units) into a temporary table, and
   counted by revenue class as PostgreSQL's buckets do (ranking.Histogram), which gives the total
   and the lowest class the head reaches into; only the resources of that class and above are
   ranked (revenue, then dsp_id, then DSP; DuckDB compares strings byte by byte, the binary order
   of the C collation) and cut at N% of the total: no sort of every resource;
2. the lines of the head's resources are summed per resource and DSR (usages, the greatest
   title, artists and isrc in binary order inside a DSR), then per resource (the most recent
   DSR's non-empty metadata), and leave as the API's JSON text, streamed in rank order.
DuckDB holds at most COLUMNAR_MEMORY_LIMIT, shared by the process's rankings (dsrs.percentile.duck),
whatever the head's size (it spills beyond), and the head leaves in FETCH_ROWS pieces. N=100 is
left to PostgreSQL's ranking, which streams it in less memory (docs/performance.md).
"""

from collections.abc import Iterator
from pathlib import Path

from dsrs.money import EUR_SCALE, UNITS_PER_EUR
from dsrs.percentile import duck
from dsrs.percentile.ranking import CLASSES_PER_E, FETCH_ROWS, Histogram
from dsrs.percentile.selection import SelectedDsr
from dsrs.storage.columnar.copy_text import copy_lines, quoted

# Every resource with revenue, summed from the two narrow columns of the lines.
_RESOURCES = """
CREATE TEMPORARY TABLE resources AS
SELECT dsp, dsp_id, sum(units)::HUGEINT AS units FROM ({lines}) GROUP BY dsp, dsp_id HAVING sum(units) > 0
"""

# Resources by revenue class, as PostgreSQL's buckets count them (ranking.Histogram).
HISTOGRAM = """
SELECT floor($classes_per_e * ln(units::DOUBLE))::INTEGER AS revenue_class, count(*), sum(units)
FROM resources
GROUP BY 1
"""

# The head, cut from the resources of class `cut` and above, which hold it (see ranking.Histogram.cut).
_HEAD = """
CREATE TEMPORARY TABLE head AS
SELECT dsp, dsp_id, units, before
FROM (
    SELECT dsp, dsp_id, units,
           coalesce(sum(units) OVER (
               ORDER BY units DESC, dsp_id, dsp ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ), 0) AS before
    FROM resources
    WHERE floor($classes_per_e * ln(units::DOUBLE))::INTEGER >= $cut
)
WHERE before * 100 < $total::HUGEINT * $number
"""

# units / 1e8 written exactly, with one decimal at least, as PostgreSQL's ranking writes it.
REVENUE_JSON = f"""
    (units // {UNITS_PER_EUR})::VARCHAR || '.' ||
    coalesce(nullif(rtrim(lpad((units % {UNITS_PER_EUR})::VARCHAR, {EUR_SCALE}, '0'), '0'), ''), '0')
"""

_DETAILS = """
SELECT before, concat(
    '{{"dsp":', to_json(dsp), ',"dsp_id":', to_json(dsp_id),
    ',"title":', to_json(coalesce(arg_max(title, recency) FILTER (WHERE title <> ''), '')),
    ',"artists":', to_json(coalesce(arg_max(artists, recency) FILTER (WHERE artists <> ''), '')),
    ',"isrc":', to_json(coalesce(arg_max(isrc, recency) FILTER (WHERE isrc <> ''), '')),
    ',"usages":', sum(usages),
    ',"revenue":', {revenue},
    ',"dsrs":', to_json(list_sort(list(dsr_id))), '}}')
FROM (
    SELECT h.dsp, h.dsp_id, h.units, h.before, l.dsr_id, l.recency, sum(l.usages) AS usages,
           max(l.title) AS title, max(l.artists) AS artists, max(l.isrc) AS isrc
    FROM head h JOIN ({lines}) l ON l.dsp = h.dsp AND l.dsp_id = h.dsp_id
    GROUP BY ALL
)
GROUP BY dsp, dsp_id, units, before
ORDER BY units DESC, dsp_id, dsp
"""


class ColumnarRanking:
    """The ranking of the resources of `dsrs` for the top `number` percent, from the copies at
    `copies` ({dsr id: path}). As dsrs.percentile.ranking.Ranking: creating it finds the head, so
    `total` and `candidates` (the head's size) are known; `head()` streams it."""

    def __init__(self, dsrs: list[SelectedDsr], number: int, copies: dict[int, Path]) -> None:
        self.number = number
        self.lines = " UNION ALL ".join(
            f"SELECT {quoted(dsr.dsp)} AS dsp, {int(dsr.id)}::BIGINT AS dsr_id, {int(dsr.recency)} AS recency, "
            f"dsp_id, title, artists, isrc, usages, units FROM ({copy_lines(copies[dsr.id], dsr.eur_rate)})"
            for dsr in dsrs
        )
        self.duck = duck.connection()
        try:
            self._find_head()
            # Run to its end here, so that a failure (memory) comes before any of it is sent.
            self.details = self.duck.execute(_DETAILS.format(lines=self.lines, revenue=REVENUE_JSON))
        except BaseException:
            self.close()
            raise

    def _find_head(self) -> None:
        """Fill table `head`, and set `total` and `candidates`: its size."""
        self.duck.execute(_RESOURCES.format(lines=self.lines))
        rows = self.duck.execute(HISTOGRAM, {"classes_per_e": CLASSES_PER_E}).fetchall()
        histogram = Histogram({revenue_class: (count, int(units)) for revenue_class, count, units in rows})
        self.total = histogram.total
        cut, self.candidates = histogram.cut(self.number)
        if cut is not None:
            self.duck.execute(
                _HEAD, {"classes_per_e": CLASSES_PER_E, "cut": cut, "total": self.total, "number": self.number}
            )
            (self.candidates,) = self.duck.execute("SELECT count(*) FROM head").fetchone()
        # Every resource's sum, in memory that a temporary table does not give back to step 2.
        self.duck.execute("DROP TABLE resources")

    def __enter__(self) -> "ColumnarRanking":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.duck.close()

    def head(self) -> Iterator[tuple[int, str]]:
        """(revenue before, resource as JSON) of each resource of the head, in rank order."""
        while rows := self.details.fetchmany(FETCH_ROWS):
            for before, resource in rows:
                yield int(before), resource
