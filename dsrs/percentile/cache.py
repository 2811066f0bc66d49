"""Where answers of the top-percentile query are kept for the next request. PostgreSQL-specific.

A DSR never changes once ingested (a re-delivery is a new DSR), so the ranking of a selection of
DSRs, keyed by their ids, never goes stale: it is kept until one of them is deleted
(`forget_dsrs`, which deletion calls) or until newer selections push it out. An answer keeps the
head of its largest N asked so far, as JSON text per resource with the revenue before it, so any
smaller N of the same selection is a prefix read by index, and the JSON is sent as it was built.
"""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction


def answer(dsr_ids: list[int], number: int) -> str | None:
    """The JSON array of the top `number` percent over `dsr_ids`, if a kept answer covers it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, total_units FROM dsrs_percentile_answer WHERE dsr_ids = %s::bigint[] AND covered_number >= %s",
            [dsr_ids, number],
        )
        found = cursor.fetchone()
        if found is None:
            return None
        answer_id, total_units = found
        # One text value: the server joins the resources faster than Python could, and the
        # (answer_id, units_before) index yields the prefix in rank order and stops at its end.
        cursor.execute(
            """
            SELECT '[' || coalesce(string_agg(resource, ',' ORDER BY units_before), '') || ']'
            FROM dsrs_percentile_answer_resource
            WHERE answer_id = %s AND units_before * 100 < %s * %s::numeric
            """,
            [answer_id, number, total_units],
        )
        return cursor.fetchone()[0]


def keep(dsr_ids: list[int], number: int, total_units: int, head: Iterable[tuple[int, str]]) -> None:
    """Keep the head of the top `number` percent over `dsr_ids`, replacing a smaller one."""
    with transaction.atomic(), connection.cursor() as cursor:
        # A DSR deleted while its ranking was computed must not come back through the cache:
        # the share lock makes a deletion wait until this answer is kept, then delete it too.
        cursor.execute("SELECT count(*) FROM (SELECT FROM dsrs_dsr WHERE id = ANY(%s) FOR KEY SHARE) AS d", [dsr_ids])
        if cursor.fetchone()[0] != len(dsr_ids):
            return
        cursor.execute("DELETE FROM dsrs_percentile_answer WHERE dsr_ids = %s::bigint[]", [dsr_ids])
        cursor.execute(
            "INSERT INTO dsrs_percentile_answer (dsr_ids, total_units, covered_number) VALUES (%s, %s, %s) RETURNING id",
            [dsr_ids, total_units, number],
        )
        answer_id = cursor.fetchone()[0]
        with cursor.copy("COPY dsrs_percentile_answer_resource (answer_id, units_before, resource) FROM STDIN") as copy:
            for units_before, resource in head:
                copy.write_row((answer_id, units_before, resource))
        # The oldest answers go first; an answer's resources go with it (ON DELETE CASCADE).
        cursor.execute(
            "DELETE FROM dsrs_percentile_answer WHERE id IN "
            "(SELECT id FROM dsrs_percentile_answer ORDER BY id DESC OFFSET %s)",
            [settings.PERCENTILE_CACHE_ANSWERS],
        )


def forget_dsrs(dsr_ids: list[int]) -> None:
    """Drop the answers that counted any of these DSRs."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dsrs_percentile_answer WHERE dsr_ids && %s::bigint[]", [dsr_ids])


@contextmanager
def computing(dsr_ids: list[int]) -> Iterator[None]:
    """Held while the ranking of `dsr_ids` is computed: a second request for the same DSRs waits
    and then reads the kept answer, instead of computing it again at the same time."""
    key = int.from_bytes(hashlib.blake2b(repr(dsr_ids).encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
