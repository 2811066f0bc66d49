"""The share of a DSR's revenue earned by its top resources (dsrs.admin.concentration)."""

import pytest

from dsrs.admin.concentration import RevenueConcentration, revenue_concentration
from dsrs.ingest.service import ingest_dsr

pytestmark = pytest.mark.django_db

NAME = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"
# Revenue by resource: A 50 (two lines), B 30, C 10, D 10, E 0.
FIVE_RESOURCES = [
    "A\tt\ta\ti\t1\t30",
    "B\tt\ta\ti\t1\t30",
    "C\tt\ta\ti\t1\t10",
    "A\tt\ta\ti\t1\t20",
    "D\tt\ta\ti\t1\t10",
    "E\tt\ta\ti\t1\t0",
]


def ingested(write_dsr, name: str, lines: list[str]) -> int:
    return ingest_dsr(path=write_dsr(name, lines)).dsr.id


def test_it_ranks_resources_by_their_revenue_summed_over_their_lines(write_dsr):
    dsr_id = ingested(write_dsr, NAME, FIVE_RESOURCES)

    assert revenue_concentration(dsr_id=dsr_id) == RevenueConcentration(
        resources=5, points=[(0.2, 0.5), (0.4, 0.8), (0.6, 0.9), (0.8, 1.0), (1.0, 1.0)]
    )


def test_it_gives_one_point_per_percent_of_the_resources(write_dsr):
    dsr_id = ingested(
        write_dsr, NAME, [f"id{i}\tt\ta\ti\t1\t{1 + i // 125}" for i in range(250)]
    )  # 125 earn 1, 125 earn 2

    concentration = revenue_concentration(dsr_id=dsr_id)

    assert (concentration.resources, len(concentration.points)) == (250, 100)
    # The k-th point is the top ceil(2.5 k) resources, the first 125 earning 2 each of 375.
    assert concentration.points[0] == (3 / 250, 6 / 375)
    assert concentration.points[49] == (125 / 250, 250 / 375)
    assert concentration.points[50] == (128 / 250, 253 / 375)
    assert concentration.points[-1] == (1.0, 1.0)


def test_only_the_dsrs_own_lines_count(write_dsr):
    dsr_id = ingested(write_dsr, NAME, FIVE_RESOURCES)
    ingested(
        write_dsr, "Spotify_SpotifyPremium_ES_EUR_20200201-20200229.tsv", ["A\tt\ta\ti\t1\t1000", "Z\tt\ta\ti\t1\t5"]
    )

    assert revenue_concentration(dsr_id=dsr_id).points[0] == (0.2, 0.5)


@pytest.mark.parametrize("lines", [["A\tt\ta\ti\t1\t0", "B\tt\ta\ti\t5\t"], ["bad line"]], ids=["no revenue", "failed"])
def test_a_dsr_without_revenue_has_none(write_dsr, lines):
    assert revenue_concentration(dsr_id=ingested(write_dsr, NAME, lines)) is None


def test_an_unknown_dsr_has_none():
    assert revenue_concentration(dsr_id=123456) is None


def test_the_points_answer_the_top_share_and_the_share_earning_half():
    concentration = RevenueConcentration(
        resources=5, points=[(0.2, 0.5), (0.4, 0.8), (0.6, 0.9), (0.8, 1.0), (1.0, 1.0)]
    )

    assert concentration.top(0.01) == concentration.top(0.2) == (0.2, 0.5)
    assert concentration.top(0.3) == (0.4, 0.8)
    assert concentration.earning(0.5) == (0.2, 0.5)
    assert concentration.earning(0.85) == (0.6, 0.9)
