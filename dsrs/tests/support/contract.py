"""The API's two schemas loaded for schemathesis (the committed one and the reference contract),
with the checks and the examples every schemathesis test runs."""

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dsrs.tests.support.paths import OPENAPI_SCHEMA, REFERENCE_CONTRACT

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
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


committed = load(OPENAPI_SCHEMA.read_text(), mode="all")
reference = load(
    REFERENCE_CONTRACT.read_text() if REFERENCE_CONTRACT.exists() else OPENAPI_SCHEMA.read_text(), mode="positive"
)
