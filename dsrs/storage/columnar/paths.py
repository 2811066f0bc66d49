"""Where the copies of the DSRs' lines live: COLUMNAR_DIR, each copy named after its DSR and by
its kind (dsrs.storage.columnar.copy_text), and the scratch folders copies are written in before they
are renamed into place."""

import secrets
import tempfile
from pathlib import Path

from django.conf import settings

# Under COLUMNAR_DIR: copies being written, on the same file system so that renaming is atomic.
WRITING = ".writing"


def directory() -> Path:
    return Path(settings.COLUMNAR_DIR)


def copy_path(name: str) -> Path:
    return directory() / name


def new_name(dsr_id: int, kind: str) -> str:
    """A new file name for a copy of DSR `dsr_id`; `kind`: a suffix of dsrs.storage.columnar.copy_text."""
    return f"dsr-{int(dsr_id)}-{secrets.token_hex(8)}{kind}"


def scratch_folder() -> Path:
    """A new folder of its own to write a copy in; its writer removes it."""
    writing = directory() / WRITING
    writing.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=writing))
