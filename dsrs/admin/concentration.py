"""Where a DSR's revenue concentration is measured: how much of its revenue its top resources earn.

Staff read it as a curve (the admin's DSR page draws it): from the top-earning resource down, the
share of the DSR's revenue earned against the share of its resources. A DSR whose top 1% of
resources earn half the revenue looks very different from one where revenue is spread evenly.
"""

from dataclasses import dataclass

from django.db import connection

# One statement, set-based: the DSR's lines are read once (its partition only) and grouped into
# resources; one sort ranks them. Revenue is summed as float8: a chart needs no exact decimals,
# and float sums and sorts cost about half of numeric ones. The running sum is kept at the rank
# that ends each percent of the resources (r ends one when floor(100 r / n) > floor(100 (r-1) / n)):
# at most 100 rows come back, whatever the size of the DSR.
CONCENTRATION_SQL = """
WITH ranked AS (
    SELECT
        row_number() OVER top_first AS rank,
        sum(revenue) OVER top_first AS running_revenue,
        count(*) OVER () AS resources,
        sum(revenue) OVER () AS total_revenue
    FROM (
        -- A resource is (DSP, dsp_id), and a DSR has one DSP.
        SELECT sum(revenue::float8) AS revenue FROM dsrs_usage WHERE dsr_id = %(dsr_id)s GROUP BY dsp_id
    ) AS resource
    WINDOW top_first AS (ORDER BY revenue DESC ROWS UNBOUNDED PRECEDING)
)
SELECT rank, running_revenue, resources, total_revenue
FROM ranked
WHERE (100 * rank) / resources > (100 * (rank - 1)) / resources
ORDER BY rank
"""


@dataclass(frozen=True)
class RevenueConcentration:
    resources: int
    # (share of resources, share of revenue) at each percent of the resources, top earners first:
    # e.g. (0.01, 0.4) says the top 1% of resources earn 40% of the revenue. The last is (1, 1).
    points: list[tuple[float, float]]

    def top(self, resource_share: float) -> tuple[float, float]:
        """The first point that covers at least `resource_share` of the resources."""
        return next(point for point in self.points if point[0] >= resource_share)

    def earning(self, revenue_share: float) -> tuple[float, float]:
        """The first point whose resources earn at least `revenue_share` of the revenue."""
        return next(point for point in self.points if point[1] >= revenue_share)


def revenue_concentration(*, dsr_id: int) -> RevenueConcentration | None:
    """None when the DSR has no revenue to share (no usage line, or all of zero revenue)."""
    with connection.cursor() as cursor:
        cursor.execute(CONCENTRATION_SQL, {"dsr_id": dsr_id})
        rows = cursor.fetchall()
    if not rows or rows[0][3] == 0:
        return None
    resources, total = rows[0][2], rows[0][3]
    points = [(rank / resources, running / total) for rank, running, _, _ in rows]
    points[-1] = (1.0, 1.0)  # float sums added in another order may land a hair off
    return RevenueConcentration(resources=resources, points=points)
