"""Real responses against the schemas, with schemathesis, in-process through the WSGI app.

Both the committed schema (docs/openapi.yaml) and the reference contract (when it is checked out
beside the project) are run over the sample DSRs of data/ and the seed DSRs: the contract
documents no 400, so it gets valid input only; the committed schema gets invalid input too. The
contract's client works against the production default too, once given a reader's token.
"""

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token

from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.tests.support.contract import CHECKS, EXAMPLES, committed, reference
from dsrs.tests.support.paths import REFERENCE_CONTRACT, SAMPLE_DATA, SEED_DATA


@pytest.fixture
def dsrs_loaded(committed_db):
    files = sorted(SAMPLE_DATA.iterdir()) + (sorted(SEED_DATA.iterdir()) if SEED_DATA.exists() else [])
    for path in files:
        assert ingest_dsr(path=path).outcome == Outcome.INGESTED


@pytest.mark.slow  # generated examples: seconds
@committed.parametrize()
@EXAMPLES
def test_responses_conform_to_the_committed_schema(case, dsrs_loaded):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.slow  # generated examples: seconds
@pytest.mark.skipif(not REFERENCE_CONTRACT.exists(), reason=f"no reference contract at {REFERENCE_CONTRACT}")
@reference.parametrize()
@EXAMPLES
def test_responses_conform_to_the_reference_contract(case, dsrs_loaded):
    case.call_and_validate(checks=CHECKS)


@pytest.fixture
def reader_token(committed_db):
    reader = User.objects.create_user("reader")
    reader.user_permissions.set(Permission.objects.filter(codename="view_dsr"))
    try:
        yield Token.objects.create(user=reader).key
    finally:
        reader.delete()


@pytest.mark.slow  # generated examples: seconds
@pytest.mark.skipif(not REFERENCE_CONTRACT.exists(), reason=f"no reference contract at {REFERENCE_CONTRACT}")
@reference.parametrize()
@EXAMPLES
def test_the_contracts_client_given_a_token_reads_a_server_that_needs_one(case, dsrs_loaded, reader_token, settings):
    settings.API_READ_ACCESS = "authenticated"

    response = case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Token {reader_token}"})

    assert response.status_code in (200, 404)  # 404: a generated DSR id that does not exist
