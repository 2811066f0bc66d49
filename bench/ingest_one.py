"""Ingest one file in this process and print what the benchmark needs as JSON."""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsr_project.settings")

import django

django.setup()

import time

from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.storage import columnar

copy_seconds = 0.0
write_copies = columnar.write_copies


def timed_write_copies(dsrs: list[DSR], streamed: columnar.StreamedCopies | None = None) -> None:
    """The part of the ingestion that publishes the columnar copies, after the commit: waiting for
    the copies written while the lines loaded, or reading them back."""
    global copy_seconds
    started = time.perf_counter()
    write_copies(dsrs, streamed)
    copy_seconds += time.perf_counter() - started


columnar.write_copies = timed_write_copies


def peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the forking parent (the
    # benchmark, which may have just generated a file with a large catalogue) across exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: make bench measures memory on Linux only")


result = ingest_dsr(path=Path(sys.argv[1]))
print(
    json.dumps(
        {
            "ok": result.ok,
            "message": result.message,
            "dsr_id": result.dsr.id if result.dsr else None,
            "lines": result.lines_stored,
            "seconds": result.seconds,
            "copy_seconds": copy_seconds,
            "peak_rss_mb": peak_rss_mb(),
        }
    )
)
