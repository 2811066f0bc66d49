"""Where the EUR rate of a DSR is chosen: the mean of the ECB reference rates over its period.

The rates are the table of ECB rates (dsrs.models.EcbRate), seeded by a migration and kept up to
date by update_ecb_rates (dsrs/ecb/). A day without publication (weekend, holiday) is simply
absent, never interpolated. A period that ends after the newest stored day has no rate yet:
days of it may still be published, and a mean without them would be wrong for good.
"""

from datetime import date
from decimal import Decimal

from django.db.models import Count, Max, Sum

from dsrs.models import EcbRate
from dsrs.money import RATE_PLACES


class RateError(ValueError):
    pass


def newest_ecb_date() -> date | None:
    return EcbRate.objects.aggregate(newest=Max("date"))["newest"]


def mean_ecb_rate(currency: str, period_start: date, period_end: date) -> Decimal:
    """Units of `currency` per 1 EUR: the arithmetic mean of the rates published in the period."""
    if currency == "EUR":
        return Decimal(1)
    newest = newest_ecb_date()
    if newest is None or newest < period_end:
        raise RateError(
            f"no ECB rates for {currency} up to {period_end} yet: the stored rates end on {newest} "
            "(update_ecb_rates loads newer ones)"
        )
    # The sum is exact (numeric) and divided here, as DSR.eur_rate has always been rounded.
    published = EcbRate.objects.filter(currency=currency, date__range=(period_start, period_end)).aggregate(
        total=Sum("rate"), days=Count("*")
    )
    if published["days"]:
        return (published["total"] / published["days"]).quantize(RATE_PLACES)
    if not EcbRate.objects.filter(currency=currency).exists():
        raise RateError(f"the ECB does not quote {currency}")
    raise RateError(f"no ECB rate for {currency} published between {period_start} and {period_end}")
