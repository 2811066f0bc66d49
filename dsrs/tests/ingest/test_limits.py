"""The stated bounds of usages, revenue and EUR rates, end to end: a value beyond them is a
rejected line (or a refused option), and every value within them comes back from the API as an
exact, finite JSON number."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.models import DSR

EUR_JANUARY = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"
NOK_JANUARY = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"
GOOD = [f"id{i}\tt\ta\ti\t1\t1" for i in range(100)]


@pytest.mark.parametrize(
    "revenue, reason",
    [
        ("1e400", "revenue '1e400' is not below the limit of 10^15"),
        ("1" * 140_000, f"revenue '{'1' * 50}' is longer than the limit of 100 characters"),
    ],
)
@pytest.mark.usefixtures("committed_db")  # the API's percentile connections see committed DSRs only
def test_a_revenue_beyond_the_limits_is_a_rejected_line_and_the_api_keeps_answering(write_dsr, client, revenue, reason):
    result = ingest_dsr(path=write_dsr(EUR_JANUARY, [*GOOD, f"big\tt\ta\ti\t1\t{revenue}"]))

    assert result.outcome == Outcome.INGESTED
    assert (result.dsr.lines_rejected, result.dsr.rejections) == (1, [{"line": 102, "reason": reason}])
    response = client.get("/resources/percentile/100")
    assert response.status_code == 200
    assert len(response.json()) == 100


@pytest.mark.usefixtures("committed_db")
def test_sums_at_the_limits_come_back_exact_and_finite(write_dsr, client):
    top = "\tt\ta\ti\t999999999999\t999999999999999.999"
    path = write_dsr(NOK_JANUARY, ["max" + top] * 3)

    assert ingest_dsr(path=path, eur_rate=Decimal("0.0000000001")).outcome == Outcome.INGESTED

    [resource] = client.get("/resources/percentile/100").json()
    assert resource["usages"] == 2_999_999_999_997
    assert resource["revenue"] == float(Decimal("2999999999999999.997") * 10**10)


@pytest.mark.django_db
@pytest.mark.parametrize("rate", ["0.00000000001", "100000000000000"])
def test_an_eur_rate_that_the_dsr_cannot_store_is_refused(write_dsr, rate):
    with pytest.raises(CommandError, match="argument --eur-rate: invalid positive_decimal value"):
        call_command("ingest_dsr", str(write_dsr(NOK_JANUARY, GOOD)), "--eur-rate", rate)

    assert DSR.objects.count() == 0
