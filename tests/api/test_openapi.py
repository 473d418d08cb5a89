"""/api/v1/openapi.json: a valid OpenAPI document describing every API route there is."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from support import shared_path

DESIGN_PATHS = {  # DESIGN.md §5, as far as it is built
    ("post", "/leads"),
    ("post", "/leads/adf"),
    ("get", "/leads/{lead_id}"),
    ("get", "/leads"),
}
SIGNED_WEBHOOKS = {"/inbound/sms", "/inbound/sms/status"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": "/api/v1"}]


def test_needs_no_key_but_every_lead_operation_does(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path in SIGNED_WEBHOOKS:  # the provider signs them instead of sending a key
                assert operation["security"] == [], (method, path)
                signature = [p for p in operation["parameters"] if p["in"] == "header"]
                assert [(p["name"], p["required"]) for p in signature] == [
                    ("X-Twilio-Signature", True)
                ]
                assert {"403", "503"} <= set(operation["responses"]), (method, path)
            elif path != "/openapi.json":
                assert "security" not in operation, (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)


def _documented(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


def test_every_api_route_is_documented(app, document):
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            routed |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed and routed <= _documented(document)
    assert _documented(document) >= DESIGN_PATHS


def test_design_paths_that_exist_are_documented(app, document):
    """Every /api/v1 path named in DESIGN.md §5 that the app routes is in the document."""
    design = shared_path("DESIGN.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(?:(GET|POST|PATCH|PUT|DELETE) )?(/api/v1/[^`?\s]*)", design))
    documented = {re.sub(r"\{[^}]+\}", "{}", path) for _, path in _documented(document)}
    adapter = app.url_map.bind("localhost")
    checked = 0
    for _, path in named:
        concrete = re.sub(r"<[^>]+>", "1", path)
        try:
            adapter.match(concrete, method="GET")
        except Exception as error:  # not routed (yet), or routed for another method only
            if type(error).__name__ != "MethodNotAllowed":
                continue
        template = re.sub(r"<[^>]+>", "{}", path.removeprefix("/api/v1"))  # any parameter name
        assert template in documented, path
        checked += 1
    assert checked >= 3


def test_input_schema_matches_what_the_parser_reads(document):
    schemas = document["components"]["schemas"]
    lead_input = schemas["LeadInput"]
    assert lead_input["required"] == ["customer"]
    assert set(lead_input["properties"]) == {
        "customer",
        "vehicles",
        "comments",
        "source",
        "provider_lead_id",
        "requested_at",
        "department",
    }
    assert {"first_name", "last_name", "name", "email", "phone", "phones", "address"} == set(
        schemas["CustomerInput"]["properties"]
    )
    assert set(schemas["IntakeResult"]["required"]) == {
        "lead_id",
        "customer_id",
        "duplicate",
        "warnings",
    }
    assert set(schemas["Error"]["properties"]["error"]["required"]) == {"code", "message", "fields"}


def test_lead_schema_lists_what_the_api_returns(client, document):
    from builders import ingest

    from dealer_leads.api.schemas import lead_to_dict
    from dealer_leads.api.services import get_lead

    lead = lead_to_dict(get_lead(ingest().lead_id))
    schema = document["components"]["schemas"]["Lead"]
    assert set(lead) == set(schema["properties"])
    assert set(lead["customer"]) == set(schema["properties"]["customer"]["properties"])
    vehicle = schema["properties"]["vehicles"]["items"]["properties"]
    assert set(lead["vehicles"][0]) == set(vehicle)
