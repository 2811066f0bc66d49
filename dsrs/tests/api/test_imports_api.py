"""POST /imports/, GET /imports/ and /imports/{id}: who may, what is refused, what is queued."""

import pytest
from django.db import connection

from dsrs.models import Import
from dsrs.tests.support.uploads import dsr_bytes, upload
from dsrs.tests.support.users import user_with_token

pytestmark = pytest.mark.django_db

NAME = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"


@pytest.fixture
def uploader(django_user_model) -> str:
    return user_with_token(django_user_model, "uploader", "add_import")


def queued_jobs() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, queue_name, lock, (args->>'import_id')::bigint, status FROM procrastinate_jobs ORDER "
            "BY id"
        )
        return cursor.fetchall()


class TestUpload:
    def test_it_stores_the_file_and_queues_its_job_with_the_report_as_lock(self, client, uploader, imports_storage):
        response = upload(client, uploader, NAME, dsr_bytes(3), replace="true")

        record = Import.objects.get()
        assert response.status_code == 202
        assert response["Location"] == f"/imports/{record.id}"
        body = response.json()
        assert {
            k: body[k]
            for k in (
                "id",
                "file_name",
                "replace",
                "status",
                "lines_read",
                "bytes_read",
                "file_size",
                "dsr",
                "message",
                "started_at",
                "finished_at",
            )
        } == {
            "id": record.id,
            "file_name": NAME,
            "replace": True,
            "status": "queued",
            "lines_read": 0,
            "bytes_read": 0,
            "file_size": len(dsr_bytes(3)),
            "dsr": None,
            "message": "",
            "started_at": None,
            "finished_at": None,
        }
        assert (imports_storage / str(record.id) / NAME).read_bytes() == dsr_bytes(3)
        assert queued_jobs() == [
            ("ingest_import", "imports", "dsr-report:Spotify/SpotifyPremium//ES/20200101-20200131", record.id, "todo")
        ]
        assert record.created_by.username == "uploader"

    def test_a_dsrf_file_is_queued_with_the_report_its_name_gives_as_lock(self, client, uploader, imports_storage):
        name = (
            "DSR_PADPIDA2011021501G_PADPIDA2007040502I_SpotifyPremium_20240101--20240131__1of1_20240205T120000.tsv.gz"
        )

        response = upload(client, uploader, name, b"HEAD\t...")

        assert response.status_code == 202
        assert (
            queued_jobs()[0][2] == "dsrf-report:PADPIDA2011021501G/PADPIDA2007040502I/SpotifyPremium//20240101-20240131"
        )

    def test_replace_is_off_unless_asked(self, client, uploader, imports_storage):
        assert upload(client, uploader, NAME, dsr_bytes(1)).json()["replace"] is False

    def test_an_admin_session_may_upload_too(self, client, django_user_model, imports_storage):
        client.force_login(django_user_model.objects.create_superuser("admin"))

        assert upload(client, None, NAME, dsr_bytes(1)).status_code == 202

    @pytest.mark.parametrize("authorization", [None, "Token 0123456789abcdef0123456789abcdef01234567", "Bearer x"])
    def test_no_or_a_bad_token_is_a_401(self, client, authorization, imports_storage):
        response = upload(client, authorization, NAME, dsr_bytes(1))

        assert (response.status_code, response["WWW-Authenticate"]) == (401, "Token")
        assert (Import.objects.count(), queued_jobs()) == (0, [])

    def test_a_user_without_the_add_permission_gets_a_403(self, client, django_user_model, imports_storage):
        reader = user_with_token(django_user_model, "reader", "view_import")

        response = upload(client, reader, NAME, dsr_bytes(1))

        assert (response.status_code, response.json()) == (
            403,
            {"detail": "You do not have permission to perform this action."},
        )
        assert (Import.objects.count(), queued_jobs()) == (0, [])

    @pytest.mark.parametrize(
        "name, reason",
        [
            (
                "report.tsv",
                "file name does not match "
                "{DSP}_{Service}[_{Society}]_{Territory}_{Currency}_{YYYYMMDD}-{YYYYMMDD}.tsv[.gz] nor "
                "DSR_{SenderPartyId}_{RecipientPartyId}_{ServiceDescription}_{YYYYMMDD}--{YYYYMMDD}_{Territory}_{XofY}_{YYYYMMDDTHHMMSS}.tsv[.gz]",
            ),
            ("Spotify_SpotifyPremium_XX_EUR_20200101-20200131.tsv", "unknown territory 'XX' (ISO 3166 alpha-2)"),
            ("Spotify_SpotifyPremium_ES_QQQ_20200101-20200131.tsv", "unknown currency 'QQQ' (ISO 4217)"),
            (
                "Spotify_SpotifyPremium_ES_EUR_20200201-20200131.tsv",
                "period starts after it ends (2020-02-01 > 2020-01-31)",
            ),
            (
                f"{'D' * 200}_SpotifyPremium_ES_EUR_20200101-20200131.tsv",
                "the DSP 'DDDDDDDDDDDDDDDDDDDD'... is 200 characters long, more than the 100 a DSR holds",
            ),
        ],
    )
    def test_a_name_that_does_not_parse_or_an_unknown_code_is_a_400_and_nothing_is_queued(
        self, client, uploader, imports_storage, name, reason
    ):
        response = upload(client, uploader, name, dsr_bytes(1))

        assert (response.status_code, response.json()) == (400, {"file": [f"{name}: {reason}"]})
        assert (Import.objects.count(), queued_jobs(), imports_storage.exists() and any(imports_storage.iterdir())) == (
            0,
            [],
            False,
        )

    def test_no_file_is_a_400(self, client, uploader, imports_storage):
        response = client.post("/imports/", {"replace": "true"}, headers={"Authorization": uploader})

        assert (response.status_code, response.json()) == (400, {"file": ["No file was submitted."]})

    def test_a_body_larger_than_the_limit_is_a_413_before_it_is_read(self, client, uploader, imports_storage, settings):
        settings.IMPORTS_MAX_UPLOAD_BYTES = 1000

        response = upload(client, uploader, NAME, dsr_bytes(100))

        assert response.status_code == 413
        assert response.json()["detail"].endswith("bytes, more than IMPORTS_MAX_UPLOAD_BYTES (1,000 bytes)")
        assert (Import.objects.count(), queued_jobs()) == (0, [])

    def test_a_body_within_the_limit_is_taken(self, client, uploader, imports_storage, settings):
        settings.IMPORTS_MAX_UPLOAD_BYTES = 1000

        assert upload(client, uploader, NAME, dsr_bytes(1)).status_code == 202


class TestReading:
    def test_the_list_is_newest_first_and_paginated(self, client, uploader, imports_storage):
        ids = [upload(client, uploader, NAME, dsr_bytes(n + 1)).json()["id"] for n in range(3)]

        page = client.get("/imports/", headers={"Authorization": uploader}).json()

        assert (page["count"], [i["id"] for i in page["results"]], page["next"], page["previous"]) == (
            3,
            ids[::-1],
            None,
            None,
        )

    def test_an_import_is_found_by_id_and_an_unknown_one_is_a_404(self, client, uploader, imports_storage):
        created = upload(client, uploader, NAME, dsr_bytes(1)).json()

        found = client.get(f"/imports/{created['id']}", headers={"Authorization": uploader})
        missing = client.get("/imports/999999", headers={"Authorization": uploader})
        not_an_id = client.get("/imports/abc", headers={"Authorization": uploader})

        assert (found.status_code, found.json()) == (200, created)
        assert [r.status_code for r in (missing, not_an_id)] == [404, 404]

    def test_reading_needs_the_view_or_add_permission(self, client, django_user_model, uploader, imports_storage):
        viewer = user_with_token(django_user_model, "viewer", "view_import")
        nobody = user_with_token(django_user_model, "nobody")

        statuses = [
            client.get("/imports/", headers={"Authorization": who}).status_code for who in (viewer, uploader, nobody)
        ]
        anonymous = client.get("/imports/")

        assert [*statuses, anonymous.status_code] == [200, 200, 403, 401]
