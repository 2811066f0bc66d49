"""Ingestion as a service: DSR files uploaded (POST /imports/) or queued (ingest_dsr --enqueue)
become imports, which workers (`manage.py ingest_worker`) ingest through procrastinate's job
queue in PostgreSQL.

`files.py` keeps an import's file in the "imports" storage; `services.py` creates and re-queues
imports; `tasks.py` is the job, whose work `runs.py` does; `progress.py` writes a running import's
progress; `worker.py` runs a worker and re-queues the jobs of workers that died. The endpoints
are in dsrs.api.imports.
"""
