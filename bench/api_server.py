"""The API under gunicorn, as deployed, on the benchmark database: requests timed end to end over
HTTP, and the peak memory of the worker processes that answered them."""

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.harness import ROOT, bench_url


@dataclass(frozen=True)
class Answer:
    seconds: float
    status: int
    size: int  # bytes of the body
    resources: int  # objects in the JSON array


class ApiServer:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port

    def get(self, path: str) -> Answer:
        """GET `path`, reading the body as it streams, without holding it."""
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1800)
        connection.request("GET", path)
        response = connection.getresponse()
        size = resources = 0
        tail = b""
        while block := response.read(1 << 20):
            size += len(block)
            # A resource is the one object with a "dsp_id" key; count across block edges.
            resources += (tail + block).count(b'"dsp_id":') - tail.count(b'"dsp_id":')
            tail = block[-16:]
        connection.close()
        return Answer(time.perf_counter() - started, response.status, size, resources)

    def peak_rss_mb(self) -> float:
        """The largest peak RSS of the worker processes (not the master, which answers nothing)."""
        workers = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        return max(_vm_hwm_mb(int(pid)) for pid in workers)


@contextmanager
def api_server(workers: int, extra_env: dict | None = None) -> Iterator[ApiServer]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": bench_url(),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "*",
        "LOG_LEVEL": "WARNING",
        # Read as `make run` serves: the benchmark measures the ranking, not a token's lookup.
        "API_READ_ACCESS": "public",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "dsr_project.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "1800",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_until_serving(port)
        yield ApiServer(process, port)
    finally:
        process.terminate()
        process.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/health/")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("make bench: gunicorn did not answer /health/ within 60 s")


def _vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/PID/status: make bench measures memory on Linux only")
