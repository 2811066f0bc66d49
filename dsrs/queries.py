"""Where the top percentile of resources by EUR revenue is computed (design.md section 3).

`top_percentile_resources` is what the API view, the tests and the benchmark call. The DSRs are
chosen with the ORM; everything over their usage lines is one set-based PostgreSQL statement.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection, transaction

from dsrs.models import DSR

ALPHA_2 = re.compile(r"[A-Za-z]{2}")

# The GROUP BY over the usage lines holds one entry per resource and DSR: about 450 MB per
# 1M-resource DSR (a numeric sum is a fat aggregate state). A hash table may take work_mem times
# hash_mem_multiplier (2 by default) before it spills to disk.
WORK_MEM = "256MB"


@dataclass(frozen=True)
class Resource:
    dsp: str
    dsp_id: str
    title: str
    artists: str
    isrc: str
    usages: int
    revenue: Decimal  # EUR
    dsrs: list[int]


def selected_dsr_ids(
    *, territory: str | None = None, period_start: date | None = None, period_end: date | None = None
) -> list[int]:
    """The ingested DSRs of `territory` (alpha-2, any case) within the period, in id order."""
    dsrs = DSR.objects.filter(status=DSR.Status.INGESTED)
    if territory is not None:
        # Territory is free text in the contract: anything but a two-letter code matches nothing.
        dsrs = dsrs.filter(territory_id=territory.upper()) if ALPHA_2.fullmatch(territory) else dsrs.none()
    if period_start is not None:
        dsrs = dsrs.filter(period_start__gte=period_start)
    if period_end is not None:
        dsrs = dsrs.filter(period_end__lte=period_end)
    return list(dsrs.order_by("id").values_list("id", flat=True))


def top_percentile_resources(
    *, number: int, territory: str | None = None, period_start: date | None = None, period_end: date | None = None
) -> list[Resource]:
    """The shortest head of the resources ranked by EUR revenue that reaches `number` % of the
    total, over the selected DSRs (see `selected_dsr_ids`).

    Ranking: revenue descending, then dsp_id, then DSP, both in binary order. A resource is in
    the head when the revenue of the resources before it is below `number` % of the total, so
    100 gives every resource with revenue > 0, and a total of 0 gives nothing. Revenue is
    summed per DSR, converted with that DSR's eur_rate, then summed across DSRs, in exact
    numeric. Title, artists and isrc are, each on its own, the value of the most recent DSR
    (latest period_end, then highest id) that reports a non-empty one; inside one DSR, whose
    lines have no order, the greatest in binary order.
    """
    if not 1 <= number <= 100:
        raise ValueError(f"number must be between 1 and 100, not {number}")
    dsr_ids = selected_dsr_ids(territory=territory, period_start=period_start, period_end=period_end)
    if not dsr_ids:
        return []
    with transaction.atomic(), connection.cursor() as cursor:
        # Each partition aggregated on its own: its hash table holds that DSR's resources only,
        # and partitions are spread over the parallel workers.
        cursor.execute("SET LOCAL enable_partitionwise_aggregate = on")
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        # The leader merges what the workers aggregated; aggregating partitions too, it makes
        # that merge wait (10M lines on 2 cores: 25 s with it, 21 s without).
        cursor.execute("SET LOCAL parallel_leader_participation = off")
        # Usage lines have no index, so a nested loop over them rescans them for every outer
        # row; unanalyzed partitions (fresh from a load) estimate few rows and invite one.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(TOP_PERCENTILE, {"dsr_ids": dsr_ids, "number": number})
        return [
            Resource(dsp, dsp_id, title, artists, isrc, int(usages), revenue, dsrs)
            for dsp, dsp_id, title, artists, isrc, usages, revenue, dsrs in cursor.fetchall()
        ]


TOP_PERCENTILE = """
WITH per_dsr AS (
    -- The one aggregation over every selected line, kept to a single sum: extra aggregates here
    -- (usages, metadata) cost on every line of every resource. dsr_id is in the key, so the
    -- planner aggregates partition by partition; the literal ids prune the other partitions.
    SELECT dsr_id, dsp_id, sum(revenue) AS revenue
    FROM dsrs_usage
    WHERE dsr_id = ANY(%(dsr_ids)s::bigint[])
    GROUP BY dsr_id, dsp_id
),
resources AS (
    -- A DSR's exact sum is converted once with its own rate, then the DSRs are added up.
    SELECT d.dsp, p.dsp_id, sum(p.revenue / d.eur_rate) AS revenue
    FROM per_dsr p JOIN dsrs_dsr d ON d.id = p.dsr_id
    GROUP BY d.dsp, p.dsp_id
),
head AS (
    -- ROWS frame: the revenue strictly before a resource, even when the next one ties with it;
    -- the ranking and the cut-off compare exact numerics (100 * before < N * total).
    SELECT dsp, dsp_id, revenue
    FROM (
        SELECT dsp, dsp_id, revenue,
               coalesce(sum(revenue) OVER (
                   ORDER BY revenue DESC, dsp_id, dsp COLLATE "C"
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ), 0) AS revenue_before,
               sum(revenue) OVER () AS total_revenue
        FROM resources
    ) ranked
    WHERE revenue_before * 100 < total_revenue * %(number)s
),
details AS (
    -- A second read of the lines, of the head's resources only (usually a small share), where
    -- ordered aggregates are cheap: on every line they would rule out hashing in per_dsr.
    SELECT d.dsp, u.dsp_id, sum(u.usages) AS usages,
           array_agg(DISTINCT u.dsr_id ORDER BY u.dsr_id) AS dsrs,
           (array_agg(u.title ORDER BY d.period_end DESC, d.id DESC, u.title COLLATE "C" DESC)
               FILTER (WHERE u.title <> ''))[1] AS title,
           (array_agg(u.artists ORDER BY d.period_end DESC, d.id DESC, u.artists COLLATE "C" DESC)
               FILTER (WHERE u.artists <> ''))[1] AS artists,
           (array_agg(u.isrc ORDER BY d.period_end DESC, d.id DESC, u.isrc COLLATE "C" DESC)
               FILTER (WHERE u.isrc <> ''))[1] AS isrc
    FROM dsrs_usage u JOIN dsrs_dsr d ON d.id = u.dsr_id
    WHERE u.dsr_id = ANY(%(dsr_ids)s::bigint[]) AND (d.dsp, u.dsp_id) IN (SELECT dsp, dsp_id FROM head)
    GROUP BY d.dsp, u.dsp_id
)
SELECT h.dsp, h.dsp_id, coalesce(x.title, ''), coalesce(x.artists, ''), coalesce(x.isrc, ''),
       x.usages, h.revenue, x.dsrs
FROM head h JOIN details x USING (dsp, dsp_id)
ORDER BY h.revenue DESC, h.dsp_id, h.dsp COLLATE "C"
"""
