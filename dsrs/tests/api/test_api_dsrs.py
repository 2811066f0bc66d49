"""GET /dsrs/: every DSR, in id order."""

import pytest

from dsrs.ingest.service import ingest_dsr

pytestmark = pytest.mark.django_db


def test_it_lists_every_dsr_in_id_order_with_the_contracts_fields(client, small_catalogue):
    response = client.get("/dsrs/")

    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    body = response.json()
    assert [dsr["id"] for dsr in body] == [
        small_catalogue.es_spotify,
        small_catalogue.gb_spotify,
        small_catalogue.no_spotify,
        small_catalogue.es_youtube,
    ]
    gb = body[1]
    assert gb["path"].endswith("/Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv")
    assert {name: gb[name] for name in ("period_start", "period_end", "status", "territory", "currency")} == {
        "period_start": "2020-01-01T00:00:00Z",
        "period_end": "2020-01-31T00:00:00Z",
        "status": "ingested",
        "territory": {"name": "United Kingdom", "code_2": "GB"},
        "currency": {"name": "Pound Sterling", "code": "GBP"},
    }


def test_it_lists_failed_dsrs_too(client, write_dsr):
    failed = ingest_dsr(
        path=write_dsr("Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv", ["only\tfive\tfields\t1\t2"])
    ).dsr

    [dsr] = client.get("/dsrs/").json()

    assert (dsr["id"], dsr["status"], dsr["lines_rejected"]) == (failed.id, "failed", 1)
    assert dsr["error"].endswith(
        "no valid usage line (1 rejected; first: line 2: expected 6 tab-separated fields, found 5)"
    )


def test_an_empty_database_gives_an_empty_array(client):
    response = client.get("/dsrs/")

    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html"])
def test_clients_get_json_whatever_else_they_add(client, small_catalogue, accept):
    plain = client.get("/dsrs/").json()
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    for query in ["", "?format=api", "?page=2&limit=1"]:
        response = client.get(f"/dsrs/{query}", **headers)
        assert (response["Content-Type"], response.json()) == ("application/json", plain)


def test_the_path_without_its_trailing_slash_redirects(client):
    response = client.get("/dsrs")

    assert (response.status_code, response["Location"]) == (301, "/dsrs/")
