"""How the top-percentile answer is computed and kept (dsrs/percentile/): over several
connections, streamed when large, kept for the next request over the same DSRs, forgotten with a
deleted DSR, and exact at 1e-8 EUR. On conftest.small_catalogue: EUR revenue Spotify A 45,
YouTube A 20, Spotify B 20, Spotify E 10, Spotify D 5, Spotify C 0."""

import json
import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from dsrs import percentile
from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.percentile import ranking as ranking_module
from dsrs.percentile import top_percentile_resources
from dsrs.storage.deletion import delete_dsrs

pytestmark = pytest.mark.usefixtures("committed_db")

EVERY_RESOURCE = [("Spotify", "A"), ("YouTube", "A"), ("Spotify", "B"), ("Spotify", "E"), ("Spotify", "D")]


def ranking(resources) -> list[tuple[str, str]]:
    return [(r.dsp, r.dsp_id) for r in resources]


def kept_answers() -> list[tuple[list[int], int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT dsr_ids, covered_number FROM dsrs_percentile_answer ORDER BY id")
        return [(list(ids), number) for ids, number in cursor.fetchall()]


@pytest.fixture
def rankings_computed(monkeypatch):
    """How many times the ranking was computed over the usage lines (by PostgreSQL or DuckDB)."""
    computed = []
    original = ranking_module.Ranking

    def counting(*args, **kwargs):
        computed.append(args[1])
        return original(*args, **kwargs)

    def counting_columnar(*args, **kwargs):
        computed.append(args[1])
        return original_columnar(*args, **kwargs)

    original_columnar = percentile.ColumnarRanking
    monkeypatch.setattr(percentile, "Ranking", counting)
    monkeypatch.setattr(percentile, "ColumnarRanking", counting_columnar)
    return computed


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_any_number_of_workers_gives_the_same_answer(small_catalogue, settings, workers):
    settings.PERCENTILE_WORKERS = workers

    assert ranking(top_percentile_resources(number=100)) == EVERY_RESOURCE
    assert ranking(top_percentile_resources(number=66)) == EVERY_RESOURCE[:3]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_head_too_large_to_hold_streams_the_same_answer_from_each_bucket(
    small_catalogue, settings, monkeypatch, workers
):
    settings.PERCENTILE_WORKERS = workers
    held = top_percentile_resources(number=100)
    monkeypatch.setattr(ranking_module, "SMALL_HEAD", 0)

    streamed = top_percentile_resources(number=100, period_end=date(2020, 12, 31))  # not kept yet

    assert streamed == held
    assert ranking(streamed) == EVERY_RESOURCE


def test_a_repeated_request_is_answered_from_the_kept_answer(small_catalogue, rankings_computed):
    first = top_percentile_resources(number=100)
    second = top_percentile_resources(number=100)

    assert first == second
    assert rankings_computed == [100]
    assert kept_answers() == [(sorted(vars(small_catalogue).values()), 100)]


def test_a_smaller_number_is_a_prefix_of_the_kept_answer(small_catalogue, rankings_computed):
    top_percentile_resources(number=100)

    assert ranking(top_percentile_resources(number=46)) == EVERY_RESOURCE[:2]
    assert ranking(top_percentile_resources(number=45)) == EVERY_RESOURCE[:1]
    assert rankings_computed == [100]


def test_a_larger_number_is_computed_and_kept_instead(small_catalogue, rankings_computed):
    assert ranking(top_percentile_resources(number=45)) == EVERY_RESOURCE[:1]
    assert ranking(top_percentile_resources(number=96)) == EVERY_RESOURCE
    assert ranking(top_percentile_resources(number=50)) == EVERY_RESOURCE[:2]

    assert rankings_computed == [45, 96]
    assert [number for _ids, number in kept_answers()] == [96]


def test_each_selection_of_dsrs_has_its_own_answer(small_catalogue, rankings_computed):
    c = small_catalogue

    assert ranking(top_percentile_resources(number=100, territory="GB")) == [("Spotify", "B"), ("Spotify", "D")]
    assert ranking(top_percentile_resources(number=100)) == EVERY_RESOURCE
    assert kept_answers() == [([c.gb_spotify], 100), (sorted(vars(c).values()), 100)]


def test_deleting_a_dsr_forgets_the_answers_that_counted_it(small_catalogue):
    c = small_catalogue
    top_percentile_resources(number=100)
    top_percentile_resources(number=100, territory="GB")

    delete_dsrs(DSR.objects.filter(id=c.es_spotify))

    assert kept_answers() == [([c.gb_spotify], 100)]
    resources = top_percentile_resources(number=100)
    # Without ES: YouTube A 20, then Spotify A (NO), B (GB) and E (NO) tied at 10, Spotify D 5.
    assert ranking(resources) == [
        ("YouTube", "A"),
        ("Spotify", "A"),
        ("Spotify", "B"),
        ("Spotify", "E"),
        ("Spotify", "D"),
    ]
    assert c.es_spotify not in {dsr for r in resources for dsr in r.dsrs}


def test_only_the_newest_answers_are_kept(small_catalogue, settings):
    settings.PERCENTILE_CACHE_ANSWERS = 2

    for territory in ("ES", "GB", "NO"):
        top_percentile_resources(number=100, territory=territory)

    assert kept_answers() == [([small_catalogue.gb_spotify], 100), ([small_catalogue.no_spotify], 100)]


def test_an_answer_too_large_to_keep_streams_the_same_json(small_catalogue, settings, monkeypatch, client):
    settings.PERCENTILE_CACHE_RESOURCES = 4
    monkeypatch.setattr(percentile, "CHUNK_BYTES", 100)

    response = client.get("/resources/percentile/96")  # every resource: 5 of them

    assert (response.streaming, response["Content-Type"]) == (True, "application/json")
    streamed = json.loads(b"".join(response.streaming_content))
    assert kept_answers() == []
    settings.PERCENTILE_CACHE_RESOURCES = 5
    assert streamed == client.get("/resources/percentile/96").json()
    assert [(r["dsp"], r["dsp_id"]) for r in streamed] == EVERY_RESOURCE


def test_n_100_reads_the_lines_once_and_is_kept_afterwards_when_small(small_catalogue, settings, monkeypatch, client):
    monkeypatch.setattr(percentile, "CHUNK_BYTES", 100)

    response = client.get("/resources/percentile/100")

    assert response.streaming
    assert [(r["dsp"], r["dsp_id"]) for r in json.loads(b"".join(response.streaming_content))] == EVERY_RESOURCE
    assert kept_answers() == [(sorted(vars(small_catalogue).values()), 100)]
    # What it kept serves a smaller N, with the total of every resource.
    assert ranking(top_percentile_resources(number=46)) == EVERY_RESOURCE[:2]


def test_concurrent_requests_for_the_same_dsrs_compute_once(small_catalogue, monkeypatch):
    computed = []
    original = ranking_module.Ranking

    def slow(*args, **kwargs):
        computed.append(args[1])
        time.sleep(0.3)  # long enough for the second request to arrive meanwhile
        return original(*args, **kwargs)

    monkeypatch.setattr(percentile, "Ranking", slow)
    answers = []

    def request():
        try:
            answers.append(ranking(top_percentile_resources(number=100)))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [EVERY_RESOURCE, EVERY_RESOURCE]
    assert computed == [100]


def test_a_lines_eur_revenue_is_rounded_half_up_to_1e_8(write_dsr):
    ingest_dsr(
        path=write_dsr(
            "Spotify_SpotifyPremium_GB_GBP_20200101-20200131.tsv",
            # At 3 GBP per EUR: 1 GBP is 0.333333333... EUR, 0.000000045 GBP 0.000000015 EUR (a half
            # unit, rounded up) and 0.0000000149 GBP 0.00000000497 EUR (rounded down to nothing).
            ["A\tt\ta\ti\t1\t1", "A\tt\ta\ti\t1\t1", "B\tt\ta\ti\t1\t0.000000045", "C\tt\ta\ti\t1\t0.0000000149"],
        ),
        eur_rate=Decimal(3),
    )

    revenue = {r.dsp_id: r.revenue for r in top_percentile_resources(number=100)}

    # Each line is rounded, then the lines are summed: 2 x 0.33333333, not 0.66666667.
    assert revenue == {"A": Decimal("0.66666666"), "B": Decimal("0.00000002")}


def test_revenue_is_exact_beyond_what_float8_sums_exactly(write_dsr):
    ingest_dsr(
        path=write_dsr(
            "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv",
            [
                "A\tt\ta\ti\t1\t123456789012345.12345678",
                "A\tt\ta\ti\t1\t0.00000001",
                "B\tt\ta\ti\t1\t123456789012345.12345678",
            ],
        )
    )

    resources = top_percentile_resources(number=100)

    assert [(r.dsp_id, r.revenue) for r in resources] == [
        ("A", Decimal("123456789012345.12345679")),
        ("B", Decimal("123456789012345.12345678")),
    ]
