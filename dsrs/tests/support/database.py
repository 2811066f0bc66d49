"""What the tests read of the database directly: a DSR's stored lines, the usage partitions."""

from django.db import connection


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
