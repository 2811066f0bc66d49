"""Where resources are ranked by EUR revenue over the usage lines of selected DSRs, and the head
that makes N% of the revenue is cut (docs/api.md, "Ranking, ties and the cut"). PostgreSQL-specific.

Revenue arithmetic, exact at a fixed scale:
- a line's EUR revenue is its revenue divided by its DSR's eur_rate, rounded half up to EUR_SCALE
  decimals (1e-8 EUR, dsrs.money), computed with integer division so that the rounding is that of the exact
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
   (floor(32 ln(units)): a class spans 3% of revenue), with the exact units of each class;
2. given the cut class of all buckets' histograms added up, returns its resources of that class
   and above, ranked.
Every resource of a higher class ranks before any resource of a lower one, so a resource whose
class has higher classes holding N% of the total or more is not in the head: step 2 returns the
whole head and at most one class more. Merging the sorted buckets and cutting at N% of T gives
the exact head. Only step 2's resources cross the wire. A head that fits in memory gets its
details (usages, DSRs, metadata) from one partitionwise statement over every line; a larger one
from each bucket, streamed. N=100 has no cut to find: each bucket reads its lines once, for the
sums and the details together.
"""

import heapq
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from psycopg import sql

from dsrs.money import line_units
from dsrs.percentile.selection import SelectedDsr
from dsrs.storage.connections import own_connection
from dsrs.storage.partitions import partition_name

T = TypeVar("T")

# Revenue classes are floor(CLASSES_PER_E * ln(units)): a class spans 3% of revenue, so the
# classes a bucket returns overshoot the resources it needs by little.
CLASSES_PER_E = 32
# Each bucket's hash table holds its resources (about 90 bytes each, 2M for 10M lines): enough to
# aggregate without spilling; work_mem counts per connection, not per server.
WORK_MEM = "512MB"
TEMP_BUFFERS = "256MB"
# Rows fetched per round trip from a bucket's sorted candidates.
FETCH_ROWS = 5000
# Heads of up to this many resources are cut before their details are read (their keys are held
# in memory, about 100 bytes each); larger ones stream with their details.
SMALL_HEAD = 200_000


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
class Histogram:
    """Resources with revenue by revenue class: {class: (resources, units)}."""

    classes: dict[int, tuple[int, int]]

    @property
    def total(self) -> int:
        return sum(units for _count, units in self.classes.values())

    def __add__(self, other: "Histogram") -> "Histogram":
        classes = dict(self.classes)
        for revenue_class, (count, units) in other.classes.items():
            known_count, known_units = classes.get(revenue_class, (0, 0))
            classes[revenue_class] = (known_count + count, known_units + units)
        return Histogram(classes)

    def cut(self, number: int) -> tuple[int | None, int]:
        """The lowest class the head of the top `number` percent reaches into, and how many
        resources the classes down to it hold (None, 0 when no resource has revenue).

        A resource is in the head when the revenue before it is below number% of the total, and
        every resource of a higher class comes before it: so its class is one whose higher
        classes hold less than number% of the total."""
        total, reached = self.total, 0
        cut, resources = None, 0
        for revenue_class in sorted(self.classes, reverse=True):
            if 100 * reached >= number * total:
                break
            count, units = self.classes[revenue_class]
            cut, resources, reached = revenue_class, resources + count, reached + units
        return cut, resources


class Ranking:
    """The ranking of the resources of `dsrs` for the top `number` percent, over `buckets`
    connections of its own, which it closes on exit. Creating it runs step 1 on every bucket, so
    `total` and `candidates` (an upper bound of the head's size) are known; `head()` streams the head."""

    def __init__(self, dsrs: list[SelectedDsr], number: int, buckets: int) -> None:
        self.dsrs, self.number, self.bucket_count = dsrs, number, buckets
        self.buckets: list[_Bucket] = []
        self.total = 0
        self.cut: int | None = None
        self.candidates: int | None = 0
        if number == 100:
            # Every resource with revenue is in the head: no cut to find, so no step 1; the
            # buckets read their lines once, for the sums and the details at the same time.
            self.candidates = None
            return
        try:
            try:
                histograms = self._sum(FLOAT8)
            except (_BeyondFloat8, psycopg.errors.NumericValueOutOfRange):
                histograms = self._sum(NUMERIC)
        except BaseException:
            self.close()
            raise
        histogram = sum(histograms, Histogram({}))
        self.total = histogram.total
        self.cut, self.candidates = histogram.cut(number)

    def __enter__(self) -> "Ranking":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for bucket in self.buckets:
            bucket.close()

    def head(self) -> Iterator[tuple[int, str]]:
        """(revenue before, resource as JSON) of each resource of the head, in rank order."""
        if self.candidates is None:
            try:
                streams = self._every_resource(FLOAT8)
            except (_BeyondFloat8, psycopg.errors.NumericValueOutOfRange):
                streams = self._every_resource(NUMERIC)
            before = 0
            for before, (negative_units, *_key, resource) in self._cut(heapq.merge(*streams)):
                yield before, resource
                self.total = before - int(negative_units)  # all revenue, once every resource is out
        elif self.candidates <= SMALL_HEAD:
            # The exact head first, from the buckets' sums alone; then its details in one
            # statement that reads each line once, on as many server cores as there are buckets.
            keys = self._in_parallel(lambda bucket: bucket.candidate_keys(self.cut))
            head = [row for _before, row in self._cut(heapq.merge(*keys))]
            resources = self.buckets[0].details(head) if head else []
            for before, (*_key, resource) in self._cut(iter(resources)):
                yield before, resource
        else:
            # Too many to hold: each bucket streams its candidates with their details.
            streams = self._in_parallel(lambda bucket: bucket.candidates(self.cut))
            for before, (*_key, resource) in self._cut(heapq.merge(*streams)):
                yield before, resource

    def _cut(self, ranked: Iterator[tuple]) -> Iterator[tuple[int, tuple]]:
        """The rows of `ranked` in the head, each with the revenue before it.

        Rows start with (-units, dsp_id, dsp): Python's tuple order is then the ranking, with no
        key function to call per row (str compares by code point, which is the binary order of
        UTF-8: that of the C collation the SQL sorts with)."""
        before = 0
        for row in ranked:
            if self.candidates is not None and 100 * before >= self.number * self.total:
                return
            yield before, row
            before -= int(row[0])

    def _every_resource(self, arithmetic: _Arithmetic) -> list[Iterator[tuple]]:
        self._open_buckets(arithmetic)
        return self._in_parallel(lambda bucket: bucket.every_resource())

    def _sum(self, arithmetic: _Arithmetic) -> list[Histogram]:
        self._open_buckets(arithmetic)
        return self._in_parallel(lambda bucket: bucket.histogram())

    def _open_buckets(self, arithmetic: _Arithmetic) -> None:
        self.close()  # those of an attempt in float8 that was not exact
        self.buckets = []  # appended one by one, so that close() finds those opened if one fails
        for bucket in range(self.bucket_count):
            self.buckets.append(_Bucket(bucket, self.bucket_count, self.dsrs, arithmetic))

    def _in_parallel(self, work: Callable[["_Bucket"], T]) -> list[T]:
        # A bucket waits on its connection without the GIL, so threads give each its own core on
        # the server; the pool is joined before returning, and a bucket's error is raised here.
        with ThreadPoolExecutor(max_workers=len(self.buckets), thread_name_prefix="percentile") as pool:
            return list(pool.map(work, self.buckets))


class _Bucket:
    def __init__(self, bucket: int, buckets: int, dsrs: list[SelectedDsr], arithmetic: _Arithmetic) -> None:
        self.bucket, self.buckets, self.dsrs, self.arithmetic = bucket, buckets, dsrs, arithmetic
        self.connection = own_connection()
        with self.connection.cursor() as cursor:
            cursor.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")  # before the session's first temp table
            cursor.execute(f"SET work_mem = '{WORK_MEM}'")
            # Usage lines have no index, so a nested loop over them rescans them for every outer
            # row; fresh partitions, not yet analyzed, estimate a handful of rows and invite one.
            cursor.execute("SET enable_nestloop = off")
            # The buckets are the parallelism: each on one core, hashing (a parallel plan would
            # sort its share and Gather millions of partial groups to merge them again).
            cursor.execute("SET max_parallel_workers_per_gather = 0")
            cursor.execute("SET enable_sort = off")

    def close(self) -> None:
        self.connection.close()

    def histogram(self) -> Histogram:
        with self.connection.cursor() as cursor:
            cursor.execute(_SUM_RESOURCES.format(lines=self._lines(self._units_columns)))
            cursor.execute(
                _HISTOGRAM.format(exact_units=sql.SQL(self.arithmetic.exact.format("units"))),
                {"classes_per_e": CLASSES_PER_E},
            )
            rows = cursor.fetchall()
        limit = self.arithmetic.limit
        if limit is not None and rows and max(largest for *_, largest in rows) >= limit:
            raise _BeyondFloat8()
        return Histogram({revenue_class: (count, int(units)) for revenue_class, count, units, _largest in rows})

    def candidates(self, cut: int | None) -> Iterator[tuple]:
        """This bucket's resources of class `cut` and above, sorted by rank, with their details."""
        if cut is None:  # no resource with revenue
            return iter(())
        with self.connection.cursor() as statistics:
            # The temporary table has no statistics, and this joins it with millions of lines.
            statistics.execute("ANALYZE percentile_resources")
        first, rest = self._stream(self.candidates_statement(), {"cut": cut, "classes_per_e": CLASSES_PER_E})
        return itertools.chain(first, rest)

    def every_resource(self) -> Iterator[tuple]:
        """This bucket's resources with revenue, sorted by rank, with their details: one pass."""
        first, rest = self._stream(self.every_resource_statement())
        # The first row has the largest sum: float8 summed it exactly if it is below the limit.
        if first and self.arithmetic.limit is not None and -first[0][0] >= self.arithmetic.limit:
            raise _BeyondFloat8()
        return itertools.chain(first, rest)

    def _stream(self, statement: sql.Composed, params: dict | None = None) -> tuple[list[tuple], Iterator[tuple]]:
        """The first rows of `statement`, and a server-side cursor for the rest. The first rows wait
        for the bucket's whole sort; fetching them here, in this bucket's thread, lets the buckets
        run it at the same time."""
        cursor = self.connection.cursor(name=f"percentile_bucket_{self.bucket}")
        cursor.itersize = FETCH_ROWS
        cursor.execute(statement, params)
        return cursor.fetchmany(FETCH_ROWS), cursor

    def every_resource_statement(self) -> sql.Composed:
        return _EVERY_RESOURCE.format(
            per_dsr=_EVERY_PER_DSR.format(lines=self._lines(self._every_columns)),
            resource=_RESOURCE_JSON.format(exact_units=sql.SQL(self.arithmetic.exact.format("sum(units)"))),
        )

    def _every_columns(self, dsr: SelectedDsr) -> sql.Composable:
        return sql.SQL("{}, {} AS units").format(_detail_columns(dsr), self._line_units(dsr))

    def candidates_statement(self) -> sql.Composed:
        return _RESOURCES.format(
            per_dsr=_BUCKET_PER_DSR.format(lines=self._lines(_detail_columns), keys=_BUCKET_CANDIDATES),
            resource=_RESOURCE_JSON.format(exact_units=sql.SQL(self.arithmetic.exact.format("units"))),
        )

    def candidate_keys(self, cut: int | None) -> list[tuple]:
        """(-units, dsp_id, dsp) of this bucket's resources of class `cut` and above, by rank."""
        if cut is None:
            return []
        with self.connection.cursor() as cursor:
            cursor.execute(_CANDIDATE_KEYS, {"cut": cut, "classes_per_e": CLASSES_PER_E})
            return cursor.fetchall()

    def details(self, head: list[tuple]) -> list[tuple]:
        """The resources of `head` ((-units, dsp_id, dsp) in rank order) with their JSON, in that
        order, from the lines of every bucket."""
        with self.connection.cursor() as cursor:
            cursor.execute(sql.SQL("SET LOCAL max_parallel_workers_per_gather = {}").format(sql.Literal(self.buckets)))
            cursor.execute("SET LOCAL enable_partitionwise_aggregate = on")
            cursor.execute(self.details_statement(), self.details_parameters(head))
            return cursor.fetchall()

    def details_statement(self) -> sql.Composed:
        return _RESOURCES.format(per_dsr=_HEAD_PER_DSR, resource=_RESOURCE_JSON.format(exact_units=sql.SQL("units")))

    def details_parameters(self, head: list[tuple]) -> dict:
        return {
            "dsr_ids": [dsr.id for dsr in self.dsrs],
            "dsr_dsps": [dsr.dsp for dsr in self.dsrs],
            "recencies": [dsr.recency for dsr in self.dsrs],
            "units": [str(-int(negative_units)) for negative_units, _dsp_id, _dsp in head],
            "dsp_id": [dsp_id for _units, dsp_id, _dsp in head],
            "dsp": [dsp for _units, _dsp_id, dsp in head],
        }

    def _units_columns(self, dsr: SelectedDsr) -> sql.Composable:
        return sql.SQL("{} AS dsp, dsp_id, {} AS units").format(_dsp(dsr), self._line_units(dsr))

    def _line_units(self, dsr: SelectedDsr) -> sql.Composable:
        """A line's exact units, in the type this bucket sums."""
        return sql.SQL(self.arithmetic.line.format("{}")).format(line_units(dsr.eur_rate))

    def _lines(self, columns: Callable[[SelectedDsr], sql.Composable]) -> sql.Composed:
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


def _dsp(dsr: SelectedDsr) -> sql.Composable:
    return sql.SQL('{}::text COLLATE "C"').format(sql.Literal(dsr.dsp))


def _detail_columns(dsr: SelectedDsr) -> sql.Composable:
    return sql.SQL("{} AS dsp, {}::int8 AS dsr_id, {}::int4 AS recency, dsp_id, title, artists, isrc, usages").format(
        _dsp(dsr), sql.Literal(dsr.id), sql.Literal(dsr.recency)
    )


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

# Resources with their details, as the API's JSON, ranked, from {per_dsr}: their lines summed per
# resource and DSR (dsp, dsp_id, units, dsr_id, recency, usages, title, artists, isrc). Only these
# sums are sorted, to pick the most recent DSR's non-empty metadata. Each resource leaves as its
# JSON text, built here so that a million-resource answer is never a million Python objects.
_RESOURCE_JSON = sql.SQL(
    """
    concat('{{"dsp":', to_json(dsp), ',"dsp_id":', to_json(dsp_id),
           ',"title":', to_json(coalesce((array_agg(title ORDER BY recency DESC) FILTER (WHERE title <> ''))[1], '')),
           ',"artists":', to_json(coalesce(
               (array_agg(artists ORDER BY recency DESC) FILTER (WHERE artists <> ''))[1], ''
           )),
           ',"isrc":', to_json(coalesce((array_agg(isrc ORDER BY recency DESC) FILTER (WHERE isrc <> ''))[1], '')),
           ',"usages":', sum(usages),
           -- units * 1e-8 is exact (a product's scale is the sum of its factors'); one decimal at
           -- least, so that JSON readers take every revenue for a float.
           ',"revenue":', round({exact_units} * 0.00000001, greatest(scale(trim_scale({exact_units} * 0.00000001)), 1)),
           ',"dsrs":', to_json(array_agg(dsr_id ORDER BY dsr_id)), '}}')
    """
)

_RESOURCES = sql.SQL(
    """
    SELECT -units, dsp_id, dsp, {resource}
    FROM ({per_dsr}) AS per_dsr
    GROUP BY dsp, dsp_id, units
    ORDER BY units DESC, dsp_id, dsp
    """
)

# N=100: every resource with revenue, its lines summed per DSR (units included) and then per
# resource, in one pass over the bucket's lines.
_EVERY_PER_DSR = sql.SQL(
    """
    SELECT dsp, dsp_id, l.dsr_id, l.recency, sum(l.units) AS units, sum(l.usages) AS usages,
           max(l.title COLLATE "C") AS title, max(l.artists COLLATE "C") AS artists, max(l.isrc COLLATE "C") AS isrc
    FROM ({lines}) AS l
    GROUP BY dsp, dsp_id, l.dsr_id, l.recency
    """
)
_EVERY_RESOURCE = sql.SQL(
    """
    SELECT -sum(units), dsp_id, dsp, {resource}
    FROM ({per_dsr}) AS per_dsr
    GROUP BY dsp, dsp_id
    HAVING sum(units) > 0
    ORDER BY sum(units) DESC, dsp_id, dsp
    """
)

# A large head's lines, per bucket: a hash join of the bucket's lines with its candidates.
_BUCKET_PER_DSR = sql.SQL(
    """
    SELECT dsp, dsp_id, k.units, l.dsr_id, l.recency, sum(l.usages) AS usages,
           -- Inside one DSR, whose lines have no order, the greatest in binary order ('' is least).
           max(l.title COLLATE "C") AS title, max(l.artists COLLATE "C") AS artists, max(l.isrc COLLATE "C") AS isrc
    FROM ({lines}) AS l JOIN {keys} USING (dsp, dsp_id)
    GROUP BY dsp, dsp_id, k.units, l.dsr_id, l.recency
    """
)

# A small head's lines, over every selected DSR at once: the head's dsp_ids are a hashed = ANY()
# filter inside each partition's scan, so each partition is summed on its own (partitionwise, its
# DSR in the key) by a parallel worker, and only those sums reach the leader. A dsp_id reported by
# another DSP is dropped by the join with the head's keys.
_HEAD_PER_DSR = sql.SQL(
    """
    SELECT k.dsp, k.dsp_id, k.units, p.dsr_id, s.recency, p.usages, p.title, p.artists, p.isrc
    FROM (
        SELECT dsr_id, dsp_id, sum(usages) AS usages,
               max(title COLLATE "C") AS title, max(artists COLLATE "C") AS artists, max(isrc COLLATE "C") AS isrc
        FROM dsrs_usage
        WHERE dsr_id = ANY(%(dsr_ids)s::bigint[]) AND dsp_id = ANY(%(dsp_id)s::text[])
        GROUP BY dsr_id, dsp_id
    ) AS p
    JOIN unnest(%(dsr_ids)s::bigint[], %(dsr_dsps)s::text[], %(recencies)s::int[]) AS s(dsr_id, dsp, recency)
        USING (dsr_id)
    JOIN unnest(%(dsp)s::text[], %(dsp_id)s::text[], %(units)s::numeric[]) AS k(dsp, dsp_id, units)
        ON k.dsp = s.dsp AND k.dsp_id = p.dsp_id
    """
)

_CANDIDATES_OF_CLASS = "units > 0 AND floor(%(classes_per_e)s * ln(units::float8))::int >= %(cut)s"

# Step 2, for a small head: the bucket's candidates, ranked, without details, to cut the head.
_CANDIDATE_KEYS = f"""
SELECT -units, dsp_id, dsp
FROM percentile_resources
WHERE {_CANDIDATES_OF_CLASS}
ORDER BY units DESC, dsp_id, dsp
"""

# Step 2, for a large head: the bucket's candidates with their details, streamed.
_BUCKET_CANDIDATES = sql.SQL(
    "(SELECT dsp, dsp_id, units FROM percentile_resources WHERE " + _CANDIDATES_OF_CLASS + ") AS k"
)
