"""Rate limits (dsrs.api.throttling): reads and uploads, per user and per address, counted in the
database's shared cache so that every process counts the same requests; 429 with Retry-After."""

import os
import subprocess
import sys

import pytest
from django.core.cache import caches

from dsrs.tests.support.paths import PROJECT
from dsrs.tests.support.processes import SERVING, database_url
from dsrs.tests.support.uploads import dsr_bytes, upload
from dsrs.tests.support.users import user_with_token

pytestmark = pytest.mark.django_db

NAME = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"


@pytest.fixture
def rates(settings):
    """Sets some rates (the others off) on an empty count."""
    caches["shared"].clear()

    def set_rates(**rates: str) -> None:
        settings.API_THROTTLE_RATES = {**dict.fromkeys(settings.API_THROTTLE_RATES), **rates}

    yield set_rates
    caches["shared"].clear()


def test_an_address_over_its_read_rate_gets_429_with_retry_after(client, rates):
    rates(reads_per_address="3/minute")

    statuses = [client.get("/dsrs/").status_code for _ in range(4)]
    refused = client.get("/dsrs/")

    assert statuses == [200, 200, 200, 429]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("Request was throttled. Expected available in ")


def test_a_user_over_their_read_rate_is_refused_while_another_user_of_the_same_address_reads(
    client, rates, django_user_model
):
    rates(reads_per_user="2/minute", reads_per_address="100/minute")
    greedy = user_with_token(django_user_model, "greedy", "view_dsr")
    other = user_with_token(django_user_model, "other", "view_dsr")

    greedy_statuses = [client.get("/dsrs/", headers={"Authorization": greedy}).status_code for _ in range(3)]

    assert greedy_statuses == [200, 200, 429]
    assert client.get("/dsrs/", headers={"Authorization": other}).status_code == 200


def test_the_address_is_the_peers_whatever_x_forwarded_for_says(client, rates):
    rates(reads_per_address="2/minute")

    statuses = [client.get("/dsrs/", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(3)]

    assert statuses == [200, 200, 429]


def test_uploads_are_counted_apart_from_reads(client, rates, django_user_model, imports_storage):
    rates(uploads_per_user="1/hour", reads_per_user="100/minute")
    uploader = user_with_token(django_user_model, "uploader", "add_import")

    first = upload(client, uploader, NAME, dsr_bytes(3))
    second = upload(client, uploader, NAME.replace("ES_EUR", "NO_NOK"), dsr_bytes(3))
    polled = client.get(f"/imports/{first.json()['id']}", headers={"Authorization": uploader})

    assert (first.status_code, second.status_code, polled.status_code) == (202, 429, 200)
    assert 3500 <= int(second["Retry-After"]) <= 3600


@pytest.mark.slow  # a process of its own
@pytest.mark.usefixtures("committed_db")
def test_every_process_counts_the_same_requests(client, rates):
    rates(reads_per_address="3/minute")
    # Two reads from another process, as another gunicorn worker would serve them.
    other_process = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup()\n"
            "from django.test import Client\n"
            "print([Client().get('/dsrs/').status_code for _ in range(2)])",
        ],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dsr_project.settings",
            "DATABASE_URL": database_url(),
            **SERVING,
            "THROTTLE_READS_PER_ADDRESS": "3/minute",
        },
        capture_output=True,
        text=True,
        check=True,
    )

    assert other_process.stdout == "[200, 200]\n", other_process.stderr
    assert [client.get("/dsrs/").status_code for _ in range(2)] == [200, 429]
