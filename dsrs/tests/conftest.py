import gzip
from pathlib import Path

import pytest
from django.db import connection

HEADER = "dsp_id\ttitle\tartists\tisrc\tusages\trevenue"
SEED_DATA = Path(__file__).resolve().parents[3] / "shared" / "seed-data"


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


def stored_lines(dsr_id: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT dsp_id, title, artists, isrc, usages, revenue FROM dsrs_usage WHERE dsr_id = %s "
            "ORDER BY dsp_id, usages, revenue",
            [dsr_id],
        )
        return cursor.fetchall()


def usage_partitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'dsrs\\_usage\\_%%' ORDER BY relname")
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture(autouse=True)
def plain_http(settings):
    """The test client speaks plain HTTP, which settings without DEBUG redirect to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False
