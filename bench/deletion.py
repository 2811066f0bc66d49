"""Deleting a 2.5M-line DSR: the service the admin calls, against one DELETE of the same lines."""

import gzip
import shutil
import time
from pathlib import Path

from bench.harness import CACHE, Report
from bench.ingest import ingest_in_subprocess

# Another report key than the benchmark's other DSRs, which stay ingested for the queries.
NAME = "Spotify_SpotifyPremium_FR_EUR_20200101-20200131.tsv.gz"


def second_delivery(path: Path) -> Path:
    """The same lines under another name and SHA-256, since an ingested file is not taken twice:
    a copy with an empty gzip member appended, which readers decompress to nothing."""
    copy = CACHE / "deletion" / NAME
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, copy)
    with open(copy, "ab") as file:
        file.write(gzip.compress(b""))
    return copy


def delete_statement_seconds(dsr_id: int) -> float:
    """What Django's collector does at best: one DELETE over every line, timed, then rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute("DELETE FROM dsrs_usage WHERE dsr_id = %s", [dsr_id])
            seconds = time.perf_counter() - started
            deleted = cursor.rowcount
        transaction.set_rollback(True)
    print(f"  (DELETE removed {deleted:,} lines before its rollback)", flush=True)
    return seconds


def delete_service_seconds(dsr_id: int) -> float:
    from dsrs.models import DSR
    from dsrs.storage.deletion import delete_dsrs

    started = time.perf_counter()
    delete_dsrs(DSR.objects.filter(id=dsr_id))
    return time.perf_counter() - started


def run(report: Report, path: Path) -> None:
    print(f"deletion of a DSR with the lines of {path.name}", flush=True)
    outcome = ingest_in_subprocess(second_delivery(path))
    dsr_id, lines = outcome["dsr_id"], outcome["lines"]
    statement = delete_statement_seconds(dsr_id)
    service = delete_service_seconds(dsr_id)
    report.add(f"delete_dsrs (admin's deletion), {lines:,}-line DSR (target <= 1 s)", f"{service:.3f} s")
    report.add(f"DELETE FROM dsrs_usage, same {lines:,} lines in one statement", f"{statement:.2f} s")
