"""The top-percentile query over the benchmark's 10M usage lines, next to DuckDB computing the
same answer straight from the same .tsv.gz files in the same run (design.md section 5)."""

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from bench.harness import Report

NUMBER = 10
TERRITORY = "ES"
RUNS = 2  # the best of RUNS, for each engine alike

# design.md section 3 in DuckDB: per (DSR, dsp_id) sums, converted with the DSR's stored EUR
# rate, summed per (DSP, dsp_id); metadata of the most recent DSR with a non-empty value.
DUCKDB_TOP_PERCENTILE = """
WITH lines AS (
    SELECT d.dsr_id, d.dsp, d.eur_rate, d.recency, l.dsp_id,
           nullif(l.title, '') AS title, nullif(l.artists, '') AS artists, nullif(l.isrc, '') AS isrc,
           coalesce(nullif(l.usages, '')::HUGEINT, 0) AS usages,
           coalesce(nullif(l.revenue, '')::DOUBLE, 0) AS revenue
    FROM read_csv($files, delim = '\t', header = true, quote = '', escape = '', all_varchar = true, filename = true) l
    JOIN dsr d ON d.path = l.filename
),
per_dsr AS (
    SELECT dsr_id, dsp, recency, dsp_id, sum(usages) AS usages, sum(revenue) / any_value(eur_rate) AS revenue,
           max(title) AS title, max(artists) AS artists, max(isrc) AS isrc
    FROM lines
    GROUP BY dsr_id, dsp, recency, dsp_id
),
resources AS (
    SELECT dsp, dsp_id, sum(usages) AS usages, sum(revenue) AS revenue, list_sort(list(dsr_id)) AS dsrs,
           arg_max(title, recency) FILTER (WHERE title IS NOT NULL) AS title,
           arg_max(artists, recency) FILTER (WHERE artists IS NOT NULL) AS artists,
           arg_max(isrc, recency) FILTER (WHERE isrc IS NOT NULL) AS isrc
    FROM per_dsr
    GROUP BY dsp, dsp_id
),
ranked AS (
    SELECT *,
           coalesce(sum(revenue) OVER (
               ORDER BY revenue DESC, dsp_id, dsp ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ), 0) AS revenue_before,
           sum(revenue) OVER () AS total_revenue
    FROM resources
)
SELECT dsp, dsp_id, coalesce(title, ''), coalesce(artists, ''), coalesce(isrc, ''), usages, revenue, dsrs
FROM ranked
WHERE revenue_before * 100 < total_revenue * $number
ORDER BY revenue DESC, dsp_id, dsp
"""


def duckdb_top_percentile(dsrs: list, number: int) -> list[tuple]:
    with duckdb.connect() as duck:
        duck.execute("CREATE TABLE dsr (dsr_id BIGINT, dsp VARCHAR, path VARCHAR, eur_rate DOUBLE, recency VARCHAR)")
        duck.executemany(
            "INSERT INTO dsr VALUES (?, ?, ?, ?, ?)",
            [(d.id, d.dsp, d.path, float(d.eur_rate), f"{d.period_end:%Y%m%d}{d.id:019d}") for d in dsrs],
        )
        return duck.execute(DUCKDB_TOP_PERCENTILE, {"files": [d.path for d in dsrs], "number": number}).fetchall()


def best_of(runs: int, compute: Callable[[], list]) -> tuple[float, list]:
    best = math.inf
    for _ in range(runs):
        started = time.perf_counter()
        answer = compute()
        best = min(best, time.perf_counter() - started)
    return best, answer


def check_same(label: str, ours: list, theirs: list[tuple]) -> None:
    ours_exact = [(r.dsp, r.dsp_id, r.title, r.artists, r.isrc, r.usages, r.dsrs) for r in ours]
    theirs_exact = [(*row[:6], row[7]) for row in theirs]
    close = all(math.isclose(float(r.revenue), row[6], rel_tol=1e-9) for r, row in zip(ours, theirs))
    if ours_exact != theirs_exact or not close:
        sys.exit(f"top percentile, {label}: PostgreSQL and DuckDB disagree:\n{ours}\n{theirs}")


def run(report: Report, files: list[Path]) -> None:
    """Time the selector for N=10, unfiltered and for one territory, against DuckDB."""
    # Imported here: bench.run sets Django up (harness.setup_django) after importing this module.
    from django.db import connection

    from dsrs.models import DSR
    from dsrs.percentile import top_percentile_resources

    print(f"top percentile N={NUMBER} over {len(files)} DSRs", flush=True)
    with connection.cursor() as cursor:
        # The statistics autovacuum gathers within a minute of a load on a running server.
        cursor.execute("ANALYZE dsrs_usage")
    dsrs = list(DSR.objects.filter(path__in=[str(path) for path in files], status=DSR.Status.INGESTED))
    lines = sum(d.lines_stored for d in dsrs)
    for territory in (None, TERRITORY):
        label = f"territory={territory}" if territory else "unfiltered"
        chosen = [d for d in dsrs if territory in (None, d.territory_id)]
        chosen_lines = sum(d.lines_stored for d in chosen)
        pg_seconds, ours = best_of(RUNS, lambda: top_percentile_resources(number=NUMBER, territory=territory))
        duck_seconds, theirs = best_of(RUNS, lambda: duckdb_top_percentile(chosen, NUMBER))
        check_same(label, ours, theirs)
        what = f"top percentile N={NUMBER}, {label} ({chosen_lines:,} of {lines:,} lines, {len(ours)} resources)"
        report.add(f"{what}: selector on PostgreSQL", f"{pg_seconds:.2f} s")
        report.add(f"{what}: DuckDB from the .tsv.gz files, same answer", f"{duck_seconds:.2f} s")
