"""The answers users ask first, kept before they ask (dsrs.percentile.warming): all DSRs, each
territory, each calendar month's DSRs, once their segments are written. On conftest.small_catalogue:
EUR revenue Spotify A 45 (35 ES + 10 NO), YouTube A 20, Spotify B 20 (10 ES + 10 GB), Spotify E
10 (NO), Spotify D 5 (GB), Spotify C 0; ES Spotify, GB Spotify and ES YouTube in January 2020,
NO Spotify in February."""

from datetime import date

import pytest
from django.db import connection

from dsrs import percentile
from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.percentile import top_percentile_json, top_percentile_resources
from dsrs.percentile.warming import first_asked_selections, warm_answers, warm_selection
from dsrs.storage.deletion import delete_dsrs
from dsrs.tests.support.processes import wait_until

pytestmark = pytest.mark.usefixtures("committed_db")


def kept_answers() -> dict[tuple[int, ...], int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT dsr_ids, covered_number FROM dsrs_percentile_answer")
        return {tuple(ids): number for ids, number in cursor.fetchall()}


@pytest.mark.usefixtures("segments_at_commit")
def test_the_first_asked_selections_are_all_dsrs_each_territory_and_each_month_the_latest_first(small_catalogue):
    assert first_asked_selections() == [
        {},
        {"territory": "ES"},
        {"territory": "GB"},
        {"territory": "NO"},
        {"period_start": date(2020, 2, 1), "period_end": date(2020, 2, 29)},
        {"period_start": date(2020, 1, 1), "period_end": date(2020, 1, 31)},
    ]


@pytest.mark.usefixtures("segments_at_commit")
def test_warming_keeps_each_first_asked_answer_for_every_n_its_head_can_be_kept(small_catalogue):
    c = small_catalogue

    warm_answers()

    assert kept_answers() == {
        (c.es_spotify, c.gb_spotify, c.no_spotify, c.es_youtube): 99,
        (c.es_spotify, c.es_youtube): 99,
        (c.gb_spotify,): 99,
        (c.no_spotify,): 99,
        (c.es_spotify, c.gb_spotify, c.es_youtube): 99,
    }


@pytest.mark.usefixtures("segments_at_commit")
def test_warming_keeps_the_first_asked_selections_that_fit_and_evicts_none_of_them(small_catalogue, settings):
    c = small_catalogue
    settings.PERCENTILE_CACHE_ANSWERS = 3

    warm_answers()
    b"".join(top_percentile_json(number=10, territory="NO"))  # asked: the oldest kept answer leaves for it

    assert set(kept_answers()) == {
        (c.es_spotify, c.gb_spotify, c.no_spotify, c.es_youtube),
        (c.es_spotify, c.es_youtube),
        (c.no_spotify,),
    }


@pytest.mark.usefixtures("segments_at_commit")
def test_the_first_request_after_warming_ranks_nothing_for_any_n_up_to_the_kept_one(small_catalogue, monkeypatch):
    computed = {
        (number, territory): b"".join(top_percentile_json(number=number, territory=territory))
        for number in (1, 10, 70, 99)
        for territory in (None, "ES")
    }
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dsrs_percentile_answer")
    warm_answers()

    def refuse(*args, **kwargs):
        raise AssertionError("ranked instead of read from a kept answer")

    for engine in ("SegmentRanking", "ColumnarRanking", "Ranking"):
        monkeypatch.setattr(percentile, engine, refuse)
    for (number, territory), answer in computed.items():
        assert b"".join(top_percentile_json(number=number, territory=territory)) == answer


@pytest.mark.usefixtures("segments_at_commit")
def test_n_100_is_never_warmed_and_is_computed_on_request(small_catalogue):
    warm_answers()

    assert [r.dsp_id for r in top_percentile_resources(number=100)] == ["A", "A", "B", "E", "D"]


@pytest.mark.usefixtures("segments_at_commit")
def test_warming_keeps_the_largest_n_whose_head_fits_what_answers_keep(small_catalogue, settings):
    settings.PERCENTILE_CACHE_RESOURCES = 2

    assert warm_selection() is True

    # Up to N=45 the head is Spotify A alone; beyond, it reaches the revenue class of YouTube A
    # and Spotify B (20 each): three resources that the histogram cannot tell apart.
    assert list(kept_answers().values()) == [45]


@pytest.mark.usefixtures("segments_at_commit")
def test_a_selection_already_kept_is_left_as_it_is(small_catalogue):
    top_percentile_resources(number=5)

    assert warm_selection() is True

    assert list(kept_answers().values()) == [5]


@pytest.mark.usefixtures("segments_at_commit")
def test_a_selection_with_a_dsr_without_its_segment_is_not_warmed(small_catalogue):
    DSR.objects.filter(id=small_catalogue.no_spotify).update(resource_segment="")

    assert warm_selection(territory="NO") is False
    assert warm_selection(territory="GB") is True
    assert list(kept_answers()) == [(small_catalogue.gb_spotify,)]


@pytest.mark.usefixtures("segments_at_commit")
def test_deleting_a_dsr_drops_the_warmed_answers_that_counted_it(small_catalogue):
    c = small_catalogue
    warm_answers()

    delete_dsrs([DSR.objects.get(id=c.gb_spotify)])

    assert sorted(kept_answers()) == [(c.es_spotify, c.es_youtube), (c.no_spotify,)]


@pytest.mark.slow
@pytest.mark.usefixtures("committing_imports")
def test_a_worker_writes_the_segments_of_an_ingested_batch_then_warms_its_answers(write_dsr, processes):
    ingested = [
        ingest_dsr(path=write_dsr(name, lines)).dsr.id
        for name, lines in (
            ("Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv", ["A\tt\ta\ti\t1\t3", "B\tt\ta\ti\t1\t1"]),
            ("Spotify_SpotifyPremium_ES_EUR_20200201-20200229.tsv", ["B\tt\ta\ti\t1\t5"]),
        )
    ]
    worker = processes("ingest_worker", app_name="deriving-worker")

    wait_until(lambda: len(kept_answers()) == 3, timeout=60, what="the worker to warm the answers")

    assert all(DSR.objects.filter(id__in=ingested).values_list("resource_segment", flat=True))
    assert kept_answers() == {tuple(ingested): 99, (ingested[0],): 99, (ingested[1],): 99}
    assert [(r.dsp_id, r.revenue) for r in top_percentile_resources(number=60)] == [("B", 6)]
    assert worker.poll() is None
