from datetime import date
from decimal import Decimal

import pytest

from dsrs.rates import RateError, mean_ecb_rate


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
