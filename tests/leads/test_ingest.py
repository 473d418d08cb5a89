"""The intake service: raw kept, dedupe rules, routing, round robin, inventory link."""

import json
from datetime import timedelta

import pytest
from builders import ingest, lead_json

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadEvent, LeadSource


def _lead(result) -> Lead:
    return db.session.get(Lead, result.lead_id)


def test_new_lead_is_normalised(app):
    result = ingest(
        lead_json(
            customer={
                "name": "Tremblay, Marie-Ève",
                "email": " Marie@Example.COM ",
                "phone": "(416) 555-2671",
            },
            vehicles=[{"vin": "1hgcm82633a004352", "interest": "buy"}],
        )
    )
    lead = _lead(result)
    assert not result.duplicate
    assert (lead.customer.first_name, lead.customer.last_name) == ("Marie-Ève", "Tremblay")
    assert lead.customer.email == "marie@example.com"
    assert lead.customer.phone == "+14165552671"
    assert lead.vehicles[0].vin == "1HGCM82633A004352"
    assert [e.kind for e in lead.events] == ["inquiry"]
    assert lead.events[0].data["customer_rule"] == "new customer"


def test_bad_email_and_phone_are_kept_and_flagged(app):
    result = ingest(
        lead_json(customer={"first_name": "A", "email": "not-an-address", "phone": "12"})
    )
    customer = _lead(result).customer
    assert (customer.email, customer.email_valid) == ("not-an-address", False)
    assert (customer.phone, customer.phone_valid) == ("12", False)
    assert any("e-mail" in w for w in result.warnings)
    assert any("phone" in w for w in result.warnings)


def test_raw_payload_is_kept_when_it_cannot_be_parsed(app):
    raw = b'{"customer": {"first_name": "No contact"}'
    inbound = store_inbound("api", raw, content_type="application/json")
    with pytest.raises(InvalidPayload, match="malformed JSON"):
        process_inbound(inbound.id)
    stored = db.session.get(InboundPayload, inbound.id)
    assert stored.raw == raw and stored.status == "failed" and "malformed JSON" in stored.error
    assert db.session.scalar(db.select(db.func.count(Lead.id))) == 0


def test_missing_contact_is_refused_with_fields(app):
    inbound = store_inbound("api", json.dumps({"customer": {"first_name": "X"}}).encode())
    with pytest.raises(InvalidPayload) as caught:
        process_inbound(inbound.id)
    assert set(caught.value.fields) == {"customer.email", "customer.phone"}


def test_same_provider_id_twice_is_one_lead(app):
    body = lead_json(provider_lead_id="AT-1")
    first = ingest(body)
    second = ingest(dict(body, customer={"first_name": "Other", "email": "other@example.com"}))
    assert second.duplicate and second.lead_id == first.lead_id
    assert second.rule == "same provider id"
    assert db.session.scalar(db.select(db.func.count(Lead.id))) == 1
    assert [e.kind for e in _lead(first).events] == ["inquiry", "duplicate"]


def test_provider_id_is_per_source(app):
    first = ingest(lead_json(source="Autotrader", provider_lead_id="1"))
    second = ingest(lead_json(source="CarGurus", provider_lead_id="1"))
    assert first.lead_id != second.lead_id


def test_repeat_inquiry_within_window_credits_new_source(app):
    now = now_utc()
    customer = {"first_name": "Sam", "email": "sam@example.com"}
    first = ingest(lead_json(source="Autotrader", customer=customer), now=now - timedelta(days=3))
    again = ingest(
        lead_json(
            source="CarGurus",
            customer=customer,
            vehicles=[{"make": "Toyota", "model": "RAV4"}],
            comments="Any RAV4 too?",
        ),
        now=now,
    )
    assert again.duplicate and again.lead_id == first.lead_id
    lead = _lead(first)
    assert [s.source for s in lead.sources] == ["Autotrader", "CarGurus"]
    assert lead.latest_source == "CarGurus" and lead.source == "Autotrader"
    assert {v.model for v in lead.vehicles} == {"CR-V", "RAV4"}
    assert "Any RAV4 too?" in lead.comments
    event = lead.events[-1]
    assert event.kind == "repeat_inquiry" and "within 30 days" in event.data["rule"]


def test_repeat_after_window_or_closed_lead_is_a_new_lead(app):
    now = now_utc()
    customer = {"first_name": "Sam", "phone": "4163334444"}
    old = ingest(lead_json(customer=customer), now=now - timedelta(days=45))
    later = ingest(lead_json(customer=customer), now=now)
    assert not later.duplicate and later.lead_id != old.lead_id
    assert later.customer_id == old.customer_id  # same customer, matched by phone
    _lead(later).status = "lost"
    db.session.commit()
    third = ingest(lead_json(customer=customer), now=now)
    assert not third.duplicate


def test_service_inquiry_is_routed_and_not_merged_into_sales(app):
    customer = {"first_name": "Lee", "email": "lee@example.com"}
    sales = ingest(lead_json(customer=customer))
    service = ingest(
        lead_json(
            customer=customer, vehicles=[], comments="I need an oil change and brakes checked"
        )
    )
    assert service.lead_id != sales.lead_id
    lead = _lead(service)
    assert lead.department == "service" and "oil change" in lead.routing_rule
    assert lead.assigned_to_id is None  # service leads wait in their own queue


def test_adf_resend_is_a_duplicate(app):
    adf = (
        b'<?xml version="1.0"?><adf><prospect status="%s"><id source="Edmunds">E-77</id>'
        b"<customer><contact><name part='full'>Ana Lopez</name><email>ana@example.com</email>"
        b"</contact></customer><provider><name>Edmunds</name></provider></prospect></adf>"
    )
    first = process_inbound(store_inbound("adf", adf % b"new").id)[0]
    resent = process_inbound(store_inbound("adf", adf % b"resend").id)[0]
    assert resent.duplicate and resent.lead_id == first.lead_id


def test_round_robin_skips_off_shift_and_inactive(app, make_user):
    a = make_user("advisor", name="A")
    b = make_user("advisor", name="B")
    make_user("advisor", name="Off", on_shift=False)
    make_user("advisor", name="Gone", active=False)
    owners = [_lead(ingest()).assigned_to.name for _ in range(4)]
    assert owners == ["A", "B", "A", "B"]
    event = db.session.scalar(db.select(LeadEvent).where(LeadEvent.kind == "assigned").limit(1))
    assert event.data["rule"] == "round robin among advisors on shift"
    assert a.id != b.id


def test_vehicle_of_interest_links_to_stock(app):
    db.session.add(Vehicle(vin="1HGCM82633A004352", stock_number="A123", make="Honda"))
    db.session.commit()
    by_stock = _lead(ingest(lead_json(vehicles=[{"stock": "a123"}])))
    by_vin = _lead(ingest(lead_json(vehicles=[{"vin": "1HGCM82633A004352"}])))
    trade = _lead(
        ingest(lead_json(vehicles=[{"vin": "1HGCM82633A004352", "interest": "trade-in"}]))
    )
    assert by_stock.vehicles[0].vehicle.vin == "1HGCM82633A004352"
    assert by_vin.vehicles[0].vehicle_id == by_stock.vehicles[0].vehicle_id
    assert trade.vehicles[0].vehicle_id is None


def test_script_and_sql_are_stored_as_text(app):
    nasty = "<script>alert(1)</script>'; DROP TABLE leads; --"
    result = ingest(
        lead_json(customer={"first_name": nasty, "email": "x@example.com"}, comments=nasty)
    )
    lead = _lead(result)
    assert lead.customer.first_name == nasty and lead.comments == nasty
    assert db.session.scalar(db.select(db.func.count(LeadSource.id))) == 1
    assert db.session.scalar(db.select(db.func.count(Customer.id))) == 1
