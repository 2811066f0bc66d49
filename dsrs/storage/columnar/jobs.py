"""Where the forms of a DSR's lines that are faster to rank than its copy are queued and written:
after its commit, by the workers (`manage.py ingest_worker`), on the `derived` queue, so that
ingestion does not pay for them. Each job is idempotent and tried again after a failure; until it
is done, the DSR's copy (or PostgreSQL) answers. Once no segment is left to write, the answers
users ask first are computed and kept (dsrs.percentile.warming, deferred by its task's name, which
sits above this layer)."""

import contextlib

from django.conf import settings
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from dsrs.models import DSR
from dsrs.storage.columnar import segments
from dsrs.storage.columnar.paths import copy_path

QUEUE = "derived"
WARM_ANSWERS = "warm_answers"
# Ingestion first, then segments, and answers once no segment is waiting (higher runs first).
SEGMENT_PRIORITY = -1
WARM_PRIORITY = -2


@app.task(
    name="write_resource_segment",
    queue=QUEUE,
    priority=SEGMENT_PRIORITY,
    retry=RetryStrategy(max_attempts=3, exponential_wait=3),
)
def write_resource_segment(*, dsr_id: int) -> None:
    dsr = DSR.objects.filter(id=dsr_id, status=DSR.Status.INGESTED).first()
    if dsr is None:
        return  # deleted, or failed, meanwhile
    if not (dsr.resource_segment and copy_path(dsr.resource_segment).exists()):
        segments.write_segment(dsr)
    queue_warming()


def queue_segments(dsrs: list[DSR]) -> None:
    """Queue the segment of each of `dsrs`: inside the transaction that commits them, so that a job
    exists exactly when its DSR does."""
    if settings.COLUMNAR_COPIES:
        for dsr in dsrs:
            write_resource_segment.defer(dsr_id=dsr.id)


def queue_warming() -> None:
    """Queue the computation of the answers users ask first, unless one is already waiting."""
    with contextlib.suppress(AlreadyEnqueued):
        app.configure_task(name=WARM_ANSWERS, queue=QUEUE, priority=WARM_PRIORITY, queueing_lock=WARM_ANSWERS).defer()
