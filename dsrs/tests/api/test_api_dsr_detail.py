"""GET /dsrs/{id}: one DSR, or a JSON 404."""

import pytest

from dsrs.ingest.service import ingest_dsr

pytestmark = pytest.mark.django_db

NOT_FOUND = {"detail": "Not found."}


def test_it_shows_one_dsr(client, write_dsr):
    path = write_dsr(
        "Spotify_SpotifyStudent_SGAE_GB_GBP_20210901-20210930.tsv", ["id1\tt\ta\ti\t1\t2", "id2\tt\ta\ti\t3\t4"]
    )
    dsr = ingest_dsr(path=path).dsr

    response = client.get(f"/dsrs/{dsr.id}")

    assert (response.status_code, response["Content-Type"]) == (200, "application/json")
    assert response.json() == {
        "id": dsr.id,
        "path": str(path),
        "period_start": "2021-09-01T00:00:00Z",
        "period_end": "2021-09-30T00:00:00Z",
        "status": "ingested",
        "territory": {"name": "United Kingdom", "code_2": "GB"},
        "currency": {"name": "Pound Sterling", "code": "GBP"},
        "dsp": "Spotify",
        "service": "SpotifyStudent",
        "society": "SGAE",
        "eur_rate": 0.8568331818,
        "lines_read": 2,
        "lines_stored": 2,
        "lines_rejected": 0,
        "error": "",
    }


def test_a_dsr_without_society_shows_null(client, small_catalogue):
    assert client.get(f"/dsrs/{small_catalogue.es_spotify}").json()["society"] is None


@pytest.mark.parametrize(
    "id", ["0", "12345", "99999999999999999999999", "9" * 4301, "-1", "abc", "1.0", "\u0661", "%2B1", "%201", "\uff11"]
)
def test_an_unknown_id_is_a_json_404(client, small_catalogue, id):
    response = client.get(f"/dsrs/{id}")

    assert (response.status_code, response["Content-Type"], response.json()) == (404, "application/json", NOT_FOUND)


def test_an_empty_database_has_no_dsr(client):
    assert client.get("/dsrs/1").json() == NOT_FOUND


def test_the_path_with_a_trailing_slash_redirects(client, small_catalogue):
    response = client.get(f"/dsrs/{small_catalogue.es_spotify}/")

    assert (response.status_code, response["Location"]) == (301, f"/dsrs/{small_catalogue.es_spotify}")
