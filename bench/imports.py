"""Ingestion as a service: a file uploaded over HTTP to gunicorn and ingested by an ingest_worker
process, against ingest_dsr of the same file in the same run; the web process's peak memory
during the upload; and two workers on two files against one worker on both.

    python -m bench.imports    # this part alone (the files of make bench, generated if missing)
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bench import harness
from bench.api_server import api_server
from bench.harness import ROOT, Report, bench_url
from bench.ingest import ingest_in_subprocess

if TYPE_CHECKING:  # Django is set up at run time, after this module is imported
    from django.test.utils import override_settings

UPLOAD_CHUNK_BYTES = 1 << 20


def run(report: Report, files: list[Path]) -> None:
    """`files`: two DSRs of different reports, none of them ingested yet."""
    from django.core.files import File

    from dsrs.imports.services import create_import
    from dsrs.models import DSR
    from dsrs.storage.deletion import delete_dsrs

    path = files[0]
    print(f"upload and worker ingestion of {path.name}", flush=True)
    baseline = ingest_in_subprocess(path)
    delete_dsrs(DSR.objects.all())

    with (
        tempfile.TemporaryDirectory(prefix="dsr-bench-imports-", dir=harness.CACHE) as storage,
        imports_storage(storage),
    ):
        env = {"IMPORTS_STORAGE_DIR": storage}
        with workers(1, env), api_server(1, env) as server:
            started = time.perf_counter()
            import_id = upload(server.port, _token(), path)
            uploaded = time.perf_counter() - started
            (record,) = wait_finished([import_id])
            total = time.perf_counter() - started
            web_rss = server.peak_rss_mb()
        worker_seconds = (record.finished_at - record.started_at).total_seconds()
        size_mb = path.stat().st_size / 1e6
        report.add(
            f"upload over HTTP ({size_mb:.0f} MB .gz) + worker ingestion, {record.lines_read:,} lines",
            f"{total:.2f} s (upload {uploaded:.2f} s, worker {worker_seconds:.2f} s), {record.status}",
        )
        report.add("ingest_dsr, same file", f"{baseline['seconds']:.2f} s")
        report.add(
            "throughput ratio upload + worker / ingest_dsr (target >= 0.8)", f"{baseline['seconds'] / total:.2f}"
        )
        report.add(f"web process peak RSS during the {size_mb:.0f} MB upload (target < 200 MB)", f"{web_rss:.0f} MB")
        delete_dsrs(DSR.objects.all())

        print(f"one worker on {len(files)} files, then {len(files)} workers", flush=True)
        seconds = {}
        for count in (1, len(files)):
            with workers(count, env):
                started = time.perf_counter()
                ids = []
                for file in files:
                    with open(file, "rb") as content:
                        ids.append(create_import(file_name=file.name, content=File(content)).id)
                done = wait_finished(ids)
                seconds[count] = time.perf_counter() - started
            assert [r.status for r in done] == ["ingested"] * len(files), [r.message for r in done]
            delete_dsrs(DSR.objects.all())
        lines = sum(r.lines_read for r in done)
        report.add(
            f"{len(files)} files ({lines:,} lines): 1 worker / {len(files)} workers (speed-up)",
            f"{seconds[1]:.2f} s / {seconds[len(files)]:.2f} s = {seconds[1] / seconds[len(files)]:.2f}x",
        )


def imports_storage(folder: str) -> "override_settings":
    """This process's imports storage in `folder`, as the web and worker processes have it."""
    from django.conf import settings
    from django.test.utils import override_settings

    local = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": folder}}
    return override_settings(STORAGES={**settings.STORAGES, "imports": local})


def _token() -> str:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user, _ = User.objects.get_or_create(username="bench-uploader", defaults={"is_superuser": True})
    return Token.objects.get_or_create(user=user)[0].key


def upload(port: int, token: str, path: Path) -> int:
    """POST /imports/ with the file streamed from disk, as curl -F would; the import's id."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as file:
            while block := file.read(UPLOAD_CHUNK_BYTES):
                yield block
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request(
        "POST",
        "/imports/",
        body=body(),
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
        },
    )
    response = connection.getresponse()
    answer = response.read()
    if response.status != 202:
        sys.exit(f"bench: upload answered {response.status}: {answer[:500]!r}")
    return json.loads(answer)["id"]


def wait_finished(ids: list[int]) -> list:
    from dsrs.models import Import

    while True:
        records = list(Import.objects.filter(id__in=ids).order_by("id"))
        if all(r.status in Import.FINISHED for r in records):
            return records
        time.sleep(0.02)


@contextmanager
def workers(count: int, env: dict) -> Iterator[None]:
    """`count` ingest_worker processes, ready (registered) when the block starts."""
    from django.db import connection

    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "ingest_worker"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": bench_url(), "LOG_LEVEL": "WARNING", **env},
        )
        for _ in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM procrastinate_workers")
                if cursor.fetchone()[0] >= count:
                    break
            if time.monotonic() > deadline:
                sys.exit("bench: the ingestion workers did not start within 60 s")
            time.sleep(0.1)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=120)


def main() -> None:
    harness.setup_django()
    report = Report()
    run(report, [harness.bench_file(name, harness.LINES, seed) for name, seed in list(harness.FILES.items())[:2]])
    report.print_table()


if __name__ == "__main__":
    main()
