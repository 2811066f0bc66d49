"""The ECB rates in admin: read-only, each with where it came from, and the last update's time."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils.timezone import localtime

from dsrs.ecb.sources import bundled_history_name
from dsrs.models import EcbRate, EcbRateUpdate
from dsrs.tests.support.users import staff_user

pytestmark = pytest.mark.django_db

RATES = "/admin/dsrs/ecbrate/"
UPDATES = "/admin/dsrs/ecbrateupdate/"


@pytest.fixture
def rate_viewer(client, django_user_model):
    """A staff member allowed to view ECB rates and their updates."""
    client.force_login(staff_user(django_user_model, "rates", "view_ecbrate", "view_ecbrateupdate"))
    return client


@pytest.fixture
def november_update():
    update = EcbRateUpdate.objects.create(
        source="https://ecb.test/eurofxref-hist.zip", days_added=1, currencies_added=0, rates_added=2
    )
    EcbRate.objects.bulk_create(
        [
            EcbRate(date=date(2026, 11, 2), currency="GBP", rate=Decimal("0.8342"), update=update),
            EcbRate(date=date(2026, 11, 2), currency="USD", rate=Decimal("1.1204"), update=update),
        ]
    )
    return update


def shown(response) -> list[tuple]:
    return [(rate.date, rate.currency, rate.rate, rate.update.source) for rate in response.context["cl"].result_list]


def test_the_list_shows_the_newest_rates_first_with_their_source(rate_viewer, november_update):
    response = rate_viewer.get(RATES)

    assert response.status_code == 200
    assert list(response.context["cl"].list_display) == ["day", "currency", "published_rate", "source", "loaded_at"]
    assert shown(response)[:3] == [
        (date(2026, 11, 2), "GBP", Decimal("0.8342"), november_update.source),
        (date(2026, 11, 2), "USD", Decimal("1.1204"), november_update.source),
        (date(2026, 10, 30), "AUD", Decimal("1.5904"), bundled_history_name()),
    ]
    assert response.context["cl"].result_count == 221_704
    content = response.content.decode()
    assert (
        '">2026-11-02</a></th><td class="field-currency">GBP</td><td class="field-published_rate">0.8342</td>'
        in content
    )


def test_the_list_heading_gives_the_last_update_its_time_and_the_newest_rates(rate_viewer, november_update):
    content = rate_viewer.get(RATES).content.decode()

    loaded_at = localtime(november_update.loaded_at)
    assert (
        f"<h2>Last update {loaded_at:%Y-%m-%d %H:%M} UTC from https://ecb.test/eurofxref-hist.zip: "
        "1 day and 0 currencies added (2 rates). Rates up to 2026-11-02.</h2>"
    ) in content


def test_the_updates_list_shows_each_load_newest_first(rate_viewer, november_update):
    response = rate_viewer.get(UPDATES)

    assert response.status_code == 200
    assert [
        (u.source, u.days_added, u.currencies_added, u.rates_added) for u in response.context["cl"].result_list
    ] == [
        ("https://ecb.test/eurofxref-hist.zip", 1, 0, 2),
        (bundled_history_name(), 7126, 41, 221_702),
    ]
    assert "<h2>Last update " in response.content.decode()


def test_the_list_searches_by_currency_code(rate_viewer, november_update):
    response = rate_viewer.get(RATES, {"q": "gbp"})

    assert response.context["cl"].result_count == 7_127  # every day of the bundled history, and 2026-11-02
    assert shown(response)[:2] == [
        (date(2026, 11, 2), "GBP", Decimal("0.8342"), november_update.source),
        (date(2026, 10, 30), "GBP", Decimal("0.8338"), bundled_history_name()),
    ]


def test_a_rate_shows_its_source_and_load_time(rate_viewer, november_update):
    rate = EcbRate.objects.get(date=date(2026, 11, 2), currency="GBP")

    content = rate_viewer.get(f"{RATES}{rate.id}/change/").content.decode()

    assert '<div class="readonly">0.8342</div>' in content
    assert '<div class="readonly">https://ecb.test/eurofxref-hist.zip</div>' in content
    assert f'<div class="readonly">{localtime(november_update.loaded_at):%Y-%m-%d %H:%M} UTC</div>' in content


@pytest.mark.parametrize("page", [RATES, UPDATES])
def test_rates_and_updates_cannot_be_added_changed_or_deleted(admin_client, page):
    item = (EcbRate if page == RATES else EcbRateUpdate).objects.first()

    assert admin_client.get(f"{page}add/").status_code == 403
    assert admin_client.post(f"{page}{item.id}/change/", {"rate": "1"}).status_code == 403
    assert admin_client.post(f"{page}{item.id}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(page).content.decode()
    assert (EcbRate if page == RATES else EcbRateUpdate).objects.filter(id=item.id).exists()


def test_without_any_load_the_heading_says_how_to_load_rates(rate_viewer):
    EcbRate.objects.all().delete()
    EcbRateUpdate.objects.all().delete()

    assert "<h2>No ECB rates loaded yet: run update_ecb_rates.</h2>" in rate_viewer.get(RATES).content.decode()
