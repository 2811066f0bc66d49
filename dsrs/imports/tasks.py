"""Where the ingestion job is defined: procrastinate's task that runs one import, on the
`imports` queue, tried again with a growing wait after a transient database error (3, 9, 27 and
81 s: a database restart or a failover passes within them), never after a bad file."""

import psycopg
from django.db import OperationalError
from procrastinate import JobContext, RetryStrategy
from procrastinate.contrib.django import app

from dsrs.imports import runs

QUEUE = "imports"
ATTEMPTS = 5

RETRY = RetryStrategy(
    max_attempts=ATTEMPTS - 1,  # the retries after the first attempt
    exponential_wait=3,
    retry_exceptions=[runs.TransientFailure, OperationalError, psycopg.OperationalError],
)


@app.task(name="ingest_import", queue=QUEUE, pass_context=True, retry=RETRY)
def ingest_import(context: JobContext, *, import_id: int) -> None:
    runs.run_import(import_id=import_id, last_attempt=context.job.attempts >= ATTEMPTS - 1)
