"""The generated OpenAPI schema: committed as docs/openapi.yaml, served, and compatible with the contract."""

import copy
import re

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from dsrs.tests.support.paths import OPENAPI_SCHEMA, REFERENCE_CONTRACT

# What must be equal between a contract's schema and ours, besides properties and items.
SCHEMA_KEYWORDS = ("type", "format", "minimum", "maximum")


def generated_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_committed_schema_is_the_generated_one(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "openapi.yaml"))

    assert (tmp_path / "openapi.yaml").read_text() == OPENAPI_SCHEMA.read_text(), (
        "docs/openapi.yaml is stale: run `make schema`"
    )


def test_the_schema_is_served_with_swagger_ui(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert (schema.status_code, yaml.safe_load(schema.content)["paths"].keys()) == (
        200,
        {"/dsrs/", "/dsrs/{id}", "/resources/percentile/{number}", "/imports/", "/imports/{id}"},
    )
    assert (docs.status_code, b"swagger-ui" in docs.content) == (200, True)


def test_swagger_ui_loads_its_files_from_the_service_itself(client, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)  # what the Docker image does

    page = client.get("/api/docs/").content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
    ]
    assert "://" not in page  # nor any address elsewhere
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def differences(reference: dict, ours: dict) -> list[str]:
    """Where `ours` breaks `reference`: every path, method, parameter (name, location, type,
    bounds, required), response status and schema property (name, type, format, required-ness,
    enum values) of the reference must be in ours and equal. What ours adds is allowed."""
    found = []
    for path, methods in reference["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            our_operation = ours["paths"].get(path, {}).get(method)
            if our_operation is None:
                found.append(f"{where}: missing")
                continue
            our_parameters = {(p["name"], p["in"]): p for p in our_operation.get("parameters", [])}
            for parameter in operation.get("parameters", []):
                key = (parameter["name"], parameter["in"])
                our_parameter = our_parameters.get(key)
                if our_parameter is None:
                    found.append(f"{where}: parameter {key} missing")
                    continue
                if parameter.get("required", False) != our_parameter.get("required", False):
                    found.append(f"{where}: parameter {key} required differs")
                found += _schema_differences(
                    reference, parameter["schema"], ours, our_parameter["schema"], f"{where} parameter {key}"
                )
            our_responses = {str(status): response for status, response in our_operation["responses"].items()}
            for status, response in operation["responses"].items():
                our_response = our_responses.get(str(status))
                if our_response is None:
                    found.append(f"{where}: response {status} missing")
                    continue
                for media_type, content in response.get("content", {}).items():
                    our_content = our_response.get("content", {}).get(media_type)
                    if our_content is None:
                        found.append(f"{where}: response {status} {media_type} missing")
                        continue
                    found += _schema_differences(
                        reference, content["schema"], ours, our_content["schema"], f"{where} {status}"
                    )
    return found


def _schema_differences(reference: dict, schema: dict, ours: dict, our_schema: dict, where: str) -> list[str]:
    schema, our_schema = _resolve(reference, schema), _resolve(ours, our_schema)
    found = [
        f"{where}: {keyword} {schema.get(keyword)!r} != {our_schema.get(keyword)!r}"
        for keyword in SCHEMA_KEYWORDS
        if schema.get(keyword) != our_schema.get(keyword)
    ]
    if sorted(schema.get("enum", [])) != sorted(our_schema.get("enum", [])):
        found.append(f"{where}: enum {schema.get('enum')} != {our_schema.get('enum')}")
    if "items" in schema:
        found += _schema_differences(reference, schema["items"], ours, our_schema.get("items", {}), f"{where}[]")
    required, our_required = set(schema.get("required", [])), set(our_schema.get("required", []))
    for name, property_schema in schema.get("properties", {}).items():
        our_property = our_schema.get("properties", {}).get(name)
        if our_property is None:
            found.append(f"{where}.{name}: missing")
            continue
        if (name in required) != (name in our_required):
            found.append(f"{where}.{name}: required {name in required} != {name in our_required}")
        found += _schema_differences(reference, property_schema, ours, our_property, f"{where}.{name}")
    return found


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


@pytest.fixture
def reference_contract() -> dict:
    if not REFERENCE_CONTRACT.exists():
        pytest.skip(f"no reference contract at {REFERENCE_CONTRACT}")
    return yaml.safe_load(REFERENCE_CONTRACT.read_text())


def test_the_schema_is_compatible_with_the_reference_contract(reference_contract):
    assert differences(reference_contract, generated_schema()) == []


def test_the_committed_schema_is_compatible_with_the_reference_contract(reference_contract):
    assert differences(reference_contract, yaml.safe_load(OPENAPI_SCHEMA.read_text())) == []


def test_the_compatibility_check_sees_each_kind_of_difference(reference_contract):
    ours = copy.deepcopy(generated_schema())
    schemas = ours["components"]["schemas"]
    schemas["Resource"]["properties"]["revenue"]["format"] = "float"
    schemas["Resource"]["required"].append("title")
    schemas["StatusEnum"]["enum"].remove("failed")
    del schemas["Territory"]["properties"]["code_2"]
    number = ours["paths"]["/resources/percentile/{number}"]["get"]["parameters"][0]
    number["schema"]["maximum"] = 1000
    del ours["paths"]["/dsrs/{id}"]["get"]["responses"]["404"]

    assert differences(reference_contract, ours) == [
        "GET /dsrs/ 200[].status: enum ['failed', 'ingested'] != ['ingested']",
        "GET /dsrs/ 200[].territory.code_2: missing",
        "GET /dsrs/{id} 200.status: enum ['failed', 'ingested'] != ['ingested']",
        "GET /dsrs/{id} 200.territory.code_2: missing",
        "GET /dsrs/{id}: response 404 missing",
        "GET /resources/percentile/{number} parameter ('number', 'path'): maximum 100 != 1000",
        "GET /resources/percentile/{number} 200[].title: required False != True",
        "GET /resources/percentile/{number} 200[].revenue: format 'double' != 'float'",
    ]
