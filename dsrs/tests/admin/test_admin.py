from datetime import date
from decimal import Decimal

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from model_bakery import baker

from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.tests.support.database import stored_lines, usage_partitions
from dsrs.tests.support.users import staff_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dsrs/dsr/"
NOK_JANUARY = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"
EUR_FEBRUARY = "Spotify_SpotifyPremium_ES_EUR_20200201-20200229.tsv"
GBP_MARCH = "YouTube_YouTubeMusic_SGAE_GB_GBP_20200301-20200331.tsv"


def lines(count: int) -> list[str]:
    return [f"id{i}\tSong {i}\tArtist\tES000000000{i}\t{i}\t{i}.5" for i in range(count)]


@pytest.fixture
def dsrs(write_dsr):
    """Three ingested DSRs of 2, 3 and 4 lines."""
    return [
        ingest_dsr(path=write_dsr(name, lines(count))).dsr
        for name, count in [(NOK_JANUARY, 2), (EUR_FEBRUARY, 3), (GBP_MARCH, 4)]
    ]


@pytest.fixture
def deleter(client, django_user_model):
    """A staff member allowed to view and delete DSRs, and nothing more."""
    client.force_login(staff_user(django_user_model, "deleter", "view_dsr", "delete_dsr"))
    return client


@pytest.fixture
def viewer(client, django_user_model):
    """A staff member allowed to view DSRs but not to delete them."""
    client.force_login(staff_user(django_user_model, "viewer", "view_dsr"))
    return client


def usage_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dsrs_usage")
        return cursor.fetchone()[0]


def action(ids, confirmed: bool) -> dict:
    data = {"action": "delete_selected", "_selected_action": [str(i) for i in ids]}
    return {**data, "post": "yes"} if confirmed else data


# The list and the detail page


def test_the_list_shows_one_short_line_per_dsr(dsrs, deleter):
    response = deleter.get(CHANGELIST)

    assert response.status_code == 200
    assert list(response.context["cl"].list_display) == [
        "action_checkbox",
        "id",
        "file_name",
        "territory_code",
        "currency_code",
        "period",
        "status_badge",
        "lines",
        "rejected",
    ]
    content = response.content.decode()
    gbp = dsrs[2]
    assert f'<a href="{CHANGELIST}{gbp.id}/change/"><span title="{gbp.path}">{GBP_MARCH}</span></a>' in content
    assert '<td class="field-territory_code"><span title="United Kingdom">GB</span></td>' in content
    assert '<td class="field-currency_code"><span title="Pound Sterling">GBP</span></td>' in content
    assert '<td class="field-period">2020-03-01 – 2020-03-31</td>' in content
    assert '<span class="dsr-status dsr-status-ingested" title="">ingested</span>' in content
    assert '<td class="field-lines">4</td><td class="field-rejected">0</td>' in content
    assert 'href="/static/dsrs/admin.css"' in content
    assert "nav-sidebar" not in content  # its 300 px are the list's


def test_the_list_shows_a_failed_dsr_with_its_error_and_large_counts_grouped(deleter):
    period = {
        "period_start": date(2024, 1, 1),
        "period_end": date(2024, 1, 31),
        "territory_id": "ES",
        "currency_id": "EUR",
    }
    baker.make(DSR, status="ingested", lines_read=2_500_012, lines_stored=2_500_000, lines_rejected=12, **period)
    baker.make(
        DSR,
        status="failed",
        error="x.tsv.gz: truncated gzip: the file ends after line 31",
        lines_read=30,
        lines_rejected=1,
        **period,
    )

    content = deleter.get(CHANGELIST).content.decode()

    assert '<td class="field-lines">2,500,000</td><td class="field-rejected">12</td>' in content
    assert (
        '<span class="dsr-status dsr-status-failed" title="x.tsv.gz: truncated gzip: the file ends after line 31">failed</span>'  # noqa: E501 (an exact value, whole)
        in content
    )
    assert '<td class="field-lines">0</td><td class="field-rejected">1</td>' in content


def shown_ids(response) -> list[int]:
    return [dsr.id for dsr in response.context["cl"].result_list]


def test_the_list_filters_by_status_territory_currency_and_period(dsrs, write_dsr, deleter):
    failed = ingest_dsr(path=write_dsr("Spotify_SpotifyDuo_NO_NOK_20200401-20200430.tsv", ["bad"])).dsr
    nok, eur, gbp = dsrs

    assert shown_ids(deleter.get(CHANGELIST, {"status__exact": "failed"})) == [failed.id]
    assert shown_ids(deleter.get(CHANGELIST, {"territory__code_2__exact": "NO"})) == [nok.id, failed.id]
    assert shown_ids(deleter.get(CHANGELIST, {"currency__code__exact": "EUR"})) == [eur.id]
    assert shown_ids(deleter.get(CHANGELIST, {"period": "2020-03-01/2020-03-31"})) == [gbp.id]


def test_the_filters_offer_only_values_that_dsrs_have(dsrs, deleter):
    content = deleter.get(CHANGELIST).content.decode()

    assert "?territory__code_2__exact=NO" in content and "?territory__code_2__exact=FR" not in content
    assert "?currency__code__exact=GBP" in content and "?currency__code__exact=USD" not in content
    assert "?period=2020-02-01%2F2020-02-29" in content and "2020-02-01 – 2020-02-29" in content


def test_a_period_filter_that_is_not_two_dates_falls_back_to_the_whole_list(dsrs, deleter):
    response = deleter.get(CHANGELIST, {"period": "last-month"})

    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}?e=1")


def test_the_list_searches_by_path(dsrs, deleter):
    assert shown_ids(deleter.get(CHANGELIST, {"q": "SpotifyPremium"})) == [dsrs[1].id]


def test_the_detail_page_shows_the_eur_rate_the_error_and_the_rejection_report(write_dsr, deleter):
    dsr = ingest_dsr(path=write_dsr(NOK_JANUARY, ["bad line", *lines(1)]), eur_rate=Decimal("11.25")).dsr

    response = deleter.get(f"{CHANGELIST}{dsr.id}/change/")

    content = response.content.decode()
    assert response.status_code == 200
    assert "1 EUR = 11.25 NOK" in content
    assert "Given with ingest_dsr --eur-rate" in content
    assert f"{dsr.path}: 1 of 2 lines rejected (50.00%), more than DSR_MAX_REJECTED_RATIO (1.00%)" in content
    assert "<tbody><tr><td>2</td><td>expected 6 tab-separated fields, found 1</td></tr></tbody>" in content


def test_the_detail_page_draws_the_revenue_concentration(write_dsr, deleter):
    # Revenue by resource: A 50 (two lines), B 30, C 10, D 10, E 0.
    path = write_dsr(
        NOK_JANUARY,
        [
            "A\tt\ta\ti\t1\t30",
            "B\tt\ta\ti\t1\t30",
            "C\tt\ta\ti\t1\t10",
            "A\tt\ta\ti\t1\t20",
            "D\tt\ta\ti\t1\t10",
            "E\tt\ta\ti\t1\t0",
        ],
    )
    dsr = ingest_dsr(path=path).dsr

    content = deleter.get(f"{CHANGELIST}{dsr.id}/change/").content.decode()

    assert '<polyline class="curve" points="0.0,180.0 72.0,90.0 144.0,36.0 216.0,18.0 288.0,0.0 360.0,0.0"/>' in content
    assert "<p>5 resources: the top 20% earn 50% of the revenue; half of the revenue comes from the top 20%." in content


@pytest.mark.parametrize(
    "lines, shown",
    [
        (["A\tt\ta\ti\t1\t0", "B\tt\ta\ti\t1\t0"], "no revenue: every resource earned 0"),
        (["bad line"], "no usage line stored"),
    ],
)
def test_the_detail_page_says_why_a_dsr_has_no_concentration(write_dsr, deleter, lines, shown):
    dsr = ingest_dsr(path=write_dsr(NOK_JANUARY, lines)).dsr

    content = deleter.get(f"{CHANGELIST}{dsr.id}/change/").content.decode()

    assert f'<div class="readonly">{shown}</div>' in content
    assert "dsr-concentration" not in content


def test_the_rejection_report_says_when_it_lists_only_the_first_rejections():
    from dsrs.admin import DSRAdmin

    dsr = DSR(lines_rejected=250, rejections=[{"line": 2, "reason": "empty dsp_id"}])

    assert "<caption>the first 1 of 250 rejected lines</caption>" in DSRAdmin.rejection_report(None, dsr)
    assert DSRAdmin.rejection_report(None, DSR(rejections=[])) == "no rejected line"


def test_dsrs_cannot_be_added_or_changed(dsrs, admin_client):
    dsr = dsrs[0]

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    response = admin_client.post(f"{CHANGELIST}{dsr.id}/change/", {"path": "edited", "status": "failed"})
    assert response.status_code == 403
    dsr.refresh_from_db()
    assert (dsr.path, dsr.status) == (dsrs[0].path, "ingested")


def test_the_detail_page_is_read_only_with_a_delete_link(dsrs, admin_client):
    content = admin_client.get(f"{CHANGELIST}{dsrs[0].id}/change/").content.decode()

    assert 'name="path"' not in content
    assert f'href="{CHANGELIST}{dsrs[0].id}/delete/"' in content


@pytest.mark.parametrize("url", ["/admin/dsrs/currency/", "/admin/dsrs/territory/"])
def test_currencies_and_territories_are_read_only(admin_client, url):
    code = "EUR" if "currency" in url else "ES"

    assert admin_client.get(url).status_code == 200
    assert admin_client.get(f"{url}add/").status_code == 403
    assert admin_client.post(f"{url}{code}/change/", {"name": "edited"}).status_code == 403
    assert admin_client.get(f"{url}{code}/delete/").status_code == 403
    assert (
        admin_client.post(url, {"action": "delete_selected", "_selected_action": [code], "post": "yes"}).status_code
        == 200
    )
    assert admin_client.get(f"{url}{code}/change/").status_code == 200


# Deleting with the action on the list


def test_the_action_is_named_for_what_it_deletes(dsrs, deleter):
    choices = dict(deleter.get(CHANGELIST).context["action_form"].fields["action"].choices)

    assert choices == {"": "---------", "delete_selected": "Delete selected DSRs and their usages"}


def test_the_action_asks_for_confirmation_with_the_number_of_dsrs_and_usage_lines(dsrs, deleter):
    nok, _eur, gbp = dsrs

    response = deleter.post(CHANGELIST, action([nok.id, gbp.id], confirmed=False))

    assert response.status_code == 200
    assert response.templates[0].name == "admin/delete_selected_confirmation.html"
    content = response.content.decode()
    assert "<li>DSRs: 2</li>" in content
    assert "<li>Usage lines: 6</li>" in content
    assert f"<li>{nok} (2 usage lines)</li>" in content
    assert f"<li>{gbp} (4 usage lines)</li>" in content
    assert DSR.objects.count() == 3 and usage_count() == 9


def test_the_confirmed_action_deletes_the_dsrs_and_their_usage_lines_only(dsrs, deleter):
    nok, eur, gbp = dsrs

    response = deleter.post(CHANGELIST, action([nok.id, gbp.id], confirmed=True), follow=True)

    assert "Successfully deleted 2 DSRs." in response.content.decode()
    assert list(DSR.objects.values_list("id", flat=True)) == [eur.id]
    assert usage_partitions() == [f"dsrs_usage_{eur.id}"]
    assert stored_lines(nok.id) == stored_lines(gbp.id) == []
    assert len(stored_lines(eur.id)) == 3
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2


def test_a_failed_dsr_counts_no_usage_line_and_is_deleted_too(dsrs, write_dsr, deleter):
    failed = ingest_dsr(path=write_dsr("Spotify_SpotifyDuo_NO_NOK_20200401-20200430.tsv", ["bad", *lines(5)])).dsr
    assert (failed.status, failed.lines_stored) == ("failed", 0)

    content = deleter.post(CHANGELIST, action([failed.id], confirmed=False)).content.decode()
    assert "<li>DSRs: 1</li>" in content and "<li>Usage lines: 0</li>" in content

    deleter.post(CHANGELIST, action([failed.id], confirmed=True))
    assert not DSR.objects.filter(id=failed.id).exists()
    assert DSR.objects.count() == 3 and usage_count() == 9


def test_deleting_drops_partitions_and_never_reads_or_deletes_usage_rows(dsrs, deleter):
    nok = dsrs[0]

    with CaptureQueriesContext(connection) as confirmation:
        deleter.post(CHANGELIST, action([nok.id], confirmed=False))
    with CaptureQueriesContext(connection) as deletion:
        deleter.post(CHANGELIST, action([nok.id], confirmed=True))

    assert not [q["sql"] for q in confirmation.captured_queries if "dsrs_usage" in q["sql"]]
    assert [q["sql"] for q in deletion.captured_queries if "dsrs_usage" in q["sql"]] == [
        f"DROP TABLE IF EXISTS dsrs_usage_{nok.id}"
    ]


@pytest.fixture
def lines_kept_busy(monkeypatch):
    """A query in another session keeps reading dsrs_usage, beyond the deletion's patience."""
    from dsrs.storage import deletion
    from dsrs.tests.support.processes import observer

    monkeypatch.setattr(deletion, "PATIENCE_SECONDS", 0.2)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '5s'")  # a deletion that waits fails instead of hanging
    with observer() as long_query:
        long_query.execute("BEGIN")
        long_query.execute("SELECT count(*) FROM dsrs_usage")
        yield
        long_query.execute("ROLLBACK")


def test_the_action_says_when_running_queries_keep_it_from_deleting(dsrs, deleter, lines_kept_busy):
    nok, _eur, gbp = dsrs

    response = deleter.post(CHANGELIST, action([nok.id, gbp.id], confirmed=True), follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        f"DSRs {nok.id}, {gbp.id} not deleted: queries kept reading usage lines for 0.2 s; try again later"
    ]
    assert DSR.objects.count() == 3 and usage_count() == 9
    assert LogEntry.objects.count() == 0


# Deleting with the button on the detail page


def test_the_delete_page_asks_for_confirmation_with_the_number_of_usage_lines(dsrs, deleter):
    gbp = dsrs[2]

    response = deleter.get(f"{CHANGELIST}{gbp.id}/delete/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "<li>DSRs: 1</li>" in content and "<li>Usage lines: 4</li>" in content
    assert f"<li>{gbp} (4 usage lines)</li>" in content
    assert usage_count() == 9


def test_the_confirmed_delete_page_deletes_the_dsr_and_its_usage_lines_only(dsrs, deleter):
    nok, eur, gbp = dsrs

    response = deleter.post(f"{CHANGELIST}{gbp.id}/delete/", {"post": "yes"})

    assert (response.status_code, response["Location"]) == (302, CHANGELIST)
    assert list(DSR.objects.values_list("id", flat=True)) == [nok.id, eur.id]
    assert usage_partitions() == [f"dsrs_usage_{nok.id}", f"dsrs_usage_{eur.id}"]
    assert stored_lines(gbp.id) == []
    assert (len(stored_lines(nok.id)), len(stored_lines(eur.id))) == (2, 3)


def test_the_delete_page_says_when_running_queries_keep_it_from_deleting(dsrs, deleter, lines_kept_busy):
    gbp = dsrs[2]

    response = deleter.post(f"{CHANGELIST}{gbp.id}/delete/", {"post": "yes"})

    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}{gbp.id}/change/")
    messages = [str(m) for m in deleter.get(response["Location"]).context["messages"]]
    assert messages == [f"DSR {gbp.id} not deleted: queries kept reading usage lines for 0.2 s; try again later"]
    assert DSR.objects.count() == 3 and usage_count() == 9
    assert LogEntry.objects.count() == 0


# Who may delete


def test_staff_without_delete_permission_is_not_offered_the_action(dsrs, viewer):
    response = viewer.get(CHANGELIST)

    assert response.status_code == 200
    assert response.context["action_form"] is None


def test_staff_without_delete_permission_is_refused(dsrs, viewer):
    gbp = dsrs[2]

    assert viewer.get(f"{CHANGELIST}{gbp.id}/delete/").status_code == 403
    assert viewer.post(f"{CHANGELIST}{gbp.id}/delete/", {"post": "yes"}).status_code == 403
    # The action is not offered to them, so Django ignores a forged one and shows the list again.
    assert viewer.post(CHANGELIST, action([gbp.id], confirmed=True)).status_code == 200
    assert DSR.objects.count() == 3 and usage_count() == 9


def test_staff_without_delete_permission_sees_no_delete_link(dsrs, viewer):
    content = viewer.get(f"{CHANGELIST}{dsrs[0].id}/change/").content.decode()

    assert "/delete/" not in content


def test_a_logged_in_user_who_is_not_staff_is_sent_to_the_login_page(dsrs, client, django_user_model):
    user = django_user_model.objects.create_user("member")
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_dsr", "delete_dsr"]))
    client.force_login(user)
    gbp = dsrs[2]

    for response in [
        client.post(CHANGELIST, action([gbp.id], confirmed=True)),
        client.post(f"{CHANGELIST}{gbp.id}/delete/", {"post": "yes"}),
    ]:
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    assert DSR.objects.count() == 3 and usage_count() == 9


def test_an_anonymous_visitor_is_sent_to_the_login_page(dsrs, client):
    response = client.post(f"{CHANGELIST}{dsrs[2].id}/delete/", {"post": "yes"})

    assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={CHANGELIST}{dsrs[2].id}/delete/")
    assert DSR.objects.count() == 3


# Logging in


@pytest.fixture
def staff_with_password(django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, for tests only
    user = django_user_model.objects.create_user("clerk", password="right horse battery", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_dsr"))
    return user


def log_in(client, username: str, password: str, address: str = "192.0.2.1"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_admin_login_locks_a_user_out_after_five_wrong_passwords(client, staff_with_password):
    for _ in range(4):
        assert log_in(client, "clerk", "guess").status_code == 200  # the form again, with its error

    response = log_in(client, "clerk", "guess")

    assert response.status_code == 429
    assert "Too many failed logins as “clerk” from your address: this login is locked for" in response.content.decode()
    assert log_in(client, "clerk", "right horse battery").status_code == 429  # even the right one
    assert "_auth_user_id" not in client.session


def test_a_lockout_holds_one_user_name_from_one_address_only(client, staff_with_password, django_user_model):
    django_user_model.objects.create_user("other", password="other password", is_staff=True)
    for _ in range(5):
        log_in(client, "clerk", "guess")

    assert log_in(client, "other", "other password").status_code == 302
    client.logout()
    assert log_in(client, "clerk", "right horse battery", address="198.51.100.7").status_code == 302


def test_a_successful_login_clears_the_failures(client, staff_with_password):
    for _ in range(4):
        log_in(client, "clerk", "guess")
    assert log_in(client, "clerk", "right horse battery").status_code == 302
    client.logout()

    for _ in range(4):
        assert log_in(client, "clerk", "guess").status_code == 200
    assert log_in(client, "clerk", "right horse battery").status_code == 302


def test_the_detail_page_of_a_dsrf_dsr_shows_its_recipient(tmp_path, deleter):
    from dsrs.tests.support.dsrf_files import SPAIN, write_dsrf

    dsr = ingest_dsr(path=write_dsrf(tmp_path, SPAIN)).dsr

    content = deleter.get(f"{CHANGELIST}{dsr.id}/change/").content.decode()

    assert '<div class="readonly">SGAE</div>' in content
    assert "Recipient (DDEX party ID):</label>" in content
    assert '<div class="readonly">PADPIDA2007040502I</div>' in content
