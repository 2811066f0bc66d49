"""Where resources are ranked by EUR revenue over the usage lines of selected DSRs, and the head
that makes N% of the revenue is cut (design.md section 3). PostgreSQL-specific.

Revenue arithmetic, exact at a fixed scale:
- a line's EUR revenue is its revenue divided by its DSR's eur_rate, rounded half up to EUR_SCALE
  decimals (1e-8 EUR), computed with integer division so that the rounding is that of the exact
  quotient; amounts are integers of 1e-8 EUR ("units") from then on;
- a resource's revenue is the exact sum of its lines' units, and the total T the sum of those;
  the ranking (revenue, then dsp_id, then DSP, both in binary order) and the cut
  (100 * revenue before < N * T) compare these integers, so ties are exact and deterministic.
- A resource's sum runs in float8 when every sum stays below 2**53 units (90,071,992.55 EUR),
  where float8 holds integers exactly: the hash aggregation then keeps an 8-byte state per
  resource instead of an allocated numeric one, half the time and a quarter of the memory. A
  selection with a larger sum (the seed DSRs have lines of 1e15) is summed again in numeric.

How the head is found without ranking every resource. Resources are split into disjoint buckets
by a hash of their dsp_id, one per connection (so one server core each, with no Gather of
millions of partial groups). Each bucket, in one transaction:
1. sums its resources into a temporary table and returns a histogram of their revenue by class
   (about 22 classes per doubling of revenue) with its total;
2. given the total T of all buckets, returns, sorted and with their details (usages, DSRs,
   metadata), its resources of the classes it would need to reach N% of T on its own.
The head's resources of one bucket are a prefix of that bucket's ranking whose revenue, but for its
last resource, is below N% of T, so step 2 returns all of them (and some more). Merging the sorted
buckets and cutting at N% of T then gives the exact head. Only the resources of step 2 cross the
wire, and the usage lines are read twice per bucket: once for the sums, once for the details of
the candidates.
"""

import heapq
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from django.db import connection
from psycopg import sql

from dsrs.percentile.selection import SelectedDsr
from dsrs.usage_storage import partition_name

EUR_SCALE = 8
UNITS_PER_EUR = 10**EUR_SCALE
# Revenue classes are floor(CLASSES_PER_E * ln(units)): a class spans 3% of revenue, so the
# classes a bucket returns overshoot the resources it needs by little.
CLASSES_PER_E = 32
# Each bucket's hash table holds its resources (about 90 bytes each, 2M for 10M lines): enough to
# aggregate without spilling; work_mem counts per connection, not per server.
WORK_MEM = "512MB"
TEMP_BUFFERS = "256MB"
# Rows fetched per round trip from a bucket's sorted candidates.
FETCH_ROWS = 5000


@dataclass(frozen=True)
class _Arithmetic:
    """How units are summed: `line` turns a line's exact units (numeric) into the summed type,
    `exact` turns a sum back into an exact number."""

    line: str
    exact: str
    limit: int | None  # sums from this many units on are not exact


FLOAT8 = _Arithmetic(line="{}::int8::float8", exact="{}::int8", limit=2**53)
NUMERIC = _Arithmetic(line="{}", exact="{}", limit=None)


class _BeyondFloat8(Exception):
    pass


@dataclass(frozen=True)
class BucketHistogram:
    # (class, resources, units) of the resources with revenue, highest class first.
    classes: list[tuple[int, int, int]]

    @property
    def total(self) -> int:
        return sum(units for _class, _count, units in self.classes)

    def classes_to_reach(self, units: int) -> tuple[int, int]:
        """The lowest class needed to reach `units` on this bucket's own (its cut), and how many
        resources the classes down to it hold. A class is needed while the classes above it hold
        less than `units`; a bucket that cannot reach it needs every class."""
        reached = 0
        cut, resources = None, 0
        for revenue_class, count, class_units in self.classes:
            if reached >= units:
                break
            cut, resources = revenue_class, resources + count
            reached += class_units
        return cut, resources


class Ranking:
    """The ranking of the resources of `dsrs` for the top `number` percent, over `buckets`
    connections of its own, which it closes on exit. Creating it runs step 1 on every bucket, so
    `total` and `candidates` (an upper bound of the head's size) are known; `head()` streams the head."""

    def __init__(self, dsrs: list[SelectedDsr], number: int, buckets: int):
        self.number = number
        self.buckets: list[_Bucket] = []
        self.total = 0
        self.cuts: list[int | None] = []
        self.candidates = 0
        try:
            try:
                histograms = self._sum(dsrs, buckets, FLOAT8)
            except (_BeyondFloat8, psycopg.errors.NumericValueOutOfRange):
                self.close()
                histograms = self._sum(dsrs, buckets, NUMERIC)
        except BaseException:
            self.close()
            raise
        self.total = sum(histogram.total for histogram in histograms)
        # Each bucket's share of the head lies in the classes it needs to reach N% of T alone.
        target = -(-self.number * self.total // 100)  # ceil, in integers
        cuts = [histogram.classes_to_reach(target) for histogram in histograms]
        self.cuts = [cut for cut, _resources in cuts]
        self.candidates = sum(resources for _cut, resources in cuts)

    def __enter__(self) -> "Ranking":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for bucket in self.buckets:
            bucket.close()

    def head(self) -> Iterator[tuple[int, str]]:
        """(revenue before, resource as JSON) of each resource of the head, in rank order."""
        streams = self._in_parallel(lambda bucket, cut: bucket.candidates(cut), self.cuts)
        before = 0
        for units, _dsp_id, _dsp, resource in heapq.merge(*streams, key=_rank):
            if 100 * before >= self.number * self.total:
                return
            yield before, resource
            before += int(units)

    def _sum(self, dsrs: list[SelectedDsr], buckets: int, arithmetic: _Arithmetic) -> list[BucketHistogram]:
        self.buckets = []
        for bucket in range(buckets):
            self.buckets.append(_Bucket(bucket, buckets, dsrs, arithmetic))
        return self._in_parallel(lambda bucket: bucket.histogram())

    def _in_parallel(self, work, *arguments) -> list:
        # A bucket waits on its connection without the GIL, so threads give each its own core on
        # the server; the pool is joined before returning, and a bucket's error is raised here.
        with ThreadPoolExecutor(max_workers=len(self.buckets), thread_name_prefix="percentile") as pool:
            return list(pool.map(work, self.buckets, *arguments))


def _rank(row: tuple) -> tuple:
    # Python compares str by code point, which is the binary order of their UTF-8 bytes: that of
    # the C collation the SQL sorts each bucket with.
    units, dsp_id, dsp, _resource = row
    return -units, dsp_id, dsp


class _Bucket:
    def __init__(self, bucket: int, buckets: int, dsrs: list[SelectedDsr], arithmetic: _Arithmetic):
        self.bucket, self.buckets, self.dsrs, self.arithmetic = bucket, buckets, dsrs, arithmetic
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        self.connection = psycopg.connect(**params)
        with self.connection.cursor() as cursor:
            cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")  # before the session's first temp table
            cursor.execute(f"SET work_mem = '{WORK_MEM}'")
            # Usage lines have no index, so a nested loop over them rescans them for every outer
            # row; fresh partitions, not yet analyzed, estimate a handful of rows and invite one.
            cursor.execute("SET enable_nestloop = off")

    def close(self) -> None:
        self.connection.close()

    def histogram(self) -> BucketHistogram:
        with self.connection.cursor() as cursor:
            cursor.execute(_SUM_RESOURCES.format(lines=self._lines(self._units_columns)))
            # The temporary table has no statistics; step 2 joins it with millions of lines.
            cursor.execute("ANALYZE percentile_resources")
            cursor.execute(
                _HISTOGRAM.format(exact_units=sql.SQL(self.arithmetic.exact.format("units"))),
                {"classes_per_e": CLASSES_PER_E},
            )
            rows = cursor.fetchall()
        limit = self.arithmetic.limit
        if limit is not None and rows and max(largest for *_, largest in rows) >= limit:
            raise _BeyondFloat8()
        return BucketHistogram([(revenue_class, count, int(units)) for revenue_class, count, units, _largest in rows])

    def candidates(self, cut: int | None) -> Iterator[tuple]:
        """This bucket's resources of class `cut` and above, sorted by rank, with their details."""
        if cut is None:  # no resource with revenue
            return iter(())
        cursor = self.connection.cursor(name=f"percentile_head_{self.bucket}")
        cursor.itersize = FETCH_ROWS
        cursor.execute(self.candidates_statement(), {"cut": cut, "classes_per_e": CLASSES_PER_E})
        # The first rows wait for the bucket's whole step 2; fetching them here, in this bucket's
        # thread, lets the buckets run it at the same time.
        first = cursor.fetchmany(FETCH_ROWS)
        return _chain(first, cursor)

    def candidates_statement(self) -> sql.Composed:
        return _CANDIDATES.format(
            lines=self._lines(_detail_columns), exact_units=sql.SQL(self.arithmetic.exact.format("c.units"))
        )

    def _units_columns(self, dsr: SelectedDsr) -> sql.Composable:
        line_units = sql.SQL(self.arithmetic.line.format("{}")).format(_line_units(dsr))
        return sql.SQL("{} AS dsp, dsp_id, {} AS units").format(_dsp(dsr), line_units)

    def _lines(self, columns) -> sql.Composed:
        """The selected DSRs' usage lines of this bucket: one branch per partition, so that each
        DSR's DSP, rate and recency are constants, not a join per line."""
        where = sql.SQL("")
        if self.buckets > 1:
            where = sql.SQL(" WHERE mod(hashtext(dsp_id) & 2147483647, {}) = {}").format(
                sql.Literal(self.buckets), sql.Literal(self.bucket)
            )
        return sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {columns} FROM {partition}{where}").format(
                columns=columns(dsr), partition=sql.Identifier(partition_name(dsr.id)), where=where
            )
            for dsr in self.dsrs
        )


def _chain(first: list, cursor) -> Iterator[tuple]:
    yield from first
    yield from cursor


def _dsp(dsr: SelectedDsr) -> sql.Composable:
    return sql.SQL('{}::text COLLATE "C"').format(sql.Literal(dsr.dsp))


def _line_units(dsr: SelectedDsr) -> sql.Composable:
    """A line's EUR revenue in units of 1e-8 EUR (numeric), rounded half up exactly: for x, r >= 0,
    round(x * U / r) = floor((2 * x * U + r) / (2 * r)), which div() computes exactly."""
    if dsr.eur_rate == 1:
        # round() of a numeric rounds half away from zero, which is half up for revenue >= 0.
        return sql.SQL("round(revenue * {})").format(sql.Literal(UNITS_PER_EUR))
    return sql.SQL("div(revenue * {} + {}, {})").format(
        sql.Literal(2 * UNITS_PER_EUR), sql.Literal(dsr.eur_rate), sql.Literal(2 * dsr.eur_rate)
    )


def _detail_columns(dsr: SelectedDsr) -> sql.Composable:
    return sql.SQL(
        "{} AS dsp, {}::int8 AS dsr_id, {}::int4 AS recency, dsp_id, title, artists, isrc, usages"
    ).format(_dsp(dsr), sql.Literal(dsr.id), sql.Literal(dsr.recency))


# Step 1. A hash aggregation over every line of the bucket: the one pass whose cost grows with the
# lines, so it carries one float8 sum and nothing else (usages and metadata wait for step 2).
# ON COMMIT DROP: the table lives as long as the bucket's transaction.
_SUM_RESOURCES = sql.SQL(
    """
    CREATE TEMPORARY TABLE percentile_resources ON COMMIT DROP AS
    SELECT dsp, dsp_id, sum(units) AS units
    FROM ({lines}) AS lines
    GROUP BY dsp, dsp_id
    """
)

# The bucket's revenue by class: a few hundred groups, and the exact units of each (float8 sums
# of whole numbers below 2**53 are exact, and so is their bigint cast; float8 -> numeric is not,
# it keeps 15 digits). The class is computed in float8 whatever the sums' type: it only has to be
# the same monotonic function of revenue in both steps.
_HISTOGRAM = sql.SQL(
    """
    SELECT floor(%(classes_per_e)s * ln(units::float8))::int AS revenue_class, count(*), sum({exact_units}), max(units)
    FROM percentile_resources
    WHERE units > 0
    GROUP BY 1
    ORDER BY 1 DESC
    """
)

# Step 2. The candidates' lines are found by a hash semi-join of the bucket's lines with the
# candidates (a small table: usually a few percent of the resources), so the ordered aggregates
# that pick metadata only sort the candidates' lines. Each resource leaves as its JSON text, built
# here so that a million-resource answer is never a million Python objects.
_CANDIDATES = sql.SQL(
    """
    WITH candidates AS MATERIALIZED (
        SELECT dsp, dsp_id, units
        FROM percentile_resources
        WHERE units > 0 AND floor(%(classes_per_e)s * ln(units::float8))::int >= %(cut)s
    ),
    details AS (
        SELECT l.dsp, l.dsp_id, sum(l.usages) AS usages,
               array_agg(DISTINCT l.dsr_id ORDER BY l.dsr_id) AS dsrs,
               -- The most recent DSR's non-empty value; inside one DSR, the greatest in binary order.
               (array_agg(l.title ORDER BY l.recency DESC, l.title COLLATE "C" DESC)
                   FILTER (WHERE l.title <> ''))[1] AS title,
               (array_agg(l.artists ORDER BY l.recency DESC, l.artists COLLATE "C" DESC)
                   FILTER (WHERE l.artists <> ''))[1] AS artists,
               (array_agg(l.isrc ORDER BY l.recency DESC, l.isrc COLLATE "C" DESC)
                   FILTER (WHERE l.isrc <> ''))[1] AS isrc
        FROM ({lines}) AS l
        WHERE (l.dsp, l.dsp_id) IN (SELECT dsp, dsp_id FROM candidates)
        GROUP BY l.dsp, l.dsp_id
    )
    SELECT c.units, c.dsp_id, c.dsp,
           concat('{{"dsp":', to_json(c.dsp), ',"dsp_id":', to_json(c.dsp_id),
                  ',"title":', to_json(coalesce(d.title, '')), ',"artists":', to_json(coalesce(d.artists, '')),
                  ',"isrc":', to_json(coalesce(d.isrc, '')), ',"usages":', d.usages,
                  -- units * 1e-8 is exact (a product's scale is the sum of its factors'); one
                  -- decimal at least, so that JSON readers take every revenue for a float.
                  ',"revenue":', round({exact_units} * 0.00000001, greatest(scale(trim_scale({exact_units} * 0.00000001)), 1)),
                  ',"dsrs":', to_json(d.dsrs), '}}')
    FROM candidates c JOIN details d USING (dsp, dsp_id)
    ORDER BY c.units DESC, c.dsp_id, c.dsp
    """
)
