"""PostgreSQL-specific storage of usage lines: one partition of dsrs_usage per DSR.

A DSR's lines are loaded by COPY into a fresh table that becomes its partition, and leave by
dropping that table: both cost the same whatever the DSR's size, and neither leaves dead rows
for VACUUM.

Locks on dsrs_usage, which every reader takes in ACCESS SHARE mode: a load takes none until it
attaches its table at the very end (SHARE UPDATE EXCLUSIVE, which readers pass), so a COPY,
however slow or stalled, blocks neither readers nor deletions. Dropping a partition takes ACCESS
EXCLUSIVE, which waits for running readers and holds up new ones meanwhile: it waits at most
LOCK_TIMEOUT each time (dsrs.storage.deletion tries again).
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.backends.utils import CursorWrapper

COPY_COLUMNS = "dsp_id, title, artists, isrc, usages, revenue"
# As in migration 0002 (ATTACH refuses a table whose columns differ), in the same order.
USAGE_COLUMNS = """
    dsp_id text COLLATE "C" NOT NULL,
    title text NOT NULL,
    artists text NOT NULL,
    isrc text NOT NULL,
    usages bigint NOT NULL,
    revenue numeric NOT NULL
"""
# How long readers may queue behind a partition drop that waits for a running query.
LOCK_TIMEOUT = "100ms"


def partition_name(dsr_id: int) -> str:
    return f"dsrs_usage_{int(dsr_id)}"


def next_dsr_id() -> int:
    # The id is drawn before the DSR row exists so that the load can name its partition; a
    # sequence value is never handed out twice, even when the transaction rolls back.
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('dsrs_dsr', 'id'))")
        return cursor.fetchone()[0]


def commit_durably() -> None:
    """Make the current transaction's commit wait for its WAL flush, whatever the server's or the
    session's synchronous_commit: an ingestion reported done must survive a crash right after."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = on")


def load_partition(dsr_id: int, chunks: Iterable[bytes]) -> None:
    """COPY the usage lines of DSR `dsr_id`, given as COPY text chunks, into its own table.

    Must run inside the transaction that later attaches it: FREEZE and the WAL skip under
    wal_level=minimal both rely on the table being created in the same transaction.
    """
    table = partition_name(dsr_id)
    with connection.cursor() as cursor:
        _create_partition_table(cursor, dsr_id)
        # FREEZE writes the rows already frozen: no anti-wraparound VACUUM over them later.
        with cursor.copy(f"COPY {table} ({COPY_COLUMNS}) FROM STDIN WITH (FREEZE)") as copy:
            for chunk in chunks:
                copy.write(chunk)


def load_partitions(dsr_ids: list[int], chunks: Iterable[bytes]) -> None:
    """COPY the usage lines of several DSRs, interleaved in one file (DSRF), each line's COPY text
    led by its DSR's id, into each DSR's own table, in one pass over the file.

    The tables are attached for the time of the COPY to a partitioned table of their own, which
    routes each line to its DSR's table; then detached, to be attached to dsrs_usage as any other.
    Same transaction rule as load_partition.
    """
    loading = f"dsrs_usage_loading_{int(dsr_ids[0])}"
    with connection.cursor() as cursor:
        # Created and dropped in this transaction: no other session ever sees it.
        cursor.execute(f"CREATE TABLE {loading} (dsr_id bigint NOT NULL, {USAGE_COLUMNS}) PARTITION BY LIST (dsr_id)")
        for dsr_id in dsr_ids:
            _create_partition_table(cursor, dsr_id)
            # The CHECK constraint proves the bound: attaching the empty table scans nothing.
            cursor.execute(
                f"ALTER TABLE {loading} ATTACH PARTITION {partition_name(dsr_id)} FOR VALUES IN ({int(dsr_id)})"
            )
        # No FREEZE: PostgreSQL refuses it for a partitioned table.
        with cursor.copy(f"COPY {loading} (dsr_id, {COPY_COLUMNS}) FROM STDIN") as copy:
            for chunk in chunks:
                copy.write(chunk)
        for dsr_id in dsr_ids:
            cursor.execute(f"ALTER TABLE {loading} DETACH PARTITION {partition_name(dsr_id)}")
        cursor.execute(f"DROP TABLE {loading}")


def _create_partition_table(cursor: CursorWrapper, dsr_id: int) -> None:
    table = partition_name(dsr_id)
    # Columns spelled out, not LIKE dsrs_usage: LIKE would hold a lock on dsrs_usage until
    # commit, behind which a partition drop, and then every reader, would queue for the whole
    # COPY. The dsr_id default spares sending the id on every line; the CHECK constraint
    # proves the partition bound, so that ATTACH skips scanning the lines.
    cursor.execute(
        f"CREATE TABLE {table} ("
        f"dsr_id bigint NOT NULL DEFAULT {int(dsr_id)} CONSTRAINT {table}_bound CHECK (dsr_id = {int(dsr_id)}), "
        f"{USAGE_COLUMNS})"
    )


def take_turn_to_commit() -> None:
    """Wait until no other ingestion is between this point and its commit, and keep the turn
    until this transaction ends. Loads run side by side; what follows the load (is the file or
    the report ingested by now? replace it, attach, commit) runs one ingestion at a time, so
    that each sees what the others committed."""
    with connection.cursor() as cursor:
        # A transaction-level advisory lock: released by the commit or rollback, even a crash's.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('dsrs ingestion commit', 0))")


def attach_partition(dsr_id: int) -> None:
    table = partition_name(dsr_id)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE dsrs_usage ATTACH PARTITION {table} FOR VALUES IN ({int(dsr_id)})")


@contextmanager
def lock_wait_limited() -> Iterator[None]:
    """Inside: a statement waiting longer than LOCK_TIMEOUT for a lock fails (LockNotAvailable),
    and the transaction's own setting is back after."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
        previous = cursor.fetchone()[0]
        yield
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def drop_partition(dsr_id: int) -> None:
    with connection.cursor() as cursor:
        # Constant time whatever the number of lines; IF EXISTS: a failed DSR has no partition.
        cursor.execute(f"DROP TABLE IF EXISTS {partition_name(dsr_id)}")
