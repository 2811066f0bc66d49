"""Ingest one file in this process and print what the benchmark needs as JSON."""

import json
import os
import resource
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsr_project.settings")

import django  # noqa: E402

django.setup()

from dsrs.ingestion import ingest_dsr  # noqa: E402

result = ingest_dsr(path=Path(sys.argv[1]))
print(
    json.dumps(
        {
            "ok": result.ok,
            "message": result.message,
            "dsr_id": result.dsr.id if result.dsr else None,
            "lines": result.lines_stored,
            "seconds": result.seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )
)
