"""What a crash of the database server leaves: a server of the tests' own, crashed for real."""

import psycopg
import pytest

from dsr_project.embedded_postgres import TUNING, embedded_database_url

from .processes import finish, write_big_dsr

pytestmark = pytest.mark.slow

NAME = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"


def test_the_embedded_server_waits_for_the_wal_flush_at_commit(scratch_server):
    with psycopg.connect(scratch_server.admin_url) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)



def test_a_server_tuned_by_an_older_version_is_tuned_again_on_next_use(scratch_server):
    tuning = scratch_server.pgdata / "postgresql.dsr.conf"
    tuning.write_text(TUNING + "synchronous_commit = off\n")  # what .pgdata/ got before
    with psycopg.connect(scratch_server.admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")

        embedded_database_url(scratch_server.pgdata)

        assert tuning.read_text() == TUNING
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


@pytest.mark.parametrize("pgoptions", ["", "-c synchronous_commit=off"], ids=["as configured", "session asking for async commits"])
def test_a_dsr_reported_ingested_survives_a_server_crash_right_after(scratch_server, processes, tmp_path, pgoptions):
    url = scratch_server.new_database()
    path = write_big_dsr(tmp_path / NAME, 100_000)
    ingest = processes("ingest_dsr", str(path), url=url, app_name="durable", extra_env={"PGOPTIONS": pgoptions})

    reported = next(line for line in ingest.stdout if line.startswith(f"{path}: ingested as DSR "))
    scratch_server.crash()
    finish(ingest)
    scratch_server.start()

    dsr_id = int(reported.rsplit(" ", 1)[1])
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT status, lines_stored FROM dsrs_dsr WHERE id = %s", [dsr_id]).fetchall() == [("ingested", 100_000)]
        assert conn.execute("SELECT count(*), sum(usages) FROM dsrs_usage").fetchone() == (100_000, sum(range(100_000)))
