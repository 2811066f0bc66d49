"""`manage.py ingest_worker`: where a worker process ingests queued imports, and writes the faster
forms of the DSRs' lines after their commit (dsrs.storage.columnar.jobs), until SIGINT or
SIGTERM (the running jobs finish first). Start as many as the machines have cores to spare,
anywhere that reaches the database and the imports storage."""

import os
import socket

from django.core.management.base import BaseCommand, CommandParser

from dsrs.imports.tasks import QUEUE
from dsrs.imports.worker import run_worker
from dsrs.storage.columnar.jobs import QUEUE as DERIVED_QUEUE


def positive_int(text: str) -> int:
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise ValueError(text)
    return int(text)


class Command(BaseCommand):
    help = "Run a worker that ingests queued imports (POST /imports/, ingest_dsr --enqueue)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=positive_int,
            default=1,
            metavar="N",
            help="imports ingested at once "
            "(default 1: ingestion keeps about two cores busy; start more processes rather)",
        )
        parser.add_argument(
            "--queue",
            dest="queues",
            action="append",
            metavar="NAME",
            help=f"a queue to take jobs from, repeatable (default: {QUEUE} and {DERIVED_QUEUE})",
        )

    def handle(self, *args, concurrency: int, queues: list[str] | None, **options) -> None:
        run_worker(
            name=f"ingest-{socket.gethostname()}-{os.getpid()}",
            queues=queues or [QUEUE, DERIVED_QUEUE],
            concurrency=concurrency,
        )
