"""Where a DSR file is ingested: `service.py` is the service everything calls (`ingest_dsr`: one
file in, its DSRs with their usage lines committed, or nothing), `pipeline.py` the threads it
streams a file through, `interrupts.py` how Ctrl-C and SIGTERM roll a file back."""
