"""Where a connection of its own to the project's database is opened, beside Django's: for work
that must not wait on, or be hidden by, the transaction of Django's connection (a percentile's
buckets, an import's progress)."""

import psycopg
from django.db import connection


def own_connection(**options) -> psycopg.Connection:
    """A new psycopg connection with the settings of Django's (embedded server included)."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)  # Django's cursor class, made for Django's connections
    return psycopg.connect(**params, **options)
