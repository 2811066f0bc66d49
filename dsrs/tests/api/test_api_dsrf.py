"""The API answers for DSRs ingested from DSRF files as for TSV ones."""

import pytest

from dsrs.devtools.generator import generate_dsrf
from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.tests.support.contract import CHECKS, EXAMPLES, committed, reference
from dsrs.tests.support.dsrf_files import HEAD, NAME, SPAIN, foot, release, resource, sale, write_dsrf
from dsrs.tests.support.paths import REFERENCE_CONTRACT

pytestmark = pytest.mark.usefixtures("committed_db")

# Spain as in test_ingest_dsrf (id1 16.6666666667 + 0.5, id2 33.3333333333, id3 50 EUR) and France
# (id1 again, 3 EUR), in one file.
TWO_TERRITORIES = [
    *SPAIN[:2],
    SPAIN[0].replace("S1", "F1").replace("\tES\t", "\tFR\t").replace("\t60\t", "\t3\t").replace("\t100", "\t3"),
    *SPAIN[2:],
    release("B3"),
    resource("B3", "RS1", "id1", "ES0000000001", "Song One (FR)", "Ana|Ben"),
    sale("B3", "F1", "RS1", 3),
]


@pytest.fixture
def dsrf_dsrs(tmp_path):
    result = ingest_dsr(path=write_dsrf(tmp_path, TWO_TERRITORIES, name=NAME.replace("_ES_", "__")))
    assert result.ok, result.message
    return result.dsrs


def test_dsrs_lists_them_with_the_sender_service_and_recipient(client, dsrf_dsrs):
    spain, france = dsrf_dsrs

    body = client.get("/dsrs/").json()

    assert [(dsr["id"], dsr["territory"], dsr["currency"]["code"]) for dsr in body] == [
        (spain.id, {"name": "Spain", "code_2": "ES"}, "EUR"),
        (france.id, {"name": "France", "code_2": "FR"}, "EUR"),
    ]
    assert {
        key: body[0][key]
        for key in ("dsp", "service", "society", "period_start", "period_end", "status", "lines_stored", "eur_rate")
    } == {
        "dsp": "Spotify",
        "service": "Spotify Premium",
        "society": "SGAE",
        "period_start": "2024-01-01T00:00:00Z",
        "period_end": "2024-01-31T00:00:00Z",
        "status": "ingested",
        "lines_stored": 4,
        "eur_rate": 1.0,
    }
    assert client.get(f"/dsrs/{france.id}").json()["lines_stored"] == 1


def test_the_percentile_sums_their_pro_rata_revenue(client, dsrf_dsrs):
    spain, france = dsrf_dsrs

    spanish = client.get("/resources/percentile/100?territory=ES").json()
    everywhere = client.get("/resources/percentile/50").json()

    assert [(r["dsp_id"], r["usages"], r["revenue"], r["dsrs"]) for r in spanish] == [
        ("id3", 30, 50.0, [spain.id]),
        ("id2", 20, 33.33333333, [spain.id]),
        ("id1", 15, 17.16666667, [spain.id]),
    ]
    assert [(r["dsp"], r["dsp_id"], r["title"], r["usages"], r["revenue"], r["dsrs"]) for r in everywhere] == [
        ("Spotify", "id3", "Song Three", 30, 50.0, [spain.id]),
        ("Spotify", "id2", "Song Two", 20, 33.33333333, [spain.id]),
    ]
    top = client.get("/resources/percentile/100").json()
    assert [(r["dsp_id"], r["usages"], r["revenue"], r["dsrs"]) for r in top][-1] == (
        "id1",
        18,
        20.16666667,
        [spain.id, france.id],
    )


@pytest.fixture
def dsrf_loaded(committed_db, tmp_path):
    """A generated three-territory DSRF file, ingested, and an inconsistent one, failed."""
    generated = tmp_path / NAME.replace("_ES_", "__")
    generate_dsrf(generated, sales=300, seed=5)
    assert ingest_dsr(path=generated).outcome == Outcome.INGESTED
    (tmp_path / "bad").mkdir()
    bad = write_dsrf(
        tmp_path / "bad", SPAIN, head=HEAD.replace("2024-01", "2023-01"), footer=foot([HEAD, *SPAIN], blocks=9)
    )
    assert ingest_dsr(path=bad).outcome == Outcome.FAILED


@pytest.mark.slow  # generated examples: seconds
@committed.parametrize()
@EXAMPLES
def test_responses_for_dsrf_dsrs_conform_to_the_committed_schema(case, dsrf_loaded):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.slow  # generated examples: seconds
@pytest.mark.skipif(not REFERENCE_CONTRACT.exists(), reason=f"no reference contract at {REFERENCE_CONTRACT}")
@reference.parametrize()
@EXAMPLES
def test_responses_for_dsrf_dsrs_conform_to_the_reference_contract(case, dsrf_loaded):
    case.call_and_validate(checks=CHECKS)
