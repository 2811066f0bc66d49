"""Where the DSRs a top-percentile request covers are chosen (docs/api.md, "Which DSRs count")."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dsrs.models import DSR

ALPHA_2 = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True)
class SelectedDsr:
    id: int
    dsp: str
    eur_rate: Decimal
    # 0 for the least recent of the selection: metadata comes from the most recent DSR, which is
    # the one with the latest period end, then the highest id.
    recency: int
    columnar_copy: str  # its file name in COLUMNAR_DIR, or empty (dsrs.storage.columnar)
    resource_segment: str  # the same, of its resource segment (dsrs.storage.columnar.segments)


def selected_dsrs(
    *, territory: str | None = None, period_start: date | None = None, period_end: date | None = None
) -> list[SelectedDsr]:
    """The ingested DSRs of `territory` (alpha-2, any case) within the period, in id order."""
    dsrs = DSR.objects.filter(status=DSR.Status.INGESTED)
    if territory is not None:
        # Territory is free text in the contract: anything but a two-letter code matches nothing.
        dsrs = dsrs.filter(territory_id=territory.upper()) if ALPHA_2.fullmatch(territory) else dsrs.none()
    if period_start is not None:
        dsrs = dsrs.filter(period_start__gte=period_start)
    if period_end is not None:
        dsrs = dsrs.filter(period_end__lte=period_end)
    rows = list(dsrs.values_list("id", "dsp", "eur_rate", "period_end", "columnar_copy", "resource_segment"))
    by_recency = sorted(rows, key=lambda row: (row[3], row[0]))
    recency = {row[0]: rank for rank, row in enumerate(by_recency)}
    return [
        SelectedDsr(id, dsp, eur_rate, recency[id], copy, segment)
        for id, dsp, eur_rate, _end, copy, segment in sorted(rows)
    ]


def selected_dsr_ids(**filters) -> list[int]:
    return [dsr.id for dsr in selected_dsrs(**filters)]
