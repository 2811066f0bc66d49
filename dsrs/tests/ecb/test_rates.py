from datetime import date
from decimal import Decimal

import pytest

from dsrs.ecb.rates import RateError, mean_ecb_rate, newest_ecb_date
from dsrs.models import EcbRate, EcbRateUpdate

pytestmark = pytest.mark.django_db


def test_it_averages_the_ecb_rates_published_in_the_period():
    # ECB GBP per EUR: 2 Jan 0.84828, 3 Jan 0.85115, 6 Jan 0.85215, 7 Jan 0.85183; no rate on
    # 1 Jan (holiday) nor on the weekend, which therefore do not count.
    assert mean_ecb_rate("GBP", date(2020, 1, 1), date(2020, 1, 7)) == Decimal("0.8508525000")


def test_a_single_day_period_takes_that_days_rate():
    assert mean_ecb_rate("NOK", date(2020, 1, 2), date(2020, 1, 2)) == Decimal("9.8408000000")


def test_euro_has_rate_one():
    assert mean_ecb_rate("EUR", date(2020, 1, 4), date(2020, 1, 5)) == Decimal(1)


def test_a_period_without_publication_has_no_rate():
    with pytest.raises(RateError, match="no ECB rate for GBP published between 2020-01-04 and 2020-01-05"):
        mean_ecb_rate("GBP", date(2020, 1, 4), date(2020, 1, 5))


def test_a_currency_no_longer_quoted_has_no_rate():
    with pytest.raises(RateError, match="no ECB rate for RUB published between 2023-01-01 and 2023-01-31"):
        mean_ecb_rate("RUB", date(2023, 1, 1), date(2023, 1, 31))


def test_a_currency_the_ecb_never_quoted_has_no_rate():
    with pytest.raises(RateError, match="the ECB does not quote ARS"):
        mean_ecb_rate("ARS", date(2020, 1, 1), date(2020, 1, 31))


def test_the_seeded_rates_end_where_the_bundled_history_does():
    assert newest_ecb_date() == date(2026, 10, 30)


def test_it_averages_the_rates_stored_in_the_table():
    update = EcbRateUpdate.objects.create(source="test")
    EcbRate.objects.bulk_create(
        EcbRate(date=date(2026, 11, day), currency="GBP", rate=Decimal(rate), update=update)
        for day, rate in [(2, "0.8342"), (3, "0.8401"), (4, "0.83995")]
    )

    # (0.8342 + 0.8401 + 0.83995) / 3 = 0.838083333...; the bundled 2026-10-30 is outside the period.
    assert mean_ecb_rate("GBP", date(2026, 10, 31), date(2026, 11, 4)) == Decimal("0.8380833333")


def test_a_period_ending_after_the_newest_stored_day_has_no_rate_yet():
    # Days of it may still be published: a mean of the days stored so far would be wrong for good.
    with pytest.raises(
        RateError,
        match=r"^no ECB rates for GBP up to 2026-10-31 yet: the stored rates end on 2026-10-30 \(update_ecb_rates loads newer ones\)$",  # noqa: E501 (an exact value, whole)
    ):
        mean_ecb_rate("GBP", date(2026, 10, 1), date(2026, 10, 31))
