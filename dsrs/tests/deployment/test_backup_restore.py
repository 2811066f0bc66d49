"""Backup and restore, drilled as docs/deployment.md ("Backup and restore") says: DSRs ingested
and their segments written, the database dumped with pg_dump, then the database and every
derived file destroyed, the dump restored with pg_restore and the derived data rebuilt: every
answer comes back identical, computed again from the restored lines."""

import json
import os
import shutil
import subprocess
import sys

import psycopg
import pytest

from dsrs.tests.support.paths import PROJECT, SAMPLE_DATA, SEED_DATA
from dsrs.tests.support.processes import SERVING

pytestmark = pytest.mark.slow  # a server of its own, destroyed and restored

QUERIES = [
    "/dsrs/",
    "/resources/percentile/10",
    "/resources/percentile/50?territory=ES",
    "/resources/percentile/30?period_start=2020-01-01&period_end=2021-12-31",
    "/resources/percentile/100",
]
# Every answer as a client gets it, printed as one JSON object by the query.
ANSWERS = f"""
import json
from django.test import Client
client = Client()
print(json.dumps({{query: client.get(query).json() for query in {QUERIES!r}}}))
"""


def manage(url: str, columnar: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "COLUMNAR_DIR": columnar,
            **SERVING,
            "LOG_FORMAT": "text",
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_restored_dump_and_rebuilt_derived_data_give_every_answer_back(scratch_server, tmp_path):
    url = scratch_server.new_database()
    database = url.split("?")[0].rsplit("/", 1)[1]
    columnar = str(tmp_path / "columnar")
    files = sorted(SAMPLE_DATA.iterdir()) + (sorted(SEED_DATA.iterdir()) if SEED_DATA.exists() else [])
    manage(url, columnar, "ingest_dsr", *map(str, files))
    manage(url, columnar, "rebuild_columnar")  # the segments a worker writes after each commit
    before = json.loads(manage(url, columnar, "shell", "--no-imports", "-c", ANSWERS))
    dump = tmp_path / "dsr.dump"

    subprocess.run([scratch_server.bin_path / "pg_dump", url, "--format=custom", f"--file={dump}"], check=True)
    with psycopg.connect(scratch_server.admin_url, autocommit=True) as server:
        server.execute(f"DROP DATABASE {database} WITH (FORCE)")
        server.execute(f"CREATE DATABASE {database}")
    shutil.rmtree(columnar)
    subprocess.run([scratch_server.bin_path / "pg_restore", f"--dbname={url}", "--no-owner", str(dump)], check=True)
    rebuilt = manage(url, columnar, "rebuild_columnar")
    with psycopg.connect(url, autocommit=True) as restored:
        restored.execute("DELETE FROM dsrs_percentile_answer")  # computed again, not read back
    after = json.loads(manage(url, columnar, "shell", "--no-imports", "-c", ANSWERS))

    assert rebuilt.splitlines()[-1] == (
        f"{len(files)} columnar copies and {len(files)} resource segments written, 0 files no DSR named removed, "
        "0 descriptions no segment named removed"
    )
    assert [dsr["status"] for dsr in before["/dsrs/"]] == ["ingested"] * len(files)
    assert [len(before[query]) for query in QUERIES[1:]] != [0] * 4
    assert after == before
