"""Ingestion throughput against psql \\copy of the same file, and the ingest process's peak memory."""

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import ROOT, Report, bench_url, run_psql


def ingest_in_subprocess(path: Path) -> dict:
    """Run the ingestion service in a process of its own, so that its peak RSS is its own."""
    settle_disk()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.ingest_one", str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": bench_url()},
        check=True,
        capture_output=True,
        text=True,
    )
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    if not outcome["ok"]:
        sys.exit(f"benchmark ingestion failed: {outcome['message']}")
    return outcome


def run_background_jobs() -> float:
    """Run one `ingest_worker`, as `make run` does, until the jobs the ingestions queued (resource
    segments, then warmed answers) are done; returns its seconds. Called once the DSRs the queries
    run over are ingested, before any query, so that queries meet what a running service has ready."""
    started = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "ingest_worker"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": bench_url()},
        stdout=subprocess.DEVNULL,
    )
    try:
        while _pending_jobs():
            if worker.poll() is not None:
                sys.exit(f"the benchmark's worker stopped (exit {worker.returncode})")
            time.sleep(0.5)
        return time.perf_counter() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)


def _pending_jobs() -> int:
    from django.db import connection

    from dsrs.storage.columnar.jobs import QUEUE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s AND status IN ('todo', 'doing')", [QUEUE]
        )
        return cursor.fetchone()[0]


def settle_disk() -> None:
    """Flush what earlier steps left to write (a decompressed file, a dropped table, the previous
    ingestion's lines) before a timed step: an ingestion's commit waits for its own lines to reach
    the disk, and would otherwise queue behind them, which is no cost of its own."""
    os.sync()


def psql_copy_seconds(path: Path) -> float:
    """psql \\copy of the decompressed file into an UNLOGGED table of six text columns: the
    machine's physical limit for getting these bytes into PostgreSQL."""
    plain = path.with_suffix("")  # .tsv, kept beside the .gz in the cache
    if not plain.exists():
        with gzip.open(path, "rb") as source, open(plain.with_suffix(".partial"), "wb") as target:
            shutil.copyfileobj(source, target, 4 << 20)
        plain.with_suffix(".partial").rename(plain)
    run_psql(
        "DROP TABLE IF EXISTS bench_copy_baseline",
        "CREATE UNLOGGED TABLE bench_copy_baseline (dsp_id text, title text, artists text, isrc text, usages text, "
        "revenue text)",
    )
    settle_disk()
    started = time.perf_counter()
    run_psql(f"\\copy bench_copy_baseline FROM '{plain}' WITH (FORMAT text, HEADER true)")
    seconds = time.perf_counter() - started
    run_psql("DROP TABLE bench_copy_baseline")
    return seconds


def run(report: Report, path: Path, distribution: str) -> dict:
    """Ingest `path`, measured against psql \\copy of the same file."""
    print(f"ingestion of {path.name} ({distribution})", flush=True)
    copy_seconds = psql_copy_seconds(path)
    outcome = ingest_in_subprocess(path)
    lines = outcome["lines"]
    ingest_rate = lines / outcome["seconds"]
    copy_rate = lines / copy_seconds
    label = f"{lines:,} lines ({distribution}, .gz)"
    committed_rate = lines / (outcome["seconds"] - outcome["copy_seconds"])
    report.add(
        f"ingest_dsr, {label}",
        f"{outcome['seconds']:.2f} s, {ingest_rate:,.0f} lines/s, of which the columnar copy after the commit "
        f"{outcome['copy_seconds']:.2f} s",
    )
    report.add(
        "psql \\copy, same file decompressed, UNLOGGED text table", f"{copy_seconds:.2f} s, {copy_rate:,.0f} lines/s"
    )
    report.add(
        f"throughput ratio ingest / psql \\copy, {distribution}, columnar copy included (target >= 0.5)",
        f"{ingest_rate / copy_rate:.2f}",
    )
    report.add(
        f"throughput ratio ingest / psql \\copy, {distribution}, until the DSR is committed",
        f"{committed_rate / copy_rate:.2f}",
    )
    report.add(f"ingest peak RSS, {label} (target <= 200 MB)", f"{outcome['peak_rss_mb']:.0f} MB")
    return outcome


def run_dsrf(report: Report, path: Path, tsv: dict) -> None:
    """Ingest a DSRF file of as many sales as the TSV file `tsv` (an outcome of run) had lines,
    and drop its DSR: the percentile figures are over the TSV files only."""
    from dsrs.models import DSR
    from dsrs.storage.deletion import delete_dsrs

    print(f"ingestion of {path.name} (DSRF)", flush=True)
    outcome = ingest_in_subprocess(path)
    lines = outcome["lines"]
    rate = lines / outcome["seconds"]
    tsv_rate = tsv["lines"] / tsv["seconds"]
    report.add(f"ingest_dsr, DSRF of {lines:,} sales (.gz)", f"{outcome['seconds']:.2f} s, {rate:,.0f} sales/s")
    report.add("throughput ratio DSRF / TSV ingest_dsr (lines per second)", f"{rate / tsv_rate:.2f}")
    report.add(f"ingest peak RSS, DSRF of {lines:,} sales (target <= 200 MB)", f"{outcome['peak_rss_mb']:.0f} MB")
    delete_dsrs(DSR.objects.filter(sha256=DSR.objects.get(id=outcome["dsr_id"]).sha256))


def run_large(report: Report, path: Path) -> None:
    """Peak RSS must not grow with the file: ingest a 4x larger one."""
    print(f"ingestion of {path.name}", flush=True)
    outcome = ingest_in_subprocess(path)
    report.add(
        f"ingest peak RSS, {outcome['lines']:,} lines (target <= 200 MB)",
        f"{outcome['peak_rss_mb']:.0f} MB ({outcome['seconds']:.1f} s, {outcome['lines'] / outcome['seconds']:,.0f} "
        "lines/s)",
    )
