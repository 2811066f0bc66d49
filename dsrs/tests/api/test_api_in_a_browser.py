"""The API opened in a browser: DRF's page around the JSON that clients get."""

import json

import pytest

pytestmark = pytest.mark.django_db

# What Chromium and Firefox send when a person opens a URL.
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_the_dsr_list_is_a_page_with_the_same_data(client, small_catalogue):
    plain = client.get("/dsrs/").json()

    response = client.get("/dsrs/", HTTP_ACCEPT=BROWSER)

    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert json.loads(response.context["content"]) == plain
    page = response.content.decode()
    assert "<title>DSRs – DSR API</title>" in page
    assert '<a class="navbar-brand" href="/api/docs/">DSR API</a>' in page


def test_a_dsr_is_a_page_with_the_same_data(client, small_catalogue):
    url = f"/dsrs/{small_catalogue.gb_spotify}"

    response = client.get(url, HTTP_ACCEPT=BROWSER)

    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert json.loads(response.context["content"]) == client.get(url).json()
    assert "<title>DSR – DSR API</title>" in response.content.decode()


def test_an_unknown_dsr_is_a_page_with_the_404(client):
    response = client.get("/dsrs/12345", HTTP_ACCEPT=BROWSER)

    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")
    assert json.loads(response.context["content"]) == {"detail": "Not found."}


def test_the_page_loads_nothing_from_elsewhere(client, small_catalogue):
    page = client.get("/dsrs/", HTTP_ACCEPT=BROWSER).content.decode()

    assert "://" not in page
