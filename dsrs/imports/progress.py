"""Where a running import's progress is written: on a database connection of its own, in
autocommit. The ingestion's own connection is inside the transaction that loads the file, whose
writes no one else sees before it commits."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dsrs.ingest.service import Progress
from dsrs.storage.connections import own_connection

# Often enough for a client that polls; rarely enough to cost nothing next to the load.
WRITE_EVERY_SECONDS = 1.0


@contextmanager
def progress_writer(import_id: int) -> Iterator[Callable[[Progress], None]]:
    """A callback for ingest_dsr(on_progress=) that writes the lines and bytes read so far."""
    with own_connection(autocommit=True) as progress_connection:
        last_written = 0.0

        def write(progress: Progress) -> None:
            nonlocal last_written
            if time.monotonic() - last_written < WRITE_EVERY_SECONDS:
                return
            last_written = time.monotonic()
            # One row by its primary key, in autocommit: visible at once, holding no lock after.
            progress_connection.execute(
                "UPDATE dsrs_import SET lines_read = %s, bytes_read = %s WHERE id = %s",
                [progress.lines, progress.bytes_read, import_id],
            )

        yield write
