"""Where the answers users ask first are computed before they ask: once the workers have written
every queued resource segment (dsrs.storage.columnar.jobs), the top percentile of all DSRs, of each
territory and of each calendar month's DSRs is kept (dsrs.storage.kept_answers), at the largest N
whose head can be kept, so that the first request for it, and for any smaller N, reads a kept
answer. A selection already kept (asked, or warmed before) is left as it is; a deletion forgets
what counted its DSR, and the next batch warms it again."""

import calendar
import logging
from datetime import date

from django.conf import settings
from procrastinate.contrib.django import app

from dsrs.models import DSR
from dsrs.percentile import ranking_over_segments
from dsrs.percentile.selection import selected_dsrs
from dsrs.storage import kept_answers
from dsrs.storage.columnar.jobs import QUEUE, WARM_ANSWERS, WARM_PRIORITY

logger = logging.getLogger(__name__)


@app.task(name=WARM_ANSWERS, queue=QUEUE, priority=WARM_PRIORITY)
def warm_answers() -> None:
    # Kept answers leave oldest first (dsrs.storage.kept_answers): no more selections than answers
    # are kept, warmed from the last asked to the first, so that warming never evicts what it
    # warmed and the answer for all DSRs is the last of them to leave.
    for filters in reversed(first_asked_selections()[: settings.PERCENTILE_CACHE_ANSWERS]):
        warm_selection(**filters)


def first_asked_selections() -> list[dict]:
    """The filters of the selections users ask first, first asked first: none, each territory,
    each calendar month that holds a DSR's whole period, the latest first."""
    ingested = DSR.objects.filter(status=DSR.Status.INGESTED)
    territories = sorted(set(ingested.values_list("territory_id", flat=True)))
    months = sorted(
        {
            start.replace(day=1)
            for start, end in ingested.values_list("period_start", "period_end")
            if (start.year, start.month) == (end.year, end.month)
        },
        reverse=True,
    )
    return [
        {},
        *({"territory": territory} for territory in territories),
        *({"period_start": month, "period_end": _month_end(month)} for month in months),
    ]


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def warm_selection(**filters) -> bool:
    """Keep the answer of the selection of `filters` unless one is kept; False when it cannot be
    kept (no DSR, a DSR without its segment, a head beyond what answers keep)."""
    dsrs = selected_dsrs(**filters)
    if not dsrs:
        return False
    dsr_ids = [dsr.id for dsr in dsrs]
    with kept_answers.computing(dsr_ids):
        if kept_answers.is_kept(dsr_ids):
            return True
        ranking = ranking_over_segments(dsrs, None)
        if ranking is None:
            return False
        with ranking:
            if ranking.candidates > settings.PERCENTILE_CACHE_RESOURCES:
                return False
            kept_answers.keep(dsr_ids, ranking.number, ranking.total, ranking.head())
    logger.info("answer of %s kept up to N=%s (%s resources)", filters or "all", ranking.number, ranking.candidates)
    return True
