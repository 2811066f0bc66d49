"""Where an API process's DuckDB lives: one in-memory database per process, whose connections the
percentile's rankings take (segment_ranking, columnar_ranking). DuckDB's memory limit is its
database's: every ranking running at once in the process shares COLUMNAR_MEMORY_LIMIT and spills
beyond it, so the process stays within that and its own memory however many threads ask
(README, "Memory"). Its spill folder is the process's own, under COLUMNAR_DIR/.spill."""

import os
import tempfile
import threading
from pathlib import Path

import duckdb
from django.conf import settings

from dsrs.storage.columnar.copy_text import quoted

_lock = threading.Lock()
_database: duckdb.DuckDBPyConnection | None = None


def connection() -> duckdb.DuckDBPyConnection:
    """A new connection to this process's database (close it after use); its temporary tables are
    its own."""
    global _database
    with _lock:
        if _database is None:
            spill = Path(settings.COLUMNAR_DIR) / ".spill"
            spill.mkdir(parents=True, exist_ok=True)
            _database = duckdb.connect(config={"temp_directory": tempfile.mkdtemp(dir=spill, prefix=f"{os.getpid()}-")})
        _database.execute(f"SET memory_limit = {quoted(settings.COLUMNAR_MEMORY_LIMIT)}")
        return _database.cursor()
