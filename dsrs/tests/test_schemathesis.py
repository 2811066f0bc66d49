"""Real responses against the schemas, with schemathesis, in-process through the WSGI app.

Both the committed openapi.md and the reference contract (when ../shared/reference is there) are
run over the sample DSRs of data/ and the seed DSRs: the contract documents no 400, so it gets
valid input only; openapi.md gets invalid input too.
"""

from pathlib import Path

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dsrs.ingest.service import Outcome, ingest_dsr

from .conftest import REFERENCE_CONTRACT, SEED_DATA
from .test_schema import OPENAPI_MD

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "data"
# Examples per operation and generation mode: enough to cross every branch of the views, few
# enough that the run takes seconds. Derandomized, so that a failure shows again on re-run.
EXAMPLES = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def application(environ, start_response):
    # A handler per request, as Django's test client builds one: its middleware reads the settings
    # of the running test (plain HTTP, see conftest.plain_http) when it is built.
    return WSGIHandler()(environ, start_response)


def load(text: str, *, mode: str) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({"generation": {"mode": mode}})
    schema = schemathesis.openapi.from_file(text, config=config)
    schema.app = application
    return schema


committed = load(OPENAPI_MD.read_text(), mode="all")
reference = load(REFERENCE_CONTRACT.read_text() if REFERENCE_CONTRACT.exists() else OPENAPI_MD.read_text(), mode="positive")


@pytest.fixture
def dsrs_loaded(committed_db):
    files = sorted(SAMPLE_DATA.iterdir()) + (sorted(SEED_DATA.iterdir()) if SEED_DATA.exists() else [])
    for path in files:
        assert ingest_dsr(path=path).outcome == Outcome.INGESTED


@committed.parametrize()
@EXAMPLES
def test_responses_conform_to_the_committed_schema(case, dsrs_loaded):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.skipif(not REFERENCE_CONTRACT.exists(), reason=f"no reference contract at {REFERENCE_CONTRACT}")
@reference.parametrize()
@EXAMPLES
def test_responses_conform_to_the_reference_contract(case, dsrs_loaded):
    case.call_and_validate(checks=CHECKS)
