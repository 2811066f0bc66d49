"""The imports in admin: the list with status, progress and message, and queueing a failed one
again."""

import pytest
from django.contrib.auth.models import Permission
from model_bakery import baker

from dsrs.models import Import

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dsrs/import/"
NAME = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"


def staff(django_user_model, client, *permissions: str):
    user = django_user_model.objects.create_user("staff", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dsrs", codename__in=permissions))
    client.force_login(user)
    return client


def test_the_list_shows_status_progress_and_message(client, django_user_model):
    baker.make(Import, file_name=NAME, status="running", lines_read=1234, bytes_read=500, file_size=2000)
    baker.make(Import, file_name=NAME, status="failed", message="line 1: expected the header")

    page = staff(django_user_model, client, "view_import").get(CHANGELIST).content.decode()

    assert '<span class="dsr-status dsr-status-running">running</span>' in page
    assert '<span title="500 of 2,000 bytes">1,234 lines, 25%</span>' in page
    assert "line 1: expected the header" in page


def test_a_failed_import_is_queued_again_and_another_is_not(client, django_user_model):
    failed = baker.make(Import, file_name=NAME, status="failed", message="database error", stored_as=f"1/{NAME}")
    ingested = baker.make(Import, file_name=NAME, status="ingested")
    admin = staff(django_user_model, client, "view_import", "add_import")

    response = admin.post(CHANGELIST, {"action": "requeue", "_selected_action": [failed.id, ingested.id]}, follow=True)

    failed.refresh_from_db(), ingested.refresh_from_db()
    assert (failed.status, failed.message, failed.job_id is not None, ingested.status) == (
        "queued",
        "",
        True,
        "ingested",
    )
    assert [str(m) for m in response.context["messages"]] == [
        f"Queued again: import {failed.id}.",
        f"import {ingested.id} is ingested: only a failed import is queued again",
    ]


def test_only_who_may_add_imports_is_offered_the_requeue(client, django_user_model):
    page = staff(django_user_model, client, "view_import").get(CHANGELIST).content.decode()

    assert "Queue selected failed imports again" not in page


def test_an_imports_page_shows_its_bytes_read_and_its_dsr(client, django_user_model):
    dsr = baker.make("dsrs.DSR", path=NAME, status="ingested")
    record = baker.make(
        Import,
        file_name=NAME,
        status="ingested",
        lines_read=10,
        bytes_read=300,
        file_size=300,
        dsr=dsr,
        message=f"ingested as DSR {dsr.id}",
    )

    page = staff(django_user_model, client, "view_import").get(f"{CHANGELIST}{record.id}/change/").content.decode()

    assert "300 of 300 bytes" in page
    assert f'<a href="/admin/dsrs/dsr/{dsr.id}/change/">DSR {dsr.id}</a>' in page
