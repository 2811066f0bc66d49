"""Where an import's file is kept: saved in the "imports" storage (settings.STORAGES), whatever it
is, and handed to the ingestion service as a local file.

A local folder gives its own path; any other storage (an S3 bucket) is copied to a temporary
folder first, streamed in chunks, under the same file name, which the ingestion parses.
"""

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

COPY_CHUNK_BYTES = 1 << 20


def imports_storage() -> Storage:
    return storages["imports"]


def store(*, import_id: int, file_name: str, content: File) -> str:
    """Save `content` as the file of import `import_id`; the name it is stored as. A folder per
    import keeps the file name as delivered: the storage never has to rename it."""
    return imports_storage().save(f"{import_id}/{file_name}", content)


@contextmanager
def local_file(stored_as: str) -> Iterator[Path]:
    storage = imports_storage()
    if isinstance(storage, FileSystemStorage):
        yield Path(storage.path(stored_as))
        return
    with tempfile.TemporaryDirectory(prefix="dsr-import-") as folder:
        copy = Path(folder) / Path(stored_as).name
        with storage.open(stored_as, "rb") as source, open(copy, "wb") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK_BYTES)
        yield copy
