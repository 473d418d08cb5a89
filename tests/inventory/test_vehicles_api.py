"""POST/GET /api/v1/vehicles: create or update by VIN, read by VIN, keys and scopes, bad input."""

from __future__ import annotations

import json

import pytest

from dealer_leads.api.services import create_api_key, revoke_api_key
from dealer_leads.inventory import services, vpic

ACCORD = "1HGCM82633A004352"
LADA = "XTAGFK330JY144213"
BODY = {
    "vin": ACCORD,
    "stock_number": "A1001",
    "year": 2003,
    "make": "Honda",
    "model": "Accord",
    "trim": "EX-V6",
    "body_style": "Coupe",
    "drivetrain": "FWD",
    "fuel": "Gasoline",
    "transmission": "Automatic",
    "condition": "used",
    "odometer": 182400,
    "price": "4995.00",
    "in_stock_on": "2026-01-05",
    "options": ["Sunroof", "Leather"],
    "description": "One owner.",
}


@pytest.fixture(autouse=True)
def no_real_vpic(app):
    app.config["VPIC_BASE_URL"] = "http://127.0.0.1:9"
    app.config["VPIC_TIMEOUT_SECONDS"] = 0.5
    vpic.clear_cache()


@pytest.fixture
def key(app) -> str:
    return create_api_key("DMS bridge", ["inventory"])[1]


def post(client, key: str | None, body, content_type: str = "application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/v1/vehicles", data=raw, content_type=content_type, headers=headers)


def get(client, key: str | None, vin: str):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(f"/api/v1/vehicles/{vin}", headers=headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_create_then_update_by_vin_then_read(client, key):
    created = post(client, key, BODY)
    assert created.status_code == 201, created.get_data(as_text=True)
    vehicle = created.get_json()
    assert (
        vehicle["vin"] == ACCORD and vehicle["price"] == "4995.00" and vehicle["odometer"] == 182400
    )
    assert vehicle["options"] == ["Sunroof", "Leather"] and vehicle["status"] == "available"
    assert vehicle["photos"] == [] and vehicle["days_in_stock"] >= 0

    updated = post(client, key, {"vin": ACCORD.lower(), "price": 4495, "status": "sold"})
    assert updated.status_code == 200
    answer = updated.get_json()
    assert answer["id"] == vehicle["id"] and answer["price"] == "4495.00"
    assert answer["make"] == "Honda"  # left out: kept
    assert answer["status"] == "sold" and answer["sold_at"]

    read = get(client, key, ACCORD.lower())
    assert read.status_code == 200 and read.get_json() | {"updated_at": None} == answer | {
        "updated_at": None
    }


def test_unknown_vin_is_a_json_404(client, key):
    error = assert_error(get(client, key, "1HGCM82633A004999"), 404, "not_found")
    assert "1HGCM82633A004999" in error["message"]


@pytest.mark.parametrize("method", ["post", "get"])
def test_keys_and_scopes(client, app, method):
    leads_only = create_api_key("Cars.com", ["leads"])[1]
    record, revoked = create_api_key("Old", ["inventory"])
    revoke_api_key(record.id)

    def call(key):
        return post(client, key, BODY) if method == "post" else get(client, key, ACCORD)

    assert_error(call(None), 401, "missing_api_key")
    assert call("not-a-key").status_code == 401
    assert call(revoked).status_code == 401
    response = call(leads_only)
    assert_error(response, 403, "insufficient_scope")
    assert 'scope="inventory"' in response.headers["WWW-Authenticate"]


def test_media_type_size_and_json_are_checked(client, key, app):
    assert_error(post(client, key, BODY, "text/plain"), 415, "unsupported_media_type")
    app.config["MAX_VEHICLE_BODY_BYTES"] = 1000
    assert_error(post(client, key, BODY | {"description": "x" * 2000}), 413, "payload_too_large")
    assert_error(post(client, key, b"{not json"), 422, "invalid_vehicle")
    assert_error(
        post(
            client,
            key,
            b"[" * 100_000 + b"]" * 100_000,
        ),
        413,
        "payload_too_large",
    )
    app.config["MAX_VEHICLE_BODY_BYTES"] = 1_000_000
    deep = post(client, key, b"[" * 100_000 + b"]" * 100_000)
    assert_error(deep, 422, "invalid_vehicle")
    assert_error(post(client, key, [BODY]), 422, "invalid_vehicle")
    assert services.list_vehicles(services.VehicleFilters(status="all")).total == 0


def test_bad_values_name_their_fields(client, key):
    body = BODY | {"year": "soon", "price": -1, "condition": "salvage", "colour": "red"}
    error = assert_error(post(client, key, body), 422, "invalid_vehicle")
    assert set(error["fields"]) == {"year", "price", "condition", "colour"}
    assert "not a vehicle field" in error["fields"]["colour"]
    error = assert_error(
        post(client, key, BODY | {"vin": "1HGCM82633A004353"}), 422, "invalid_vehicle"
    )
    assert "Check digit" in error["fields"]["vin"]
    assert_error(post(client, key, BODY | {"vin_override": "yes"}), 422, "invalid_vehicle")


def test_a_vin_without_check_digit_needs_vin_override(client, key):
    body = BODY | {"vin": LADA, "make": "Lada"}
    error = assert_error(post(client, key, body), 422, "vin_needs_override")
    assert '"vin_override": true' in error["message"] and "check digit" in error["fields"]["vin"]
    created = post(client, key, body | {"vin_override": True})
    assert created.status_code == 201 and created.get_json()["vin_override"] is True


def test_missing_details_are_decoded_and_marked_pending_when_vpic_is_down(client, key):
    created = post(client, key, {"vin": ACCORD, "price": "4995"})
    assert created.status_code == 201
    vehicle = created.get_json()
    assert vehicle["decode_state"] == "pending" and (vehicle["year"], vehicle["make"]) == (
        2003,
        "Honda",
    )


def test_the_photos_come_from_the_photo_service(client, key, monkeypatch):
    from dealer_leads.inventory import photo_publishing

    post(client, key, BODY)
    photo = {"position": 0, "sizes": {"large": "https://example.test/p/a-large.jpg"}}
    monkeypatch.setattr(photo_publishing, "photo_urls", lambda vehicle: [photo])
    assert get(client, key, ACCORD).get_json()["photos"] == [photo]


def test_a_vehicle_posted_without_a_date_in_stock_is_in_stock_today(client, key):
    today = services.local_today()
    plain = {name: value for name, value in BODY.items() if name != "in_stock_on"}
    created = post(client, key, plain).get_json()
    assert (created["in_stock_on"], created["days_in_stock"]) == (today.isoformat(), 0)

    kept = post(client, key, {"vin": ACCORD, "price": "4495.00"}).get_json()
    assert kept["in_stock_on"] == today.isoformat()  # an update leaves it as it is

    coming = post(client, key, {"vin": LADA, "status": "in_transit", "vin_override": True})
    assert coming.status_code == 201
    assert (coming.get_json()["in_stock_on"], coming.get_json()["days_in_stock"]) == (None, None)
