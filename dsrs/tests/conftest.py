import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import setup_databases, teardown_databases

from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.models import DSR
from dsrs.storage.columnar import jobs, segments
from dsrs.storage.deletion import delete_dsrs
from dsrs.tests.support.database import usage_partitions

HEADER = "dsp_id\ttitle\tartists\tisrc\tusages\trevenue"


@pytest.fixture
def write_dsr(tmp_path):
    """Write a DSR file: `lines` are data lines (tab-joined strings or bytes), the header first."""

    def write(name: str, lines, *, header: str = HEADER, newline: str = "\n") -> Path:
        path = tmp_path / name
        parts = [header.encode()] + [line if isinstance(line, bytes) else line.encode() for line in lines]
        data = b"".join(part + newline.encode() for part in parts)
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return path

    return write


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `committed` every test that commits (committed_db, directly or through another
    fixture), so that the mark cannot be forgotten."""
    for item in items:
        if "committed_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.committed)


@pytest.fixture(scope="session")
def test_database(django_db_setup, django_db_blocker):
    """The test database, even in a session of committed_db tests only: pytest-django creates it
    for tests marked django_db alone, and these would otherwise run on the development database."""
    if connection.settings_dict["NAME"].startswith("test_"):
        yield
        return
    with django_db_blocker.unblock():
        databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(databases, verbosity=0)


@pytest.fixture
def committed_db(test_database, django_db_blocker):
    """The test database outside a test transaction: what the test writes is committed, since the
    percentile query's own connections see committed DSRs only. Its DSRs go afterwards (the
    reference data, loaded by migrations, stays), with the jobs their commits queued and the
    descriptions of their segments."""
    assert connection.settings_dict["NAME"].startswith("test_")
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            delete_dsrs(DSR.objects.all())
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM procrastinate_jobs WHERE queue_name = %s", [jobs.QUEUE])
                cursor.execute("TRUNCATE dsrs_resource_description")


@pytest.fixture(autouse=True)
def plain_http(settings):
    """The test client speaks plain HTTP, which settings without DEBUG redirect to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def public_reads(settings):
    """The API's tests read as `make run` serves: API_READ_ACCESS=public. The default, reads for
    users with "Can view DSR" only, is the subject of dsrs/tests/api/test_read_access.py."""
    settings.API_READ_ACCESS = "public"


@pytest.fixture(autouse=True)
def unthrottled(settings):
    """No rate limits but in dsrs/tests/api/test_throttling.py: a test's requests are not a
    client's, and the counts would carry over from one test to the next."""
    settings.API_THROTTLE_RATES = dict.fromkeys(settings.API_THROTTLE_RATES)


@dataclass(frozen=True)
class SmallCatalogue:
    """Four DSRs whose top-percentile answers are worked out by hand in the tests."""

    es_spotify: int  # EUR, January
    gb_spotify: int  # GBP at 0.5 per EUR, January
    no_spotify: int  # NOK at 10 per EUR, February
    es_youtube: int  # EUR, January


@pytest.fixture
def segments_at_commit(monkeypatch):
    """Ingestion writes each DSR's resource segment as soon as it commits, as a worker does right
    after (dsrs.storage.columnar.jobs)."""

    def write_at_commit(dsrs):
        transaction.on_commit(lambda: [segments.write_segment(dsr) for dsr in dsrs])

    monkeypatch.setattr(jobs, "queue_segments", write_at_commit)


@pytest.fixture
def small_catalogue(write_dsr) -> SmallCatalogue:
    """EUR revenue per resource (DSP, dsp_id), 100 in all:
    Spotify A 45 (35 ES + 10 NO), YouTube A 20, Spotify B 20 (10 ES + 10 GB), Spotify E 10,
    Spotify D 5, Spotify C 0."""

    def ingest(name: str, lines: list[str], eur_rate: str | None = None) -> int:
        result = ingest_dsr(path=write_dsr(name, lines), eur_rate=Decimal(eur_rate) if eur_rate else None)
        assert result.outcome == Outcome.INGESTED, result.message
        return result.dsr.id

    return SmallCatalogue(
        es_spotify=ingest(
            "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv",
            [
                "A\tTitle A old\tArtist A\tISRCA1\t10\t30",
                "B\tTitle B\tArtist B\t\t5\t10",
                "C\tTitle C\t\t\t1\t0",
                "A\t\t\tISRCA2\t2\t5",  # the same resource again in this DSR, without a title
            ],
        ),
        gb_spotify=ingest(
            "Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv",
            ["B\tTitle B new\t\t\t4\t5", "D\tTitle D\tArtist D\tISRCD\t7\t2.5"],
            eur_rate="0.5",
        ),
        no_spotify=ingest(
            "Spotify_SpotifyPremium_NO_NOK_20200201-20200229.tsv",
            ["A\tTitle A new\t\t\t1\t100", "E\tTitle E\tArtist E\tISRCE\t3\t100"],
            eur_rate="10",
        ),
        es_youtube=ingest("YouTube_YouTubeMusic_ES_EUR_20200101-20200131.tsv", ["A\tYT A\tYT Artist\tYTISRC\t8\t20"]),
    )


@pytest.fixture
def committing_db(committed_db):
    """For tests whose work is committed, by other processes or threads: afterwards any usage
    table left behind is dropped, and committed_db deletes the DSRs. (Not a flush and serialized
    rollback: restoring the 221,702 ECB rates after each test would take longer than the tests.)"""
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")  # which a test may have set on the session
        for table in usage_partitions():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def processes():
    """Start `manage.py` commands in processes of their own (see processes.py); any still
    running at the end is killed."""
    from dsrs.tests.support import processes as helpers

    started = []

    def start(*args: str, **options):
        process = helpers.manage(*args, **options)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.fixture(scope="session", autouse=True)
def columnar_dir():
    """The columnar copies of the tests' DSRs, in a folder of the session's own, which the
    processes the tests start see too (COLUMNAR_DIR)."""
    folder = tempfile.mkdtemp(prefix="dsr-columnar-")
    previous = os.environ.get("COLUMNAR_DIR")
    os.environ["COLUMNAR_DIR"] = settings.COLUMNAR_DIR = folder
    yield Path(folder)
    if previous is None:
        del os.environ["COLUMNAR_DIR"]
    else:
        os.environ["COLUMNAR_DIR"] = previous
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def scratch_server():
    """A PostgreSQL server of the tests' own, set up as the embedded one, for tests that crash it.

    Not under pytest's temporary folder: when run as root the server runs as another user, who
    must traverse the folder's parents, and each pytest session starting on the machine makes
    /tmp/pytest-of-root private again."""
    from dsrs.tests.support.processes import ScratchServer

    server = ScratchServer(Path(tempfile.mkdtemp(prefix="dsr-scratch-server-")))
    yield server
    server.remove()


@pytest.fixture
def imports_storage(settings, tmp_path) -> Path:
    """The imports storage in a folder of the test's own (IMPORTS_STORAGE_DIR for processes)."""
    folder = tmp_path / "imports"
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(folder)}},
    }
    return folder


@pytest.fixture
def committing_imports(committing_db, imports_storage):
    """committing_db for tests of imports run by workers: afterwards their imports and jobs go
    too (the uploaders with them)."""
    from django.contrib.auth.models import User

    from dsrs.models import Import

    yield
    Import.objects.all().delete()
    User.objects.all().delete()
    with connection.cursor() as cursor:
        # Procrastinate's tables, workers' heartbeats included, as a fresh database has them.
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, procrastinate_workers "
            "CASCADE"
        )
