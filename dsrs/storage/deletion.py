"""Deleting DSRs: what Django admin, ingest_dsr --replace and anything else call.

A DSR goes with its partition. Dropping a partition has to wait until no running query reads
dsrs_usage, and while it waits every new reader would queue behind it: so each try waits at
most partitions.LOCK_TIMEOUT for its locks, and the deletion tries again, for up to
PATIENCE_SECONDS, between readers.
"""

import time
from collections.abc import Iterable

from django.db import OperationalError, transaction
from psycopg import errors

from dsrs.models import DSR
from dsrs.storage import columnar, kept_answers, partitions

PATIENCE_SECONDS = 10.0  # an admin request; far below gunicorn's timeout (120 s in the Dockerfile)
PAUSE_SECONDS = 0.1  # between tries: lets the readers queued meanwhile pass


class DeletionBusy(Exception):
    """The usage lines stayed in use by running queries for PATIENCE_SECONDS: nothing deleted."""


def delete_dsr(dsr: DSR) -> None:
    delete_dsrs([dsr])


def delete_dsrs(dsrs: Iterable[DSR]) -> None:
    """Delete the DSRs and all their usage lines in one transaction, by dropping their partitions:
    constant time per DSR, no usage line is read or deleted row by row. Inside a transaction
    (ingest_dsr --replace), the tries are savepoints of it."""
    dsrs = list(dsrs)
    gives_up = time.monotonic() + PATIENCE_SECONDS
    while True:
        try:
            with transaction.atomic(), partitions.lock_wait_limited():
                # The rows' copy names as of now: a copy being written meanwhile waits for its row.
                rows = (
                    DSR.objects.select_for_update()
                    .filter(id__in=[dsr.id for dsr in dsrs])
                    .values_list("columnar_copy", "resource_segment")
                )
                copies = [name for names in rows for name in names]
                for dsr in dsrs:
                    partitions.drop_partition(dsr.id)
                    DSR.objects.filter(id=dsr.id).delete()
                kept_answers.forget_dsrs([dsr.id for dsr in dsrs])
                # Only once the deletion is committed: a rollback keeps the DSR and its copy.
                transaction.on_commit(lambda copies=copies: columnar.remove_copies(copies))
            return
        except OperationalError as error:
            if not isinstance(error.__cause__, errors.LockNotAvailable):
                raise
            if time.monotonic() >= gives_up:
                ids = ", ".join(str(dsr.id) for dsr in dsrs)
                raise DeletionBusy(
                    f"{'DSRs' if len(dsrs) > 1 else 'DSR'} {ids} not deleted: queries kept reading usage lines for "
                    f"{PATIENCE_SECONDS:g} s; try again later"
                ) from None
            time.sleep(PAUSE_SECONDS)
