"""Where the service's money arithmetic is defined, once for every engine that computes it:
PostgreSQL's ranking (dsrs.percentile.ranking), DuckDB's over the copies of the lines
(dsrs.storage.columnar.copy_text) and the copies read back from PostgreSQL. Django-free.

- An EUR amount is an integer of 1e-8 EUR ("units"): EUR_SCALE decimals, the scale the API
  returns. Sums of units are exact, so ties and the percentile's cut are exact and deterministic.
- A line's units are its revenue divided by its DSR's EUR rate, rounded half up to a unit, the
  rounding of the exact quotient (`line_units`).
- An EUR rate (units of a currency per 1 EUR) has RATE_DECIMALS decimal places, as DSR.eur_rate
  stores it: from RATE_PLACES up to below RATE_LIMIT.
"""

from decimal import Decimal

from psycopg import sql

EUR_SCALE = 8
UNITS_PER_EUR = 10**EUR_SCALE
RATE_DECIMALS = 10
RATE_SCALE = 10**RATE_DECIMALS  # an EUR rate times this is an integer
RATE_PLACES = Decimal(1).scaleb(-RATE_DECIMALS)  # the precision of DSR.eur_rate, and so its smallest value
RATE_LIMIT = Decimal(10) ** 14  # DSR.eur_rate holds 14 digits before the point: below this


def line_units(eur_rate: Decimal) -> sql.Composable:
    """The SQL of a usage line's EUR revenue in units (numeric), rounded half up exactly: for
    x, r >= 0, round(x * U / r) = floor((2 * x * U + r) / (2 * r)), which div() computes exactly."""
    if eur_rate == 1:
        # round() of a numeric rounds half away from zero, which is half up for revenue >= 0.
        return sql.SQL("round(revenue * {})").format(sql.Literal(UNITS_PER_EUR))
    return sql.SQL("div(revenue * {} + {}, {})").format(
        sql.Literal(2 * UNITS_PER_EUR), sql.Literal(eur_rate), sql.Literal(2 * eur_rate)
    )
