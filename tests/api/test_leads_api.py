"""POST/GET /api/v1/leads: intake through the API, hostile input, idempotency, lead reads."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from builders import lead_json
from flask import Response
from sqlalchemy import func
from support import shared_path, sql_statements
from werkzeug.test import EnvironBuilder

from dealer_leads.api import services
from dealer_leads.api.services import create_api_key, revoke_api_key
from dealer_leads.extensions import db
from dealer_leads.leads.ingest import body_hash
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadSource

ADF_PROSPECT = (
    "<prospect><requestdate>2025-05-01T10:00:00-04:00</requestdate>"
    "<vehicle interest='buy' status='used'><year>2021</year><make>Toyota</make>"
    "<model>RAV4</model></vehicle>"
    "<customer><contact><name part='full'>{name}</name><email>{email}</email></contact>"
    "</customer><vendor><vendorname>Maple Ridge Motors</vendorname></vendor></prospect>"
)
HOSTILE_ADF = {
    "dtd": b'<?xml version="1.0"?><!DOCTYPE adf SYSTEM "adf.dtd"><adf><prospect/></adf>',
    "entity": b'<!DOCTYPE adf [<!ENTITY x "payload">]><adf><prospect><customer><comments>&x;'
    b"</comments></customer></prospect></adf>",
    "xxe": b'<?xml version="1.0"?><!DOCTYPE adf [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<adf><prospect><customer><contact><name>&xxe;</name><email>a@example.com</email>"
    b"</contact></customer></prospect></adf>",
    "parameter_entity": b'<!DOCTYPE adf [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd">'
    b" %remote;]><adf/>",
    "billion_laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<adf><prospect><customer><comments>&lol3;</comments></customer></prospect></adf>",
    "malformed": b"<adf><prospect><customer>",
    "not_adf": b"<html><body>hello</body></html>",
    "empty": b"",
}
SCRIPT = "<script>alert(1)</script>"
SQL = "'); DROP TABLE leads;--"


def adf(*prospects: tuple[str, str]) -> bytes:
    body = "".join(ADF_PROSPECT.format(name=name, email=email) for name, email in prospects)
    return f'<?xml version="1.0" encoding="UTF-8"?><adf>{body}</adf>'.encode()


@pytest.fixture
def key(app) -> str:
    return create_api_key("Cars.com", ["leads"])[1]


def auth(key: str, **headers: str) -> dict:
    return {"Authorization": f"Bearer {key}", **headers}


def post_json(client, key: str, body, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/api/v1/leads", data=raw, content_type="application/json", headers=auth(key, **headers)
    )


def post_adf(client, key: str, raw: bytes, content_type: str = "application/xml"):
    return client.post("/api/v1/leads/adf", data=raw, content_type=content_type, headers=auth(key))


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"] and isinstance(error["fields"], dict)
    return error


def count(model) -> int:
    return db.session.scalar(db.select(func.count()).select_from(model))


def payloads() -> list[InboundPayload]:
    return list(db.session.scalars(db.select(InboundPayload).order_by(InboundPayload.id)))


# --- JSON intake: the happy path -------------------------------------------------------------


def test_json_lead_is_stored_then_created(client, key):
    response = post_json(client, key, lead_json(provider_lead_id="CC-1"))
    assert response.status_code == 201
    [result] = response.get_json()["results"]
    assert set(result) == {"lead_id", "customer_id", "duplicate", "warnings"}
    assert result["duplicate"] is False
    [inbound] = payloads()
    assert inbound.channel == "api" and inbound.status == "processed"
    assert inbound.api_key_id is not None and inbound.content_type == "application/json"
    assert json.loads(inbound.raw)["provider_lead_id"] == "CC-1"
    assert db.session.get(Lead, result["lead_id"]).inbound_id == inbound.id


def test_get_lead_is_normalised(client, key, make_user):
    advisor = make_user("advisor", email="ana@example.com")
    body = lead_json(
        source="Autotrader",
        provider_lead_id="AT-9",
        customer={
            "name": "Tremblay, Marie-Ève",
            "email": " Marie@Example.COM ",
            "phone": "(416) 967-1111",
        },
        vehicles=[
            {
                "interest": "buy",
                "status": "used",
                "year": 2022,
                "make": "Mazda",
                "model": "CX-5",
                "trim": "GT",
                "vin": "jm3kfbdm0n0123456",
                "stock": "U123",
            },
            {"interest": "trade-in", "year": 2015, "make": "Honda", "model": "Civic"},
        ],
        comments="Can I come Saturday?",
    )
    lead_id = post_json(client, key, body).get_json()["results"][0]["lead_id"]
    response = client.get(f"/api/v1/leads/{lead_id}", headers=auth(key))
    assert response.status_code == 200
    lead = response.get_json()
    assert lead["customer"] == {
        "first_name": "Marie-Ève",
        "last_name": "Tremblay",
        "email": "marie@example.com",
        "phone": "+14169671111",
    }
    assert lead["vehicles"] == [
        {
            "interest": "buy",
            "status": "used",
            "year": 2022,
            "make": "Mazda",
            "model": "CX-5",
            "trim": "GT",
            "vin": "JM3KFBDM0N0123456",
            "stock": "U123",
        },
        {
            "interest": "trade-in",
            "status": "",
            "year": 2015,
            "make": "Honda",
            "model": "Civic",
            "trim": "",
            "vin": "",
            "stock": "",
        },
    ]
    assert (lead["id"], lead["source"], lead["department"], lead["status"]) == (
        lead_id,
        "Autotrader",
        "sales",
        "new",
    )
    assert lead["assigned_to"] == advisor.email
    assert lead["comments"] == "Can I come Saturday?"
    received = datetime.fromisoformat(lead["received_at"])
    assert received.utcoffset().total_seconds() == 0 and lead["received_at"].endswith("+00:00")
    assert lead["first_response_at"] is None
    assert [item["kind"] for item in lead["timeline"]] == ["inquiry", "assigned"]
    assert all(set(item) == {"kind", "at", "summary"} for item in lead["timeline"])
    assert lead["sources"] == [
        {"source": "Autotrader", "provider_lead_id": "AT-9", "received_at": lead["received_at"]}
    ]
    assert (lead["extensions"], lead["warnings"], lead["lost_reason"]) == ({}, [], "")


def test_missing_lead_is_a_json_404(client, key):
    assert_error(client.get("/api/v1/leads/999999", headers=auth(key)), 404, "not_found")


def test_unknown_api_path_and_wrong_method_are_json(client, key):
    assert_error(client.get("/api/v1/nothing-here", headers=auth(key)), 404, "not_found")
    assert_error(client.delete("/api/v1/leads/1", headers=auth(key)), 405, "method_not_allowed")


# --- JSON intake: hostile and broken input ---------------------------------------------------


@pytest.mark.parametrize(
    "raw, words",
    [
        (b'{"customer": {"email": "a@example.com"}', "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b'"just a string"', "JSON object"),
        (b"null", "JSON object"),
        (b"\xff\xfe{\x00}\x00", "not UTF-8"),
        (b'{"customer": {"email": "caf\xe9@example.com"}}', "not UTF-8"),
    ],
)
def test_unreadable_json_is_refused_and_kept(client, key, raw, words):
    error = assert_error(post_json(client, key, raw), 422, "invalid_lead")
    assert words in error["message"]
    [inbound] = payloads()
    assert inbound.raw == raw and inbound.status == "failed" and inbound.error
    assert count(Lead) == count(Customer) == 0


def test_deeply_nested_json_is_refused_not_a_500(client, key):
    raw = b"[" * 200_000
    error = assert_error(post_json(client, key, raw), 422, "invalid_lead")
    assert "nested" in error["message"]
    [inbound] = payloads()
    assert inbound.raw == raw and inbound.status == "failed"


def test_lead_without_contact_names_the_fields(client, key):
    error = assert_error(
        post_json(client, key, {"customer": {"first_name": "Only a name"}}), 422, "invalid_lead"
    )
    assert set(error["fields"]) == {"customer.email", "customer.phone"}
    assert payloads()[0].status == "failed" and count(Lead) == 0


def test_wrongly_typed_fields_are_named(client, key):
    body = lead_json(
        customer={"email": "a@example.com", "first_name": ["x"]},
        vehicles=[{"year": 1492}, "not an object"],
        department="sales-ish",
    )
    error = assert_error(post_json(client, key, body), 422, "invalid_lead")
    assert {"customer.first_name", "vehicles[0].year", "vehicles[1]", "department"} <= set(
        error["fields"]
    )


def test_bad_email_and_phone_are_kept_as_given_and_flagged(client, key):
    body = lead_json(customer={"first_name": "Kim", "email": "kim at example", "phone": "12"})
    response = post_json(client, key, body)
    assert response.status_code == 201
    [result] = response.get_json()["results"]
    assert any("e-mail" in warning for warning in result["warnings"])
    assert any("phone" in warning for warning in result["warnings"])
    lead = client.get(f"/api/v1/leads/{result['lead_id']}", headers=auth(key)).get_json()
    assert (lead["customer"]["email"], lead["customer"]["phone"]) == ("kim at example", "12")
    assert lead["warnings"] == result["warnings"]


def test_script_and_sql_are_stored_verbatim(client, key):
    hostile = f"{SCRIPT}{SQL}"
    body = {
        "source": hostile,
        "provider_lead_id": hostile,
        "comments": f"{hostile}\n{hostile}",
        "customer": {
            "first_name": hostile,
            "last_name": SQL,
            "email": hostile,
            "phone": SQL,
            "address": {"street": hostile, "city": SCRIPT},
        },
        "vehicles": [{"make": hostile, "model": SCRIPT, "trim": hostile, "stock": SQL}],
    }
    response = post_json(client, key, body)
    assert response.status_code == 201
    lead_id = response.get_json()["results"][0]["lead_id"]
    lead = client.get(f"/api/v1/leads/{lead_id}", headers=auth(key)).get_json()
    assert lead["customer"] == {
        "first_name": hostile,
        "last_name": SQL,
        "email": hostile,
        "phone": SQL,
    }
    assert lead["vehicles"][0] == {
        "interest": "buy",
        "status": "",
        "year": None,
        "make": hostile,
        "model": SCRIPT,
        "trim": hostile,
        "vin": "",
        "stock": SQL,
    }
    assert (lead["source"], lead["comments"]) == (hostile, f"{hostile}\n{hostile}")
    assert lead["sources"][0]["provider_lead_id"] == hostile
    assert hostile in lead["timeline"][0]["summary"]  # plain text: escaping is the reader's job
    customer = db.session.get(Customer, response.get_json()["results"][0]["customer_id"])
    assert (customer.street, customer.city) == (hostile, SCRIPT)
    assert count(Lead) == 1  # the SQL did nothing


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data",
    ],
)
def test_wrong_content_type_is_415(client, key, content_type):
    response = client.post(
        "/api/v1/leads", data=json.dumps(lead_json()), content_type=content_type, headers=auth(key)
    )
    error = assert_error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"]
    assert payloads() == []


def test_json_content_type_with_charset_is_accepted(client, key):
    response = client.post(
        "/api/v1/leads",
        data=json.dumps(lead_json()),
        content_type="application/json; charset=utf-8",
        headers=auth(key),
    )
    assert response.status_code == 201


def test_body_over_the_limit_is_413_and_not_stored(app, client, key):
    limit = app.config["MAX_LEAD_BODY_BYTES"]
    body = json.dumps(lead_json(comments="x" * limit)).encode()
    error = assert_error(post_json(client, key, body), 413, "payload_too_large")
    assert str(limit) in error["message"]
    assert payloads() == []


class CountingStream(io.BytesIO):
    """A request body that remembers how far it was read."""


def _streamed_environ(key: str, body: bytes, **headers: str) -> dict:
    """A chunked-style request: the server terminates the input, no Content-Length."""
    builder = EnvironBuilder(
        path="/api/v1/leads",
        method="POST",
        content_type="application/json",
        headers=auth(key, **headers),
    )
    environ = builder.get_environ()
    builder.close()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = CountingStream(body)
    environ["wsgi.input_terminated"] = True
    return environ


def call(client, environ: dict):
    """Run the app on exactly this environ (client.open would rebuild it)."""
    app_iter, status, headers = client.run_wsgi_app(environ, buffered=True)
    return Response(b"".join(app_iter), status, headers)


def test_body_without_content_length_is_read_no_further_than_the_limit(app, client, key):
    limit = app.config["MAX_LEAD_BODY_BYTES"]
    environ = _streamed_environ(key, b"{" + b" " * (limit * 3) + b"}")
    response = call(client, environ)
    assert_error(response, 413, "payload_too_large")
    assert environ["wsgi.input"].tell() <= limit + 1
    assert payloads() == []


def test_body_without_content_length_under_the_limit_is_taken(client, key):
    response = call(client, _streamed_environ(key, json.dumps(lead_json()).encode()))
    assert response.status_code == 201, response.get_data(as_text=True)


def test_content_length_smaller_than_the_body_reads_only_that_much(client, key):
    body = json.dumps(lead_json()).encode() + b" " * 100_000
    environ = _streamed_environ(key, body)
    del environ["wsgi.input_terminated"]
    environ["CONTENT_LENGTH"] = "20"
    response = call(client, environ)
    assert_error(response, 422, "invalid_lead")  # 20 bytes of JSON is not a whole object
    assert environ["wsgi.input"].tell() == 20
    assert payloads()[0].raw == body[:20]


def test_app_wide_content_length_limit_answers_json(app_factory, key):
    small = app_factory(MAX_CONTENT_LENGTH=1000, MAX_LEAD_BODY_BYTES=100_000)
    response = small.test_client().post(
        "/api/v1/leads",
        data=json.dumps(lead_json(comments="x" * 2000)),
        content_type="application/json",
        headers=auth(key),
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"]


# --- keys and scopes ----------------------------------------------------------------------------

PROTECTED = [
    ("post", "/api/v1/leads"),
    ("post", "/api/v1/leads/adf"),
    ("get", "/api/v1/leads"),
    ("get", "/api/v1/leads/1"),
]


@pytest.mark.parametrize("method, path", PROTECTED)
def test_no_key_is_401_with_a_bearer_challenge(client, method, path):
    response = getattr(client, method)(path)
    assert_error(response, 401, "missing_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer dl_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer", "dl_no-scheme", "Bearer  "],
)
def test_unknown_or_malformed_key_is_401(client, key, header):
    response = client.get("/api/v1/leads", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] in ("missing_api_key", "invalid_api_key")


@pytest.mark.parametrize("method, path", PROTECTED)
def test_revoked_key_is_401(client, method, path):
    made, secret = create_api_key("Old provider", ["leads"])
    revoke_api_key(made.id)
    response = getattr(client, method)(path, headers=auth(secret))
    assert_error(response, 401, "revoked_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert payloads() == []


@pytest.mark.parametrize("method, path", PROTECTED)
def test_key_without_the_scope_is_403(client, method, path):
    secret = create_api_key("Feeds only", ["inventory", "feeds"])[1]
    response = getattr(client, method)(path, headers=auth(secret), json=lead_json())
    assert_error(response, 403, "insufficient_scope")
    assert payloads() == []


def test_key_is_checked_before_the_body(client):
    response = client.post("/api/v1/leads", data=b"x" * 10, content_type="text/plain")
    assert response.status_code == 401


# --- duplicates ---------------------------------------------------------------------------------


def test_same_provider_lead_id_twice_is_one_lead(client, key):
    first = post_json(client, key, lead_json(provider_lead_id="CC-77"))
    again = post_json(client, key, lead_json(provider_lead_id="CC-77"))
    assert (first.status_code, again.status_code) == (201, 200)
    [one], [two] = first.get_json()["results"], again.get_json()["results"]
    assert two["duplicate"] is True and two["lead_id"] == one["lead_id"]
    assert count(Lead) == 1 and len(payloads()) == 2


def test_repeat_inquiry_from_same_email_credits_the_new_source(client, key):
    customer = {"first_name": "Sam", "email": "sam@example.com"}
    first = post_json(client, key, lead_json(source="Cars.com", customer=customer))
    again = post_json(client, key, lead_json(source="CarGurus", customer=customer))
    [one], [two] = first.get_json()["results"], again.get_json()["results"]
    assert again.status_code == 200
    assert two["duplicate"] is True and two["lead_id"] == one["lead_id"]
    assert count(Lead) == 1
    lead = client.get(f"/api/v1/leads/{one['lead_id']}", headers=auth(key)).get_json()
    assert lead["source"] == "Cars.com"
    assert [source["source"] for source in lead["sources"]] == ["Cars.com", "CarGurus"]
    assert [item["kind"] for item in lead["timeline"]] == ["inquiry", "repeat_inquiry"]


# --- idempotency --------------------------------------------------------------------------------


def test_idempotent_replay_gives_the_first_answer_and_no_new_lead(client, key):
    body = lead_json()
    first = post_json(client, key, body, **{"Idempotency-Key": "req-1"})
    again = post_json(client, key, body, **{"Idempotency-Key": "req-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(Lead) == 1 and len(payloads()) == 1


def test_idempotent_replay_of_a_refusal_is_the_same_refusal(client, key):
    body = {"customer": {"first_name": "No contact"}}
    first = post_json(client, key, body, **{"Idempotency-Key": "bad-1"})
    again = post_json(client, key, body, **{"Idempotency-Key": "bad-1"})
    assert first.status_code == again.status_code == 422
    assert again.get_json() == first.get_json()
    assert len(payloads()) == 1


def test_idempotency_key_with_another_body_is_422(client, key):
    post_json(client, key, lead_json(), **{"Idempotency-Key": "req-2"})
    response = post_json(client, key, lead_json(), **{"Idempotency-Key": "req-2"})
    assert_error(response, 422, "idempotency_key_reused")
    assert count(Lead) == 1 and len(payloads()) == 1


def test_idempotency_keys_belong_to_one_api_key(client, key):
    other = create_api_key("Other provider", ["leads"])[1]
    body = lead_json()
    post_json(client, key, body, **{"Idempotency-Key": "shared"})
    response = post_json(client, other, body, **{"Idempotency-Key": "shared"})
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    assert response.get_json()["results"][0]["duplicate"] is True  # same provider id


def test_idempotency_key_still_processing_is_409(client, key):
    raw = json.dumps(lead_json()).encode()
    api_key_id = services.authenticate_api_key(key).id
    db.session.add(
        InboundPayload(
            channel="api",
            raw=raw,
            api_key_id=api_key_id,
            idempotency_key="busy",
            request_hash=body_hash(raw),
        )
    )
    db.session.commit()
    assert_error(
        post_json(client, key, raw, **{"Idempotency-Key": "busy"}),
        409,
        "idempotency_key_in_progress",
    )
    assert count(Lead) == 0


@pytest.mark.parametrize("value", ["", "k" * 201, "caf\xe9"])
def test_unusable_idempotency_key_is_400(client, key, value):
    error = assert_error(
        post_json(client, key, lead_json(), **{"Idempotency-Key": value}),
        400,
        "invalid_idempotency_key",
    )
    assert "Idempotency-Key" in error["fields"]
    assert payloads() == []


def test_idempotency_key_of_200_characters_is_fine(client, key):
    assert post_json(client, key, lead_json(), **{"Idempotency-Key": "k" * 200}).status_code == 201


def test_two_requests_racing_with_one_key_make_one_lead(client, key, monkeypatch):
    """The second request's lookup saw nothing, then its insert hit the unique constraint."""
    body = lead_json()
    first = post_json(client, key, body, **{"Idempotency-Key": "race"})
    real_lookup, calls = services._keyed_inbound, []

    def lookup_that_misses_once(api_key_id, idempotency_key):
        calls.append(idempotency_key)
        return None if len(calls) == 1 else real_lookup(api_key_id, idempotency_key)

    monkeypatch.setattr(services, "_keyed_inbound", lookup_that_misses_once)
    again = post_json(client, key, body, **{"Idempotency-Key": "race"})
    assert len(calls) == 2  # the miss, then the look-up after the unique constraint fired
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(Lead) == 1 and len(payloads()) == 1


def test_unexpected_failure_leaves_the_payload_for_review(client, key, monkeypatch):
    def broken(inbound_id):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "process_inbound", broken)
    response = post_json(client, key, lead_json(), **{"Idempotency-Key": "boom"})
    assert_error(response, 500, "internal")
    [inbound] = payloads()
    assert inbound.status == "failed" and inbound.error
    assert_error(
        post_json(client, key, inbound.raw, **{"Idempotency-Key": "boom"}),
        409,
        "idempotency_key_in_progress",
    )


# --- ADF intake ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/xml", "text/xml", "application/x-adf+xml", "text/xml; charset=utf-8"],
)
def test_adf_document_gives_one_result_per_prospect(client, key, content_type):
    raw = adf(("Ann Lee", "ann@example.com"), ("Bo Chen", "bo@example.com"))
    response = post_adf(client, key, raw, content_type)
    assert response.status_code == 201
    results = response.get_json()["results"]
    assert len(results) == 2 and not any(result["duplicate"] for result in results)
    [inbound] = payloads()
    assert (inbound.channel, inbound.status, inbound.raw) == ("adf", "processed", raw)
    lead = client.get(f"/api/v1/leads/{results[1]['lead_id']}", headers=auth(key)).get_json()
    assert lead["customer"]["email"] == "bo@example.com"
    assert lead["vehicles"][0]["make"] == "Toyota"


@pytest.mark.parametrize("name", sorted(HOSTILE_ADF))
def test_hostile_adf_is_refused_and_kept(client, key, name):
    raw = HOSTILE_ADF[name]
    error = assert_error(post_adf(client, key, raw), 422, "invalid_adf")
    assert "ADF document refused" in error["message"]
    [inbound] = payloads()
    assert (inbound.raw, inbound.status, inbound.channel) == (raw, "failed", "adf")
    assert count(Lead) == count(Customer) == count(LeadSource) == 0
    assert "root:" not in json.dumps(error)  # nothing of /etc/passwd came back


def test_adf_in_latin1_and_with_stray_bytes_is_read(client, key):
    latin1 = (
        adf(("Renée Léger", "renee@example.com"))
        .decode()
        .replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .encode("latin-1")
    )
    stray = adf(("Zoë", "zoe@example.com")).replace("Zoë".encode(), b"Zo\xeb")
    for raw, first_name in ((latin1, "Renée"), (stray, "Zoë")):
        response = post_adf(client, key, raw)
        assert response.status_code == 201, response.get_data(as_text=True)
        lead_id = response.get_json()["results"][0]["lead_id"]
        lead = client.get(f"/api/v1/leads/{lead_id}", headers=auth(key)).get_json()
        assert lead["customer"]["first_name"] == first_name


def test_adf_with_script_and_sql_is_stored_verbatim(client, key):
    hostile = SCRIPT + SQL
    escaped = hostile.replace("<", "&lt;").replace(">", "&gt;").encode()
    raw = adf(("Al Smith", "al@example.com")).replace(
        b"</contact></customer>", b"</contact><comments>" + escaped + b"</comments></customer>"
    )
    raw = raw.replace(b"Toyota", escaped)
    response = post_adf(client, key, raw)
    assert response.status_code == 201, response.get_data(as_text=True)
    lead_id = response.get_json()["results"][0]["lead_id"]
    lead = client.get(f"/api/v1/leads/{lead_id}", headers=auth(key)).get_json()
    assert (lead["vehicles"][0]["make"], lead["comments"]) == (hostile, hostile)


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "text/html"])
def test_adf_wrong_content_type_is_415(client, key, content_type):
    error = assert_error(
        post_adf(client, key, adf(("A B", "a@example.com")), content_type),
        415,
        "unsupported_media_type",
    )
    assert "application/xml" in error["message"] and "text/xml" in error["message"]


def test_adf_over_the_limit_is_413(app, client, key):
    raw = adf(("A B", "a@example.com")) + b" " * app.config["MAX_LEAD_BODY_BYTES"]
    assert_error(post_adf(client, key, raw), 413, "payload_too_large")
    assert payloads() == []


def test_adf_resent_with_the_same_provider_id_is_200(client, key):
    raw = adf(("Ann Lee", "ann@example.com")).replace(
        b"<prospect>", b"<prospect><id source='Edmunds'>ED-1</id>", 1
    )
    assert post_adf(client, key, raw).status_code == 201
    again = post_adf(client, key, raw)
    assert again.status_code == 200 and again.get_json()["results"][0]["duplicate"] is True
    assert count(Lead) == 1


def _corpus_files():
    folder = shared_path("corpus", "adf")
    return sorted(path for path in folder.iterdir() if path.suffix == ".xml")


def test_adf_corpus_through_the_endpoint(client, key):
    files = _corpus_files()
    assert files
    for path in files:
        response = post_adf(client, key, path.read_bytes())
        body = response.get_json()
        if path.name == "idknerdyshit-adf-fuzz-security-entities.xml":
            assert response.status_code == 422, path.name
            assert body["error"]["code"] == "invalid_adf"
        else:
            assert response.status_code in (200, 201), (path.name, body)
            assert len(body["results"]) >= 1, path.name
    assert all(inbound.channel == "adf" for inbound in payloads())
    assert len(payloads()) == len(files)


# --- GET /api/v1/leads -------------------------------------------------------------------------


def _make_leads(client, key, n: int) -> list[int]:
    return [
        post_json(client, key, lead_json()).get_json()["results"][0]["lead_id"] for _ in range(n)
    ]


def _set(lead_id: int, **values) -> None:
    lead = db.session.get(Lead, lead_id)
    for name, value in values.items():
        setattr(lead, name, value)
    db.session.commit()


def _list(client, key, query: str = "") -> dict:
    response = client.get(f"/api/v1/leads{query}", headers=auth(key))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_list_is_newest_first_and_leaves_out_merged_leads(client, key):
    first, second, merged = _make_leads(client, key, 3)
    _set(merged, merged_into_id=first)
    page = _list(client, key)
    assert [item["id"] for item in page["items"]] == [second, first]
    assert page["total"] == 2 and page["next"] is None
    assert page["items"][0] == client.get(f"/api/v1/leads/{second}", headers=auth(key)).get_json()


def test_list_filters(client, key):
    a, b, c = _make_leads(client, key, 3)
    _set(a, status="sold", source="Edmunds", received_at=datetime(2025, 1, 10, tzinfo=UTC))
    _set(b, received_at=datetime(2025, 2, 10, 12, tzinfo=UTC))
    _set(c, received_at=datetime(2025, 3, 10, tzinfo=UTC))

    def ids(query: str) -> list[int]:
        return [item["id"] for item in _list(client, key, query)["items"]]

    assert ids("?status=sold") == [a]
    assert ids("?status=new") == [c, b]
    assert ids("?source=Edmunds") == [a]
    assert ids("?source=Nobody") == []
    assert ids("?received_from=2025-02-01") == [c, b]
    assert ids("?received_to=2025-02-10T12:00:00%2B00:00") == [a]  # exclusive
    assert ids("?received_from=2025-02-10T08:00:00-04:00&received_to=2025-03-01") == [b]
    assert ids("?received_from=2025-02-10T08:00:00 04:00") == [c, b]  # unencoded '+'
    assert ids("?received_from=2025-02-10T12:00:00Z&status=new") == [c, b]


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("?status=bogus", "status"),
        ("?received_from=yesterday", "received_from"),
        ("?received_to=2025-13-01", "received_to"),
        ("?page=0", "page"),
        ("?page=two", "page"),
        ("?per_page=101", "per_page"),
        ("?per_page=-5", "per_page"),
    ],
)
def test_list_bad_parameters_are_400_naming_them(client, key, query, parameter):
    error = assert_error(
        client.get(f"/api/v1/leads{query}", headers=auth(key)), 400, "invalid_parameter"
    )
    assert list(error["fields"]) == [parameter] and parameter in error["message"]


def test_list_next_link_keeps_the_filters(client, key):
    made = _make_leads(client, key, 5)
    page = _list(client, key, "?per_page=2&status=new&page=1")
    assert page["total"] == 5 and len(page["items"]) == 2
    seen = [item["id"] for item in page["items"]]
    while page["next"]:
        assert page["next"].startswith("http://localhost/api/v1/leads?")
        assert "status=new" in page["next"] and "per_page=2" in page["next"]
        page = _list(client, key, page["next"].removeprefix("http://localhost/api/v1/leads"))
        seen += [item["id"] for item in page["items"]]
    assert seen == sorted(made, reverse=True)


def _statements_for(client, key: str, query: str) -> tuple[int, int]:
    with sql_statements() as statements:
        items = _list(client, key, query)["items"]
    return len(statements), len(items)


def test_list_query_count_does_not_grow_with_the_page(client, key, make_user):
    make_user("advisor")  # leads get an assignee, so that relation is loaded too
    _make_leads(client, key, 12)
    _list(client, key)  # the key's last-used time is written once, before counting
    small, small_items = _statements_for(client, key, "?per_page=5")
    large, large_items = _statements_for(client, key, "?per_page=50")
    assert (small_items, large_items) == (5, 12)
    assert small == large
    assert small <= 10  # key, count, page, one per related collection, the plan (two)


def test_a_leads_key_reads_back_only_the_leads_it_sent(client, key):
    other = create_api_key("AutoTrader", ["leads"])[1]
    reader = create_api_key("CRM export", ["leads:read"])[1]
    mine = post_json(client, key, lead_json()).get_json()["results"][0]["lead_id"]
    theirs = post_json(client, other, lead_json(source="AutoTrader")).get_json()["results"][0][
        "lead_id"
    ]

    assert client.get(f"/api/v1/leads/{mine}", headers=auth(key)).status_code == 200
    assert_error(client.get(f"/api/v1/leads/{theirs}", headers=auth(key)), 404, "not_found")
    listed = client.get("/api/v1/leads", headers=auth(key)).get_json()
    assert [lead["id"] for lead in listed["items"]] == [mine] and listed["total"] == 1

    everything = client.get("/api/v1/leads", headers=auth(reader)).get_json()
    assert sorted(lead["id"] for lead in everything["items"]) == sorted([mine, theirs])
    assert client.get(f"/api/v1/leads/{theirs}", headers=auth(reader)).status_code == 200
    # reading is all a leads:read key may do
    assert_error(post_json(client, reader, lead_json()), 403, "insufficient_scope")


def test_a_repeat_inquiry_through_a_second_key_lets_it_read_that_lead(client, key):
    """The customer asked this provider too: the lead it credited is its to read."""
    other = create_api_key("AutoTrader", ["leads"])[1]
    body = lead_json()
    first = post_json(client, key, body).get_json()["results"][0]
    repeat = dict(body, source="AutoTrader", provider_lead_id="AT-1")
    second = post_json(client, other, repeat).get_json()["results"][0]
    assert second["lead_id"] == first["lead_id"]
    assert client.get(f"/api/v1/leads/{first['lead_id']}", headers=auth(other)).status_code == 200
