"""Where answers of the top-percentile query are kept for the next request. PostgreSQL-specific.

A DSR never changes once ingested (a re-delivery is a new DSR), so the ranking of a selection of
DSRs, keyed by their ids, never goes stale: it is kept until one of them is deleted
(`forget_dsrs`, which deletion calls) or until newer selections push it out. An answer keeps the
head of its largest N asked so far, as the JSON text it was sent as, with where each resource ends
and the revenue before it: any smaller N of the same selection is a prefix of that text, found by
a binary search, so a repeated request costs a copy of its bytes.
"""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection, transaction


def answer(dsr_ids: list[int], number: int) -> bytes | None:
    """The JSON array of the top `number` percent over `dsr_ids`, if a kept answer covers it."""
    connection.ensure_connection()
    # A server-binding psycopg cursor (Django's binds client-side, which has no binary results):
    # bytea in text format would travel as hex, twice its size, then be decoded.
    with psycopg.Cursor(connection.connection) as cursor:
        # The head of N holds the resources whose revenue before is below N% of the total:
        # before < ceil(N * T / 100), in integers; width_bucket() counts them by binary search.
        cursor.execute(
            """
            SELECT CASE WHEN head = 0 THEN '[]'::bytea
                        ELSE '[' || substring(resources FOR resource_ends[head]) || ']' END
            FROM (
                SELECT resources, resource_ends,
                       width_bucket(div(%(number)s * total_units + 99, 100) - 1, units_before) AS head
                FROM dsrs_percentile_answer
                WHERE dsr_ids = %(dsr_ids)s::bigint[] AND covered_number >= %(number)s
            ) AS kept
            """,
            {"dsr_ids": dsr_ids, "number": number},
            binary=True,
        )
        found = cursor.fetchone()
    return bytes(found[0]) if found else None


def is_kept(dsr_ids: list[int]) -> bool:
    """Whether an answer over `dsr_ids` is kept, for any N."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT FROM dsrs_percentile_answer WHERE dsr_ids = %s::bigint[])", [dsr_ids])
        return cursor.fetchone()[0]


def keep(dsr_ids: list[int], number: int, total_units: int, head: Iterable[tuple[int, str]]) -> None:
    """Keep the head ((revenue before, resource JSON) in rank order) of the top `number` percent
    over `dsr_ids`, in place of a smaller one."""
    resources, resource_ends, units_before, length = [], [], [], 0
    for before, resource in head:
        encoded = resource.encode()
        length += len(encoded) + (1 if resources else 0)
        resources.append(encoded)
        resource_ends.append(length)
        units_before.append(before)
    with transaction.atomic(), connection.cursor() as cursor:
        # A DSR deleted while its ranking was computed must not come back through the cache:
        # the share lock makes a deletion wait until this answer is kept, then delete it too.
        cursor.execute("SELECT count(*) FROM (SELECT FROM dsrs_dsr WHERE id = ANY(%s) FOR KEY SHARE) AS d", [dsr_ids])
        if cursor.fetchone()[0] != len(dsr_ids):
            return
        cursor.execute("DELETE FROM dsrs_percentile_answer WHERE dsr_ids = %s::bigint[]", [dsr_ids])
        cursor.execute(
            """
            INSERT INTO dsrs_percentile_answer
                (dsr_ids, total_units, covered_number, resources, resource_ends, units_before)
            VALUES (%s, %s, %s, %s, %s::integer[], %s::numeric[])
            """,
            [dsr_ids, total_units, number, b",".join(resources), resource_ends, units_before],
        )
        # The oldest answers go first.
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
