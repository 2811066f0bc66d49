"""Where the top percentile of resources by EUR revenue is computed (docs/api.md, "Top percentile of resources").

`top_percentile_json` is what the API streams; `top_percentile_resources` gives the same answer
as Python objects, for the tests and the benchmark. A kept answer (`cache`) serves a selection of
DSRs asked before; otherwise the ranking is computed over the usage lines and kept when its head
is small enough: by DuckDB over the DSRs' resource segments when each has one (`segment_ranking`),
else over their columnar copies when each has one (`columnar_ranking`), else by PostgreSQL
(`ranking`). `warming` keeps the answers users ask first before they ask.
"""

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
from django.conf import settings

from dsrs.money import EUR_SCALE
from dsrs.percentile.columnar_ranking import ColumnarRanking
from dsrs.percentile.ranking import Ranking
from dsrs.percentile.segment_ranking import SegmentRanking, UnusableSegments
from dsrs.percentile.selection import SelectedDsr, selected_dsr_ids, selected_dsrs
from dsrs.storage import columnar, kept_answers
from dsrs.storage.columnar import jobs
from dsrs.storage.columnar.copy_text import INEXACT
from dsrs.storage.columnar.paths import intact

logger = logging.getLogger(__name__)

__all__ = ["EUR_SCALE", "Resource", "selected_dsr_ids", "top_percentile_json", "top_percentile_resources"]

# The JSON array is sent in pieces of about this size: large enough for few writes, small enough
# that the API process holds a bounded part of a million-resource answer.
CHUNK_BYTES = 256 << 10


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


def top_percentile_json(
    *, number: int, territory: str | None = None, period_start: date | None = None, period_end: date | None = None
) -> Iterator[bytes]:
    """The shortest head of the resources ranked by EUR revenue that reaches `number` % of the
    total, over the selected DSRs (see `selected_dsrs`), as the pieces of a JSON array.

    Ranking: revenue descending, then dsp_id, then DSP, both in binary order. A resource is in the
    head when the revenue of the resources before it is below `number` % of the total, so 100
    gives every resource with revenue > 0, and a total of 0 gives nothing. Revenue in EUR is exact
    at EUR_SCALE decimals (see dsrs.money). Title, artists and isrc are, each on its
    own, the value of the most recent DSR (latest period_end, then highest id) that reports a
    non-empty one; inside one DSR, whose lines have no order, the greatest in binary order.
    """
    if not 1 <= number <= 100:
        raise ValueError(f"number must be between 1 and 100, not {number}")
    filters = {"territory": territory, "period_start": period_start, "period_end": period_end}
    for attempt in (1, 2):
        dsrs = selected_dsrs(**filters)
        if not dsrs:
            yield b"[]"
            return
        dsr_ids = [dsr.id for dsr in dsrs]
        streamed = False
        try:
            with kept_answers.computing(dsr_ids):
                kept = kept_answers.answer(dsr_ids, number)
                if kept is not None:
                    break
                ranking = _ranking(dsrs, number)
                if ranking.candidates is None:
                    # N=100, whose size is known only at its end: streamed under the lock, so that
                    # the same request meanwhile waits and then reads it, if it was kept.
                    with ranking:
                        for piece in _json_array(_keeping_when_small(dsr_ids, ranking)):
                            streamed = True
                            yield piece
                    return
                if ranking.candidates <= settings.PERCENTILE_CACHE_RESOURCES:
                    with ranking:
                        kept_answers.keep(dsr_ids, number, ranking.total, ranking.head())
                    kept = kept_answers.answer(dsr_ids, number)
            break
        except (psycopg.errors.UndefinedTable, duckdb.IOException):
            # A selected DSR was deleted before its lines were read: select again, once.
            if attempt == 2 or streamed:
                raise
    if kept is not None:
        yield kept
        return
    # Too large to keep: streamed as the buckets yield it, outside the lock, so that the API
    # process holds a piece at a time however many resources the answer has.
    with ranking:
        yield from _json_array(_keeping_when_small(dsr_ids, ranking))


def _ranking(dsrs: list[SelectedDsr], number: int) -> Ranking | ColumnarRanking | SegmentRanking:
    """DuckDB's when it can rank this selection (see segment_ranking and _columnar_ranking), else
    PostgreSQL's."""
    return (
        ranking_over_segments(dsrs, number)
        or _columnar_ranking(dsrs, number)
        or Ranking(dsrs, number, settings.PERCENTILE_WORKERS)
    )


# What DuckDB raises for a file it cannot read as what it should be (one damaged at the same size,
# or removed with its DSR meanwhile): the next engine answers, PostgreSQL last.
UNREADABLE = (duckdb.IOException, duckdb.InvalidInputException, duckdb.CatalogException)


def _files_here(dsrs: list[SelectedDsr], field: str) -> dict[int, Path] | None:
    """{dsr id: path} of the file each of `dsrs` names in `field` (columnar_copy, resource_segment),
    or None when one names none, this machine does not see it, or it is not the file that was
    published: a damaged file is never ranked, and is queued to be written again."""
    names = {dsr.id: name for dsr in dsrs if (name := getattr(dsr, field))}
    if len(names) < len(dsrs):
        return None
    for dsr_id, name in names.items():
        found = intact(name)
        if found is None:
            return None
        if not found:
            logger.warning("DSR %s: %s %s is damaged: ranked without it, and written again", dsr_id, field, name)
            jobs.queue_rewrite(dsr_id, field)
            return None
    return {dsr_id: columnar.copy_path(name) for dsr_id, name in names.items()}


def ranking_over_segments(dsrs: list[SelectedDsr], number: int | None) -> SegmentRanking | None:
    """DuckDB's ranking over resource segments, when every selected DSR has one that this machine
    sees and the segments give the answer exactly (see segment_ranking). `number` None: the largest
    N whose head can be kept."""
    if not settings.COLUMNAR_COPIES:
        return None
    segments = _files_here(dsrs, "resource_segment")
    if segments is None:
        return None
    try:
        return SegmentRanking(dsrs, number, segments)
    except duckdb.OutOfRangeException:  # a sum beyond DuckDB's 38 digits
        return None
    except UNREADABLE as error:
        logger.warning("percentile over DSRs %s ranked without their segments: %s", [dsr.id for dsr in dsrs], error)
        return None
    except (UnusableSegments, duckdb.OutOfMemoryException) as error:
        logger.warning("percentile over DSRs %s ranked from the lines: %s", [dsr.id for dsr in dsrs], error)
        return None


def _columnar_ranking(dsrs: list[SelectedDsr], number: int) -> ColumnarRanking | None:
    """DuckDB's ranking, when every selected DSR has a copy of its lines that this machine sees,
    the question is not N=100 (see columnar_ranking), every line's units are exact in DuckDB (see
    copy_text), and the sums fit DuckDB's 38 digits and its memory (COLUMNAR_MEMORY_LIMIT)."""
    if not settings.COLUMNAR_COPIES or number == 100:
        return None
    copies = _files_here(dsrs, "columnar_copy")
    if copies is None:
        return None
    try:
        return ColumnarRanking(dsrs, number, copies)
    except duckdb.OutOfRangeException:  # a sum beyond DuckDB's 38 digits
        return None
    except UNREADABLE as error:
        reason = f"a line DuckDB cannot round exactly ({error})" if INEXACT in str(error) else error
        logger.warning("percentile over DSRs %s ranked by PostgreSQL: %s", [dsr.id for dsr in dsrs], reason)
        return None
    except duckdb.OutOfMemoryException as error:
        logger.warning(
            "percentile over DSRs %s ranked by PostgreSQL: DuckDB %s; raise COLUMNAR_MEMORY_LIMIT",
            [dsr.id for dsr in dsrs],
            error,
        )
        return None


def _keeping_when_small(dsr_ids: list[int], ranking: Ranking) -> Iterator[str]:
    """The resources of the head, as streamed; an N=100 head found small enough is kept after."""
    held = [] if ranking.number == 100 else None
    for before, resource in ranking.head():
        if held is not None:
            held.append((before, resource))
            if len(held) > settings.PERCENTILE_CACHE_RESOURCES:
                held = None
        yield resource
    if held is not None:
        kept_answers.keep(dsr_ids, ranking.number, ranking.total, held)


def top_percentile_resources(**filters) -> list[Resource]:
    answer = json.loads(b"".join(top_percentile_json(**filters)), parse_float=Decimal)
    return [Resource(**{**resource, "revenue": Decimal(resource["revenue"])}) for resource in answer]


def _json_array(resources: Iterable[str]) -> Iterator[bytes]:
    pieces, size, separator = ["["], 1, ""
    for resource in resources:
        pieces += (separator, resource)
        separator = ","
        size += len(resource) + 1
        if size >= CHUNK_BYTES:
            yield "".join(pieces).encode()
            pieces, size = [], 0
    pieces.append("]")
    yield "".join(pieces).encode()
