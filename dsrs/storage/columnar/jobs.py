"""Where the forms of a DSR's lines that are faster to rank than its copy are queued and written:
after its commit, by the workers (`manage.py ingest_worker`), on the `derived` queue, so that
ingestion does not pay for them. Each job is idempotent and tried again after a failure; until it
is done, the DSR's copy (or PostgreSQL) answers. A file a query found damaged is queued here to be
written again (queue_rewrite). Once no segment is left to write, the answers
users ask first are computed and kept (dsrs.percentile.warming, deferred by its task's name, which
sits above this layer)."""

import contextlib

from django.conf import settings
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.exceptions import AlreadyEnqueued

from dsrs.models import DSR
from dsrs.storage.columnar import segments, write_copy
from dsrs.storage.columnar.paths import intact

QUEUE = "derived"
WARM_ANSWERS = "warm_answers"
# Ingestion first, then segments, and answers once no segment is waiting (higher runs first).
SEGMENT_PRIORITY = -1
WARM_PRIORITY = -2


# A derived file of one DSR: written after ingestion, before warming; tried again after a failure.
FILE_JOB = {"queue": QUEUE, "priority": SEGMENT_PRIORITY, "retry": RetryStrategy(max_attempts=3, exponential_wait=3)}


@app.task(name="write_resource_segment", **FILE_JOB)
def write_resource_segment(*, dsr_id: int) -> None:
    dsr = _ingested(dsr_id)
    if dsr is None:
        return
    if not (dsr.resource_segment and intact(dsr.resource_segment)):
        segments.write_segment(dsr)
    queue_warming()


@app.task(name="write_columnar_copy", **FILE_JOB)
def write_columnar_copy(*, dsr_id: int) -> None:
    """A copy of the lines found damaged, written again from PostgreSQL."""
    dsr = _ingested(dsr_id)
    if dsr is not None and not (dsr.columnar_copy and intact(dsr.columnar_copy)):
        write_copy(dsr)


def _ingested(dsr_id: int) -> DSR | None:
    """The DSR, unless it was deleted, or failed, meanwhile."""
    return DSR.objects.filter(id=dsr_id, status=DSR.Status.INGESTED).first()


def queue_rewrite(dsr_id: int, field: str) -> None:
    """Queue the writing again of DSR `dsr_id`'s file of `field` (resource_segment, columnar_copy),
    found damaged, unless it is already queued."""
    task = write_resource_segment if field == "resource_segment" else write_columnar_copy
    with contextlib.suppress(AlreadyEnqueued):
        task.configure(queueing_lock=f"{task.name}:{int(dsr_id)}").defer(dsr_id=dsr_id)


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
