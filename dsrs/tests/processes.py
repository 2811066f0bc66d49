"""Where the fault tests run the real `ingest_dsr` command in processes of its own.

The processes use the test database, so the tests that start them commit (transaction=True) and
watch the processes' database sessions through pg_stat_activity, by application name.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from django.db import connection

PROJECT = Path(__file__).resolve().parents[2]
# Enough lines for a COPY to last long enough to be caught and paused in it.
BIG_FILE_LINES = 300_000


def database_url() -> str:
    """DATABASE_URL of the test database, for the processes started here."""
    connection.ensure_connection()
    info = connection.connection.info
    credentials = f"{quote(info.user, safe='')}:{quote(info.password, safe='')}@"
    query = urlencode({"host": info.host, "port": info.port})
    return f"postgres://{credentials}/{quote(info.dbname, safe='')}?{query}"


def manage(*args: str, app_name: str, extra_env: dict | None = None, url: str | None = None, **popen) -> subprocess.Popen:
    """`python manage.py ARGS` against the test database (or `url`), its session named `app_name`."""
    env = {**os.environ, "DATABASE_URL": url or database_url(), "PGAPPNAME": app_name, **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def write_big_dsr(path: Path, lines: int = BIG_FILE_LINES) -> Path:
    header = b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n"
    path.write_bytes(header + b"".join(b"id%d\tSong %d\tArtist\tISRC\t%d\t%d.5\n" % (i, i, i, i) for i in range(lines)))
    return path


@contextmanager
def observer(url: str | None = None):
    """A connection of its own, in autocommit, to look at the other sessions."""
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        yield conn


def _conninfo(url: str | None) -> str:
    return (url or database_url()).replace("postgres://", "postgresql://", 1)


def session_query(conn, app_name: str) -> str | None:
    row = conn.execute("SELECT query FROM pg_stat_activity WHERE application_name = %s AND state <> 'idle'", [app_name]).fetchone()
    return row[0] if row else None


def wait_until(condition, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def pause_in_copy(conn, process: subprocess.Popen, app_name: str) -> None:
    """Stop `process` (SIGSTOP) once its session is running a COPY."""
    wait_until(
        lambda: (session_query(conn, app_name) or "").startswith("COPY") or process.poll() is not None,
        what=f"{app_name} to start its COPY",
    )
    assert process.poll() is None, f"{app_name} ended before it was caught in its COPY: {process.communicate()}"
    os.kill(process.pid, signal.SIGSTOP)


def resume(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGCONT)


def usage_tables(conn) -> list[str]:
    rows = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'dsrs\\_usage\\_%' ORDER BY relname").fetchall()
    return [row[0] for row in rows]
