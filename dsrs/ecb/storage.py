"""PostgreSQL-specific storage of ECB rates: a whole published history added in one statement.

The history is COPYed into a scratch table and one INSERT keeps the rates not stored yet: about
220,000 rows in well under a second, where an INSERT per row would take many.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from dsrs.ecb.history import Rate


@dataclass(frozen=True)
class Added:
    rates: int
    days: int
    currencies: int


def add_rates(*, rates: Iterable[Rate], update_id: int) -> Added:
    """Store the rates not stored yet, as loaded by update `update_id`. Must run in a transaction."""
    with connection.cursor() as cursor:
        # Updates run one at a time (cron and a person may overlap), so each counts what it added;
        # this lock mode conflicts with itself but not with ingestion reading the rates.
        cursor.execute("LOCK TABLE dsrs_ecbrate IN SHARE ROW EXCLUSIVE MODE")
        # Dropped below, or with the rollback of the transaction that created it.
        cursor.execute("CREATE TEMPORARY TABLE ecb_rate_source (date date, currency text, rate numeric)")
        with cursor.copy("COPY ecb_rate_source (date, currency, rate) FROM STDIN") as copy:
            for rate in rates:
                copy.write_row((rate.date, rate.currency, rate.rate))
        # A rate already stored is kept as it is: the ECB does not revise published rates, and the
        # DSRs converted with it must stay explained by the table. The SELECT sees dsrs_ecbrate as
        # it was before the INSERT (a data-modifying WITH is invisible to the rest of its
        # statement), which tells the days and currencies that are new from those that grew.
        cursor.execute(
            """
            WITH added AS (
                INSERT INTO dsrs_ecbrate (date, currency, rate, update_id)
                SELECT date, currency, rate, %s FROM ecb_rate_source
                ON CONFLICT (date, currency) DO NOTHING
                RETURNING date, currency
            )
            SELECT
                (SELECT count(*) FROM added),
                (SELECT count(*) FROM (SELECT DISTINCT date FROM added) AS new
                 WHERE NOT EXISTS (SELECT FROM dsrs_ecbrate AS stored WHERE stored.date = new.date)),
                (SELECT count(*) FROM (SELECT DISTINCT currency FROM added) AS new
                 WHERE NOT EXISTS (SELECT FROM dsrs_ecbrate AS stored WHERE stored.currency = new.currency))
            """,
            [update_id],
        )
        added = Added(*cursor.fetchone())
        cursor.execute("DROP TABLE ecb_rate_source")
        return added
