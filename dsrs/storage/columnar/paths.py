"""Where the copies of the DSRs' lines live: COLUMNAR_DIR, each copy named after its DSR, its size
and its kind (dsrs.storage.columnar.copy_text), and the scratch folders copies are written in before
they are renamed into place.

A copy never changes once published, so the size its name records tells a damaged one (cut,
emptied, doubled, replaced by a directory) at the cost of one stat: `intact`.
"""

import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
from pathlib import Path

from django.conf import settings

# Under COLUMNAR_DIR: copies being written, on the same file system so that renaming is atomic.
WRITING = ".writing"


def directory() -> Path:
    return Path(settings.COLUMNAR_DIR)


def copy_path(name: str) -> Path:
    return directory() / name


# dsr-{id}-{random}[-{bytes}]{kind}: the size once published; names of before 2026-12-04 have none.
NAME = re.compile(r"dsr-(?P<dsr>[0-9]+)-(?P<random>[0-9a-f]{16})(?:-(?P<bytes>[0-9]+))?(?P<kind>\..+)")


def remove(name: str) -> None:
    """Remove copy `name`, whatever stands at its path: a directory too, when one replaced it."""
    path = copy_path(name)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def new_name(dsr_id: int, kind: str) -> str:
    """A new file name for a copy of DSR `dsr_id`; `kind`: a suffix of dsrs.storage.columnar.copy_text."""
    return f"dsr-{int(dsr_id)}-{secrets.token_hex(8)}{kind}"


def published_name(written: Path) -> str:
    """The name `written` (named by new_name) is published under: with its size."""
    parts = NAME.fullmatch(written.name)
    return f"dsr-{parts['dsr']}-{parts['random']}-{written.stat().st_size}{parts['kind']}"


def intact(name: str) -> bool | None:
    """Whether copy `name` is the file that was published: a regular file of the size its name
    records (any size for a name that records none); None when there is no such file."""
    try:
        found = os.stat(copy_path(name))
    except FileNotFoundError:
        return None
    parts = NAME.fullmatch(name)
    recorded = parts["bytes"] if parts else None
    return stat.S_ISREG(found.st_mode) and (recorded is None or found.st_size == int(recorded))


def scratch_folder() -> Path:
    """A new folder of its own to write a copy in, named after the process that writes it (see
    `abandoned`); its writer removes it."""
    writing = directory() / WRITING
    writing.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{_writer(os.getpid())}-", dir=writing))


def abandoned(folder: Path) -> bool | None:
    """Whether scratch folder `folder` was left by a writer of this machine that is gone (killed
    mid-write): a process id is reused, so the writer is its id and its start time. None when the
    folder is another machine's, or named before writers named their folders."""
    # mkdtemp's random end holds no "-"; a host name may.
    parts = folder.name.rsplit("-", 3)
    if len(parts) < 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return None
    return _writer(int(parts[1])) != "-".join(parts[:3])


def _writer(pid: int) -> str:
    """{host}-{pid}-{start time, in clock ticks after boot}; a start time of 0 for no such process."""
    try:
        # The fields after the command (in parentheses, which may hold anything): the 22nd is the start.
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        started = "0"
    return f"{socket.gethostname()}-{pid}-{started}"
