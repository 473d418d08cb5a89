"""/api/v1 appointments: book, refusals with their codes, list, change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from appointments.helpers import TORONTO, local, next_weekday
from builders import lead_json

from dealer_leads.api.services import create_api_key
from dealer_leads.appointments.models import Appointment
from dealer_leads.extensions import db


@pytest.fixture
def auth(app):
    """The dealership's own showroom app: an admin gave it every lead (`leads:read`)."""
    _, secret = create_api_key("Showroom app", ["leads", "leads:read"])
    return {"Authorization": f"Bearer {secret}"}


def _provider_key(name: str) -> dict:
    """A lead provider's key: it works with the leads it sent only."""
    _, secret = create_api_key(name, ["leads"])
    return {"Authorization": f"Bearer {secret}"}


def _body(advisor, day, hour=10, **changes):
    body = {
        "advisor_email": advisor.email,
        "starts_at": local(day, hour).astimezone(TORONTO).isoformat(),
        "duration_minutes": 45,
        "kind": "test_drive",
        "vehicle_vins": [],
        "notes": "Bring the winter tires quote",
    }
    body.update(changes)
    return body


def test_book_list_and_change(client, auth, lead, advisor, vehicle):
    day = next_weekday(days=2)
    response = client.post(
        f"/api/v1/leads/{lead.id}/appointments",
        json=_body(advisor, day, vehicle_vins=[vehicle.vin]),
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert made["lead_id"] == lead.id and made["advisor_email"] == advisor.email
    assert made["status"] == "booked" and made["kind"] == "test_drive"
    assert made["vehicles"][0]["vin"] == vehicle.vin
    assert made["ends_at"] > made["starts_at"]

    listed = client.get(
        "/api/v1/appointments",
        query_string={
            "advisor_email": advisor.email,
            "from": local(day, 0).isoformat(),
            "to": local(day, 23).isoformat(),
        },
        headers=auth,
    ).get_json()
    assert [a["id"] for a in listed["items"]] == [made["id"]]
    by_id = client.get(f"/api/v1/appointments?advisor={advisor.id}", headers=auth).get_json()
    assert [a["id"] for a in by_id["items"]] == [made["id"]]

    later = (local(day, 10) + timedelta(hours=3)).isoformat()
    changed = client.patch(
        f"/api/v1/appointments/{made['id']}", json={"starts_at": later}, headers=auth
    )
    assert changed.status_code == 200 and changed.get_json()["sequence"] == 1
    done = client.patch(
        f"/api/v1/appointments/{made['id']}", json={"status": "cancelled"}, headers=auth
    )
    assert done.get_json()["status"] == "cancelled"


def test_overlap_is_409_slot_taken_and_past_is_422(client, auth, lead, advisor):
    day = next_weekday(days=2)
    url = f"/api/v1/leads/{lead.id}/appointments"
    assert client.post(url, json=_body(advisor, day), headers=auth).status_code == 201
    taken = client.post(
        url, json=_body(advisor, day, starts_at=local(day, 10, 30).isoformat()), headers=auth
    )
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "slot_taken"
    past = client.post(url, json=_body(advisor, next_weekday(days=-3)), headers=auth)
    assert past.status_code == 422 and past.get_json()["error"]["code"] == "in_the_past"
    night = client.post(url, json=_body(advisor, day, hour=23), headers=auth)
    assert night.status_code == 422 and night.get_json()["error"]["code"] == "outside_hours"
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 1


@pytest.mark.parametrize(
    "changes, status, field",
    [
        ({"starts_at": "tomorrow at ten"}, 400, "starts_at"),
        ({"starts_at": "2026-06-04T10:00:00"}, 400, "starts_at"),  # no offset
        ({"duration_minutes": "forty"}, 400, "duration_minutes"),
        ({"duration_minutes": 5000}, 422, "duration_minutes"),
        ({"kind": "<script>"}, 422, "kind"),
        ({"advisor_email": "nobody@example.com"}, 422, "advisor_email"),
        ({"vehicle_vins": "not-a-list"}, 400, "vehicle_vins"),
        ({"vehicle_vins": ["NOPE"]}, 422, "vehicles"),
        ({"surprise": 1}, 400, "surprise"),
        ({"notes": "x" * 3000}, 422, "notes"),
    ],
)
def test_bad_bodies_get_a_clear_4xx(client, auth, lead, advisor, changes, status, field):
    body = _body(advisor, next_weekday(days=2), **changes)
    response = client.post(f"/api/v1/leads/{lead.id}/appointments", json=body, headers=auth)
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_not_json_unknown_lead_and_no_key(client, auth, lead, advisor):
    url = f"/api/v1/leads/{lead.id}/appointments"
    assert client.post(url, data="x", headers=auth).status_code == 400
    assert client.post(url, json=[1, 2], headers=auth).status_code == 400
    missing = client.post(
        "/api/v1/leads/999999/appointments", json=_body(advisor, next_weekday(days=2)), headers=auth
    )
    assert missing.status_code == 404
    assert client.post(url, json={}).status_code == 401
    assert client.get("/api/v1/appointments").status_code == 401
    assert (
        client.patch("/api/v1/appointments/1", json={"status": "shown"}, headers=auth).status_code
        == 404
    )
    bad = client.get("/api/v1/appointments", query_string={"from": "soon"}, headers=auth)
    assert bad.status_code == 400 and "from" in bad.get_json()["error"]["fields"]


def test_a_provider_key_works_only_with_the_appointments_of_its_own_leads(
    client, auth, lead, advisor
):
    ours, theirs = _provider_key("Cars.com"), _provider_key("Autotrader")
    posted = client.post("/api/v1/leads", json=lead_json(), headers=ours)
    own_lead = posted.get_json()["results"][0]["lead_id"]
    day = next_weekday(days=2)
    own = client.post(
        f"/api/v1/leads/{own_lead}/appointments", json=_body(advisor, day, 10), headers=ours
    )
    assert own.status_code == 201, own.get_json()
    other = client.post(f"/api/v1/leads/{lead.id}/appointments", json=_body(advisor, day, 14))
    assert other.status_code == 401
    other = client.post(
        f"/api/v1/leads/{lead.id}/appointments", json=_body(advisor, day, 14), headers=auth
    )
    assert other.status_code == 201
    own_id, other_id = own.get_json()["id"], other.get_json()["id"]

    # Another provider's lead: not found, as the lead itself would be; nothing booked.
    refused = client.post(
        f"/api/v1/leads/{lead.id}/appointments", json=_body(advisor, day, 16), headers=ours
    )
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found"
    assert db.session.query(Appointment).count() == 2
    listed = client.get("/api/v1/appointments", headers=ours).get_json()
    assert [a["id"] for a in listed["items"]] == [own_id] and listed["total"] == 1
    assert client.get(f"/api/v1/appointments/{other_id}", headers=ours).status_code == 404
    moved = client.patch(
        f"/api/v1/appointments/{other_id}", json={"status": "cancelled"}, headers=ours
    )
    assert moved.status_code == 404
    assert db.session.get(Appointment, other_id).status == "booked"
    assert client.get("/api/v1/appointments", headers=theirs).get_json()["items"] == []

    # The showroom app (leads:read) sees both.
    every = client.get("/api/v1/appointments", headers=auth).get_json()
    assert {a["id"] for a in every["items"]} == {own_id, other_id}
    assert client.get(f"/api/v1/appointments/{own_id}", headers=ours).status_code == 200


def test_the_list_is_paged_with_its_filters_kept(client, auth, lead, advisor):
    day = next_weekday(days=2)
    made = []
    for hour in (10, 12, 14):
        booked = client.post(
            f"/api/v1/leads/{lead.id}/appointments", json=_body(advisor, day, hour), headers=auth
        )
        assert booked.status_code == 201, booked.get_json()
        made.append(booked.get_json()["id"])
    query = {"advisor_email": advisor.email, "per_page": "2"}

    first = client.get("/api/v1/appointments", query_string=query, headers=auth).get_json()
    assert [a["id"] for a in first["items"]] == made[:2] and first["total"] == 3
    assert "advisor_email=" in first["next"] and "per_page=2" in first["next"]
    second = client.get(first["next"], headers=auth).get_json()
    assert [a["id"] for a in second["items"]] == made[2:] and second["next"] is None
    for bad in ({"per_page": "0"}, {"per_page": "501"}, {"page": "x"}, {"page": "²"}):
        refused = client.get("/api/v1/appointments", query_string=bad, headers=auth)
        assert refused.status_code == 400 and set(bad) <= set(refused.get_json()["error"]["fields"])
    odd_advisor = client.get("/api/v1/appointments", query_string={"advisor": "²"}, headers=auth)
    assert odd_advisor.status_code == 422  # a digit to Unicode, not a user id


def test_the_endpoints_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/leads/{lead_id}/appointments"]) == {"post"}
    assert set(paths["/appointments/{appointment_id}"]) == {"get", "patch"}
    assert "409" in paths["/leads/{lead_id}/appointments"]["post"]["responses"]


def test_a_visit_booked_without_vins_is_for_the_stock_vehicle_asked_about(
    client, auth, lead, advisor, vehicle
):
    lead.vehicles[0].vehicle_id = vehicle.id
    db.session.commit()
    body = _body(advisor, next_weekday(days=2))
    del body["vehicle_vins"]
    response = client.post(f"/api/v1/leads/{lead.id}/appointments", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    (booked,) = response.get_json()["vehicles"]
    assert booked["vin"] == vehicle.vin and booked["price_at_booking"] == "44995.00"
    assert booked["status_at_booking"] == "available"
