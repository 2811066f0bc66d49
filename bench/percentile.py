"""The top-percentile endpoint over 10M usage lines, end to end over HTTP under gunicorn, next to
DuckDB computing the same answer, and the head's resource ids alone, in the same run (the
targets of docs/performance.md)."""

import math
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from bench.api_server import Answer, ApiServer, api_server
from bench.duckdb_baseline import DuckDb
from bench.harness import HUGE_LAST_FIVE_MONTHS, HUGE_TERRITORY, LAST_THREE_MONTHS, Report

RUNS = 2  # cold figures are the best of RUNS, for each engine alike
# Four selections asked at once, none kept before: every DSR, the last three, the first three, two.
CONCURRENT_SELECTIONS = [
    "",
    "period_start=2020-02-01&period_end=2020-04-30",
    "period_start=2020-01-01&period_end=2020-03-31",
    "period_start=2020-02-01&period_end=2020-03-31",
]

T = TypeVar("T")


def forget_answers() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dsrs_percentile_answer")


def best_cold(api: ApiServer, path: str) -> Answer:
    answers = []
    for _ in range(RUNS):
        forget_answers()
        answers.append(api.get(path))
    return min(answers, key=lambda answer: answer.seconds)


def best_of(runs: int, compute: Callable[[], T]) -> tuple[float, T]:
    best, result = math.inf, None
    for _ in range(runs):
        started = time.perf_counter()
        result = compute()
        best = min(best, time.perf_counter() - started)
    return best, result


def compare(ours: list, theirs: list[tuple]) -> str:
    """Whether PostgreSQL and DuckDB give the same head (DuckDB rounds in DOUBLE, so a resource
    at a tie may swap places)."""
    ours_keys = [(r.dsp, r.dsp_id) for r in ours]
    theirs_keys = [(row[0], row[1]) for row in theirs]
    if ours_keys == theirs_keys:
        details = all(
            (r.title, r.artists, r.isrc, r.usages, r.dsrs) == (row[2], row[3], row[4], row[5], row[7])
            and math.isclose(float(r.revenue), row[6], rel_tol=1e-9)
            for r, row in zip(ours, theirs, strict=True)
        )
        return "same resources, same details" if details else "same resources, DIFFERENT DETAILS"
    differ = sum(a != b for a, b in zip(ours_keys, theirs_keys, strict=False)) + abs(len(ours_keys) - len(theirs_keys))
    return f"DIFFERENT: {differ} of {len(theirs_keys)} positions"


def selected(dsrs: list, filters: dict[str, str]) -> list[int]:
    """The ids of `dsrs` that a percentile request with `filters` selects (docs/api.md): of the
    territory, within the period."""
    start, end = (
        date.fromisoformat(filters[name]) if name in filters else None for name in ("period_start", "period_end")
    )
    return [
        d.id
        for d in dsrs
        if ("territory" not in filters or d.territory_id == filters["territory"])
        and (start is None or d.period_start >= start)
        and (end is None or d.period_end <= end)
    ]


def run(report: Report, distribution: str, files: list, *, huge: bool = False) -> None:
    """`huge`: the cold N=10 over every DSR, one territory's and five months' against DuckDB over
    Parquet, and N=100 alone (DuckDB over the .tsv.gz files, N=100 in DuckDB and the concurrent
    requests would take most of an hour at 100M lines)."""
    from django.db import connection

    from dsrs.models import DSR
    from dsrs.percentile import top_percentile_resources

    print(f"top percentile over the {distribution} DSRs", flush=True)
    with connection.cursor() as cursor:
        # The statistics autovacuum gathers within a minute of a load on a running server.
        cursor.execute("ANALYZE dsrs_usage")
    dsrs = list(DSR.objects.filter(path__in=[str(path) for path in files], status=DSR.Status.INGESTED).order_by("id"))
    every = [d.id for d in dsrs]
    lines = sum(d.lines_stored for d in dsrs)
    parquet = DuckDb(dsrs, parquet=True)
    tsv = None if huge else DuckDb(dsrs, parquet=False)
    label = f"{distribution}, {lines / 1e6:g}M lines"
    if all(d.resource_segment for d in dsrs):
        engine = "DuckDB over resource segments"
    elif all(d.columnar_copy for d in dsrs):
        engine = "DuckDB over columnar copies"
    else:
        engine = "PostgreSQL"

    if huge:
        filtered = [("territory ES", HUGE_TERRITORY), ("last 5 months", HUGE_LAST_FIVE_MONTHS)]
    else:
        filtered = [("last 3 DSRs", LAST_THREE_MONTHS)]
    selections = [("every DSR", every, {})] + [
        (name, ids, filters) for name, filters in filtered if (ids := selected(dsrs, filters))
    ]
    first, cold, warm, other = {}, {}, {}, {}
    with api_server(workers=1) as api:
        api.get("/dsrs/")  # a running server's: its imports done and its connection open
        for name, _ids, filters in selections:
            query = "&".join(f"{key}={value}" for key, value in filters.items())
            first[name] = api.get(f"/resources/percentile/10?{query}")
        for name, _ids, filters in selections:
            query = "&".join(f"{key}={value}" for key, value in filters.items())
            cold[name] = best_cold(api, f"/resources/percentile/10?{query}")
            warm[name] = api.get(f"/resources/percentile/10?{query}")
            other[name] = api.get(f"/resources/percentile/5?{query}")
        peak_rss_n10 = api.peak_rss_mb()

    for name, ids, filters in selections:
        ids_seconds, head = best_of(RUNS, lambda ids=ids: parquet.head_ids(ids, 10))
        duck_seconds, theirs = best_of(RUNS, lambda ids=ids: parquet.top_percentile(ids, 10))
        agreement = compare(top_percentile_resources(number=10, **filters), theirs)
        same_head = "the same" if head == [(row[0], row[1]) for row in theirs] else "DIFFERENT from"
        ours = cold[name]
        lines = sum(d.lines_stored for d in dsrs if d.id in ids)
        what = f"N=10 cold, {name} ({lines / 1e6:g}M lines, {ours.resources:,} resources), {label}"
        report.add(f"{what}: API over HTTP ({engine})", f"{ours.seconds:.2f} s ({ours.size / 1e6:.1f} MB)")
        report.add(
            f"{what}: DuckDB, Parquet copies",
            f"{duck_seconds:.2f} s; ratio API / DuckDB {ours.seconds / duck_seconds:.2f} (target <= 2); answers: "
            f"{agreement}",
        )
        report.add(
            f"{what}: DuckDB ids only, Parquet copies",
            f"{ids_seconds:.2f} s, a head {same_head} its whole answer's; ratio API / DuckDB ids only "
            f"{ours.seconds / ids_seconds:.2f} (target <= 1.5)",
        )
        report.add_cold(f"{name}, {label}", api=ours.seconds, ids_only=ids_seconds, whole=duck_seconds)
        if tsv is not None:
            tsv_seconds, _ = best_of(1, lambda ids=ids: tsv.top_percentile(ids, 10))
            report.add(f"{what}: DuckDB, the .tsv.gz files", f"{tsv_seconds:.2f} s")
        report.add(
            f"N=10 first asked after the background work, {name}, {label}",
            f"{first[name].seconds * 1000:.0f} ms, {first[name].resources:,} resources (target <= 100 ms)",
        )
        report.add(
            f"N=10 again, {name}, {label}",
            f"{warm[name].seconds * 1000:.0f} ms, {warm[name].resources:,} resources (target <= 100 ms)",
        )
        report.add(
            f"N=5 after N=10, {name}, {label}",
            f"{other[name].seconds * 1000:.0f} ms, {other[name].resources:,} resources (target <= 100 ms)",
        )
    report.add(f"API worker peak RSS after the N=10 and N=5 requests, {label}", f"{peak_rss_n10:.0f} MB")
    with api_server(workers=1) as api:  # a fresh process: its peak RSS is N=100's alone
        everything = api.get("/resources/percentile/100")
        peak_rss = api.peak_rss_mb()
    report.add(
        f"N=100, every DSR, {label}: API over HTTP, streamed ({engine})",
        f"{everything.seconds:.2f} s, {everything.resources:,} resources, {everything.size / 1e6:.0f} MB; "
        f"API peak RSS {peak_rss:.0f} MB (target <= 1 GB)",
    )
    if huge:
        parquet.close()
        return
    duck_seconds, duck_size = best_of(1, lambda: parquet.top_percentile_json_size(every, 100))
    report.add(
        f"N=100, every DSR, {label}: DuckDB, Parquet copies, JSON written to a file",
        f"{duck_seconds:.2f} s ({duck_size / 1e6:.0f} MB); ratio API / DuckDB "
        f"{everything.seconds / duck_seconds:.2f} (target <= 1.5)",
    )
    parquet.close()
    tsv.close()
    run_concurrent(report, label)


def run_concurrent(report: Report, label: str) -> None:
    forget_answers()
    answers = []
    with api_server(workers=4) as api:
        started = time.perf_counter()
        threads = [
            threading.Thread(target=lambda query=query: answers.append(api.get(f"/resources/percentile/10?{query}")))
            for query in CONCURRENT_SELECTIONS
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        peak_rss = api.peak_rss_mb()
    statuses = sorted(answer.status for answer in answers)
    report.add(
        f"4 concurrent cold N=10 (4 selections), gunicorn with 4 workers, {label}",
        f"statuses {statuses}, all answered in {seconds:.2f} s, worker peak RSS {peak_rss:.0f} MB",
    )
