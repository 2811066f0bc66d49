"""Where a connection of its own to the project's database is opened, beside Django's: for work
that must not wait on, or be hidden by, the transaction of Django's connection (a percentile's
buckets, an import's progress), and how a file is streamed into a COPY."""

from pathlib import Path

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper


def own_connection(**options) -> psycopg.Connection:
    """A new psycopg connection with the settings of Django's (embedded server included)."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's cursor class, made for Django's connections
    return psycopg.connect(**params, **options)


def copy_file_in(cursor: CursorWrapper, statement: str, path: Path) -> None:
    """Run `statement`, a COPY ... FROM STDIN, on `cursor` with the bytes of the file at `path`."""
    with open(path, "rb") as source, cursor.copy(statement) as copy:
        while data := source.read(1 << 20):
            copy.write(data)
