"""Where an ingestion worker runs: procrastinate's worker on the imports queue, and beside it a
loop that puts back in the queue the jobs of workers that stopped sending heartbeats (killed,
frozen, or on a machine that went away), so that another worker runs them.

Every worker sends a heartbeat every HEARTBEAT_SECONDS; a worker silent for STALLED_AFTER_SECONDS
is taken for dead, and within RECOVERY_EVERY_SECONDS some worker queues its job again: a job of a
dead worker starts again in less than a minute. The loop runs beside the jobs, not as one, so
that workers all busy with long files still recover a job.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from procrastinate.contrib.django import app
from procrastinate.exceptions import ConnectorException

from dsrs.imports.tasks import ingest_import
from dsrs.models import Import

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
STALLED_AFTER_SECONDS = 20
RECOVERY_EVERY_SECONDS = 5


def run_worker(*, name: str, queues: list[str], concurrency: int) -> None:
    """Run until SIGINT or SIGTERM, after which the running jobs finish first."""
    # The web process defers jobs through Django's connection; a worker needs procrastinate's
    # own asynchronous connections to the same database.
    with app.replace_connector(app.connector.get_worker_connector()):
        asyncio.run(_run(name=name, queues=queues, concurrency=concurrency))


async def _run(*, name: str, queues: list[str], concurrency: int) -> None:
    async with app.open_async():
        recovery = asyncio.create_task(_recover_stalled_jobs())
        try:
            await app.run_worker_async(
                name=name,
                queues=queues,
                concurrency=concurrency,
                update_heartbeat_interval=HEARTBEAT_SECONDS,
                stalled_worker_timeout=STALLED_AFTER_SECONDS,
            )
        finally:
            recovery.cancel()
            await asyncio.gather(recovery, return_exceptions=True)


async def _recover_stalled_jobs() -> None:
    while True:
        await asyncio.sleep(RECOVERY_EVERY_SECONDS)
        try:
            await requeue_stalled_jobs()
        except Exception:  # the database away for a moment: the next round tries again
            logger.exception("could not look for stalled ingestion jobs")


async def requeue_stalled_jobs() -> list[int]:
    """Queue again the ingestion jobs of workers silent for STALLED_AFTER_SECONDS; their ids."""
    stalled = await app.job_manager.get_stalled_jobs(
        task_name=ingest_import.name, seconds_since_heartbeat=STALLED_AFTER_SECONDS
    )
    requeued = []
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException:  # another worker requeued it first
            continue
        requeued.append(job.id)
        await _say_requeued(job.task_kwargs["import_id"])
        logger.warning("ingestion job %s of a stalled worker queued again", job.id)
    return requeued


@sync_to_async
def _say_requeued(import_id: int) -> None:
    Import.objects.filter(id=import_id, status=Import.Status.RUNNING).update(
        status=Import.Status.QUEUED, message="its worker stopped responding: queued again"
    )
