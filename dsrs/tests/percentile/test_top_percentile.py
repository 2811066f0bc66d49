"""The top-percentile selector on a catalogue small enough to work out by hand (conftest.small_catalogue).

Ranking by EUR revenue (total 100), with the revenue of the resources before each one:
    Spotify A 45 (before 0), YouTube A 20 (45), Spotify B 20 (65), Spotify E 10 (85),
    Spotify D 5 (95), Spotify C 0 (100).
"""

from datetime import date
from decimal import Decimal

import pytest
from psycopg import sql

from dsrs.ingest.service import ingest_dsr
from dsrs.models import DSR
from dsrs.percentile import Resource, selected_dsr_ids, top_percentile_resources
from dsrs.percentile.ranking import CLASSES_PER_E, Ranking
from dsrs.percentile.selection import selected_dsrs

pytestmark = pytest.mark.usefixtures("committed_db")


@pytest.fixture(autouse=True, params=["segments", "duckdb", "postgresql"])
def engine(request, settings):
    """Every behaviour holds whichever engine ranks: DuckDB over the DSRs' resource segments or,
    before the workers have written them, over their columnar copies (heads below 100%), or
    PostgreSQL when the DSRs have none."""
    settings.COLUMNAR_COPIES = request.param != "postgresql"
    if request.param == "segments":
        request.getfixturevalue("segments_at_commit")
    return request.param


def ranking(resources: list[Resource]) -> list[tuple[str, str]]:
    return [(r.dsp, r.dsp_id) for r in resources]


def test_it_returns_the_resources_in_full(small_catalogue):
    c = small_catalogue

    resources = top_percentile_resources(number=100)

    assert resources == [
        Resource("Spotify", "A", "Title A new", "Artist A", "ISRCA2", 13, Decimal(45), [c.es_spotify, c.no_spotify]),
        Resource("YouTube", "A", "YT A", "YT Artist", "YTISRC", 8, Decimal(20), [c.es_youtube]),
        Resource("Spotify", "B", "Title B new", "Artist B", "", 9, Decimal(20), [c.es_spotify, c.gb_spotify]),
        Resource("Spotify", "E", "Title E", "Artist E", "ISRCE", 3, Decimal(10), [c.no_spotify]),
        Resource("Spotify", "D", "Title D", "Artist D", "ISRCD", 7, Decimal(5), [c.gb_spotify]),
    ]


def test_revenue_is_converted_to_eur_with_each_dsrs_rate(small_catalogue):
    # Spotify B: 10 EUR in ES + 5 GBP at 0.5 GBP per EUR; Spotify A: 35 EUR + 100 NOK at 10 NOK per EUR.
    revenue = {(r.dsp, r.dsp_id): r.revenue for r in top_percentile_resources(number=100)}

    assert (revenue["Spotify", "B"], revenue["Spotify", "A"]) == (Decimal(20), Decimal(45))


def test_n_100_returns_every_resource_with_revenue_but_none_without(small_catalogue):
    assert ("Spotify", "C") not in ranking(top_percentile_resources(number=100))


def test_equal_revenue_is_ranked_by_dsp_id_before_dsp(small_catalogue):
    # YouTube A and Spotify B both earn 20: dsp_id A comes first although YouTube > Spotify.
    assert ranking(top_percentile_resources(number=66))[1:] == [("YouTube", "A"), ("Spotify", "B")]


def test_the_resource_that_crosses_n_percent_is_returned(small_catalogue):
    # 46% of 100 is 46: YouTube A has 45 before it, less than 46, and takes the head past 46.
    assert ranking(top_percentile_resources(number=46)) == [("Spotify", "A"), ("YouTube", "A")]


def test_a_resource_whose_predecessors_already_reach_n_percent_is_not_returned(small_catalogue):
    # 45% of 100 is 45, exactly what Spotify A alone earns.
    assert ranking(top_percentile_resources(number=45)) == [("Spotify", "A")]


def test_n_1_returns_the_top_resource(small_catalogue):
    assert ranking(top_percentile_resources(number=1)) == [("Spotify", "A")]


@pytest.mark.parametrize(
    ("number", "expected"),
    [(65, 2), (66, 3), (85, 3), (86, 4), (95, 4), (96, 5), (100, 5)],
)
def test_each_boundary_of_the_ranking(small_catalogue, number, expected):
    assert len(top_percentile_resources(number=number)) == expected


def test_metadata_is_the_most_recent_non_empty_value_field_by_field(small_catalogue):
    resources = {(r.dsp, r.dsp_id): r for r in top_percentile_resources(number=100)}

    # Spotify A: the February NO DSR has a title only; artists and isrc come from January ES,
    # which reports A twice: isrc ISRCA1 and ISRCA2, of which the greatest is kept.
    a = resources["Spotify", "A"]
    assert (a.title, a.artists, a.isrc) == ("Title A new", "Artist A", "ISRCA2")
    # Spotify B: ES and GB share the period; GB, the higher id, has the title but no artists.
    b = resources["Spotify", "B"]
    assert (b.title, b.artists, b.isrc) == ("Title B new", "Artist B", "")


def test_it_filters_by_territory_case_insensitively(small_catalogue):
    c = small_catalogue

    assert top_percentile_resources(number=100, territory="gb") == [
        Resource("Spotify", "B", "Title B new", "", "", 4, Decimal(10), [c.gb_spotify]),
        Resource("Spotify", "D", "Title D", "Artist D", "ISRCD", 7, Decimal(5), [c.gb_spotify]),
    ]


@pytest.mark.parametrize("territory", ["FR", "G", "GBR", "", " gb", "G\x00", "ＧＢ"])
def test_a_territory_of_no_dsr_gives_nothing(small_catalogue, territory):
    assert top_percentile_resources(number=100, territory=territory) == []


def test_it_selects_dsrs_whose_period_lies_within_the_bounds_inclusive(small_catalogue):
    c = small_catalogue

    january = selected_dsr_ids(period_start=date(2020, 1, 1), period_end=date(2020, 1, 31))
    from_february = selected_dsr_ids(period_start=date(2020, 2, 1))
    until_february = selected_dsr_ids(period_end=date(2020, 2, 29))

    assert january == [c.es_spotify, c.gb_spotify, c.es_youtube]
    assert from_february == [c.no_spotify]
    assert until_february == [c.es_spotify, c.gb_spotify, c.no_spotify, c.es_youtube]


def test_a_dsr_reaching_past_a_bound_is_not_selected(small_catalogue):
    assert selected_dsr_ids(period_start=date(2020, 1, 2)) == [small_catalogue.no_spotify]
    assert selected_dsr_ids(period_end=date(2020, 1, 30)) == []


def test_filters_combine(small_catalogue):
    c = small_catalogue

    resources = top_percentile_resources(number=100, territory="ES", period_end=date(2020, 1, 31))

    assert ranking(resources) == [("Spotify", "A"), ("YouTube", "A"), ("Spotify", "B")]
    assert [r.revenue for r in resources] == [Decimal(35), Decimal(20), Decimal(10)]
    assert resources[0].dsrs == [c.es_spotify]
    assert top_percentile_resources(number=100, territory="ES", period_start=date(2020, 2, 1)) == []


def test_only_ingested_dsrs_count(small_catalogue, write_dsr):
    failed = ingest_dsr(path=write_dsr("Spotify_SpotifyPremium_FR_EUR_20200101-20200131.tsv", ["A\tt\ta\ti\t1\tx"])).dsr

    assert failed.status == DSR.Status.FAILED
    assert failed.id not in selected_dsr_ids()


def test_a_total_revenue_of_zero_gives_nothing(write_dsr):
    ingest_dsr(
        path=write_dsr("Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv", ["A\tt\ta\ti\t5\t0", "B\tt\ta\ti\t3\t"])
    )

    assert top_percentile_resources(number=100) == []


def test_an_empty_database_gives_nothing():
    assert top_percentile_resources(number=50) == []


def test_dsp_ids_are_ranked_in_binary_order(write_dsr):
    ingest_dsr(
        path=write_dsr(
            "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv",
            ["b\tt\ta\ti\t1\t1", "B\tt\ta\ti\t1\t1", "a\tt\ta\ti\t1\t1"],
        )
    )

    # In binary order upper case comes first; a linguistic collation would say a, b, B.
    assert [r.dsp_id for r in top_percentile_resources(number=100)] == ["B", "a", "b"]


@pytest.mark.parametrize("number", [0, 101, -1])
def test_it_refuses_a_number_outside_1_to_100(number):
    with pytest.raises(ValueError, match=f"number must be between 1 and 100, not {number}"):
        top_percentile_resources(number=number)


def test_the_query_never_loops_over_usage_lines_even_on_unanalyzed_partitions(small_catalogue):
    # Fresh partitions have no statistics, so the planner guesses a handful of rows and may
    # pick a nested loop, which rescans the index-less lines once per outer row.
    head = [(-1, "A", "Spotify")]
    with Ranking(selected_dsrs(), 100, 2) as ranking:
        for bucket in ranking.buckets:
            for statement, params in (
                (bucket.candidates_statement(), {"cut": 0, "classes_per_e": CLASSES_PER_E}),
                (bucket.details_statement(), bucket.details_parameters(head)),
            ):
                with bucket.connection.cursor() as cursor:
                    cursor.execute(sql.SQL("EXPLAIN ") + statement, params)
                    plan = "\n".join(line for (line,) in cursor.fetchall())

                assert "Seq Scan on dsrs_usage_" in plan
                assert "Nested Loop" not in plan
