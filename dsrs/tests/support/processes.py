"""Where the fault tests run the real `ingest_dsr` command in processes of its own, and crash
PostgreSQL servers of their own.

The processes use the test database (or a scratch server's), so the tests that start them commit
(the committing_db fixture) and watch their database sessions in pg_stat_activity, by
application name.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from django.db import connection

from dsr_project.embedded_postgres import start_server
from dsrs.tests.support.paths import PROJECT

# Enough lines for a COPY to last long enough to be caught and paused in it.
BIG_FILE_LINES = 200_000
# How the tests' servers run, as the steering side starts them: production settings over plain
# HTTP on any host name, the reads public.
SERVING = {"DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "*", "API_READ_ACCESS": "public"}


def database_url() -> str:
    """DATABASE_URL of the test database, for the processes started here."""
    connection.ensure_connection()
    info = connection.connection.info
    credentials = f"{quote(info.user, safe='')}:{quote(info.password, safe='')}@"
    query = urlencode({"host": info.host, "port": info.port})
    return f"postgres://{credentials}/{quote(info.dbname, safe='')}?{query}"


def manage(
    *args: str, app_name: str, extra_env: dict | None = None, url: str | None = None, **popen
) -> subprocess.Popen:
    """`python manage.py ARGS` against the test database (or `url`), its session named `app_name`."""
    env = {**os.environ, "DATABASE_URL": url or database_url(), "PGAPPNAME": app_name, **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
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
    row = conn.execute(
        "SELECT query FROM pg_stat_activity WHERE application_name = %s AND state <> 'idle'", [app_name]
    ).fetchone()
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
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE 'dsrs\\_usage\\_%' ORDER BY relname"
    ).fetchall()
    return [row[0] for row in rows]


class ScratchServer:
    """A PostgreSQL server set up exactly as the embedded one, in a folder of its own, holding a
    migrated template database: each test takes a fresh copy, then may crash the server."""

    TEMPLATE = "dsr_template"

    def __init__(self, folder: Path):
        self.pgdata = folder / ".pgdata"
        server = start_server(self.pgdata)
        self.admin_url = server.get_uri("postgres")
        self.bin_path = server.bin_path  # its client programs: pg_dump, pg_restore
        self.databases = 0
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.TEMPLATE}")
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
            cwd=PROJECT,
            env={**os.environ, "DATABASE_URL": self.url(self.TEMPLATE)},
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr

    def url(self, database: str) -> str:
        return self.admin_url.replace("/postgres?", f"/{database}?", 1)

    def new_database(self) -> str:
        """The URL of a fresh copy of the migrated template."""
        self.databases += 1
        name = f"dsr_{self.databases}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}")
        return self.url(name)

    def unowned_files(self, url: str) -> list[str]:
        """The non-empty files of `url`'s database that no relation owns: what a crash orphans."""
        with psycopg.connect(url) as conn:
            (oid,) = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
            owned = {str(node) for (node,) in conn.execute("SELECT pg_relation_filenode(oid) FROM pg_class")}
        files = (self.pgdata / "base" / str(oid)).iterdir()
        return sorted(
            f.name
            for f in files
            if f.name.split("_")[0].split(".")[0] not in owned and f.name[0].isdigit() and f.stat().st_size
        )

    def postmaster_pid(self) -> int:
        return int((self.pgdata / "postmaster.pid").read_text().split()[0])

    def crash(self) -> None:
        """An immediate shutdown (pg_ctl stop -m immediate): no checkpoint, no flush, as a power cut
        leaves the WAL already written to disk."""
        self._signal_and_wait(signal.SIGQUIT)

    def start(self) -> None:
        start_server(self.pgdata)

    def remove(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.crash()  # no checkpoint: the folder goes next
        shutil.rmtree(self.pgdata.parent, ignore_errors=True)

    def _signal_and_wait(self, signum: int) -> None:
        pid = self.postmaster_pid()
        os.kill(pid, signum)

        def stopped() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(stopped, what="the server to stop")
