"""A database restart under a running API: its pooled connections are checked before each
request reuses them (CONN_HEALTH_CHECKS), so no request fails once the server is back."""

import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from dsrs.tests.support.paths import PROJECT
from dsrs.tests.support.processes import SERVING, wait_until

pytestmark = pytest.mark.slow  # a server of its own, restarted


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0  # not listening yet


def test_the_api_answers_again_as_soon_as_the_database_is_back(scratch_server):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # One worker of one thread: every request reuses the one pooled connection.
    api = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "dsr_project.wsgi", "--bind", f"127.0.0.1:{port}", "--threads", "1"],
        cwd=PROJECT,
        env={
            **os.environ,
            "DATABASE_URL": scratch_server.new_database(),
            **SERVING,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: status_of(f"{base}/health/") == 200, what="the API to serve")
        assert status_of(f"{base}/dsrs/") == 200

        scratch_server.crash()  # every connection to it is gone
        scratch_server.start()

        statuses = [status_of(f"{base}/dsrs/") for _ in range(3)]
    finally:
        api.terminate()
        _, errors = api.communicate(timeout=30)
    assert "Traceback" not in errors, errors
    assert statuses == [200, 200, 200]
