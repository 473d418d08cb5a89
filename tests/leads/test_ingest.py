"""The intake service: raw kept, dedupe rules, routing, round robin, inventory link."""

import json
from datetime import timedelta

import pytest
from builders import ingest, lead_json
from sqlalchemy import text
from support import sql_statements

from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.services import get_cadence
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


# --- a known customer giving other details --------------------------------------------------

STORED = {"first_name": "Bob", "last_name": "Smith", "email": "bob@old.example"}
PHONE = "416-363-0199"


def _open_tasks(lead: Lead) -> list[Touch]:
    query = db.select(Touch).where(
        Touch.lead_id == lead.id, Touch.channel == "task", Touch.status == "open"
    )
    return [t for t in db.session.scalars(query) if t.title.startswith("Respond:")]


def _kinds(lead: Lead, *kinds: str) -> list[LeadEvent]:
    return [event for event in lead.events if event.kind in kinds]


def test_a_repeat_inquiry_with_another_email_and_name_keeps_the_stored_ones_and_says_so(app):
    now = now_utc()
    first = ingest(lead_json(customer=STORED | {"phone": PHONE}), now=now - timedelta(days=2))
    given = {"first_name": "Robert", "last_name": "Smith", "email": "Robert@New.example"}
    again = ingest(lead_json(customer=given | {"phone": PHONE}), now=now)
    note = (
        "The inquiry gave a different e-mail (robert@new.example) and name (Robert Smith); "
        "kept the stored ones"
    )
    assert again.duplicate and again.lead_id == first.lead_id
    assert note in again.warnings
    lead = _lead(first)
    customer = lead.customer
    assert (customer.first_name, customer.email) == ("Bob", "bob@old.example")
    (event,) = _kinds(lead, "contact_differs")
    assert event.summary == note
    assert (event.data["email"], event.data["first_name"]) == ("robert@new.example", "Robert")
    assert lead.events[-1].kind == "repeat_inquiry"


def test_a_new_lead_of_a_customer_matched_by_phone_notes_the_other_email(app):
    now = now_utc()
    old = ingest(lead_json(customer=STORED | {"phone": PHONE}), now=now - timedelta(days=60))
    given = STORED | {"email": "bobby@new.example", "phone": f"+1 {PHONE}"}
    new = ingest(lead_json(customer=given), now=now)
    note = "The inquiry gave a different e-mail (bobby@new.example); kept the stored one"
    assert not new.duplicate and new.customer_id == old.customer_id
    assert note in new.warnings
    lead = _lead(new)
    assert lead.customer.email == "bob@old.example"  # the first response goes there
    assert note in lead.warnings
    assert [e.summary for e in _kinds(lead, "contact_differs")] == [note]


def test_a_known_email_with_another_name_and_phone_is_noted(app):
    ingest(lead_json(customer=STORED | {"phone": PHONE}))
    result = ingest(lead_json(customer=STORED | {"first_name": "Rob", "phone": "647-363-0100"}))
    assert (
        "The inquiry gave a different name (Rob Smith) and phone (+16473630100); "
        "kept the stored ones"
    ) in result.warnings
    assert _lead(result).customer.phone == "+14163630199"


@pytest.mark.parametrize(
    "given",
    [
        STORED | {"first_name": "BOB", "email": "BOB@old.example"},  # the same, other case
        {"first_name": "Bob", "email": "bob@old.example"},  # less given than stored
        STORED | {"email": "not an address"},  # unusable: flagged as such, nothing to keep
    ],
    ids=["case", "partial", "invalid"],
)
def test_the_same_or_less_is_not_a_difference(app, given):
    ingest(lead_json(customer=STORED | {"phone": PHONE}))
    result = ingest(lead_json(customer=given | {"phone": PHONE}))
    assert not [w for w in result.warnings if "different" in w]
    assert not _kinds(_lead(result), "contact_differs")


def test_a_bounced_email_is_still_replaced_without_a_difference_noted(app):
    first = ingest(lead_json(customer=STORED | {"phone": PHONE}))
    _lead(first).customer.email_valid = False
    db.session.commit()
    again = ingest(lead_json(customer=STORED | {"email": "bob@new.example", "phone": PHONE}))
    lead = _lead(again)
    assert lead.customer.email == "bob@new.example"
    assert _kinds(lead, "contact_changed") and not _kinds(lead, "contact_differs")
    assert not [w for w in again.warnings if "different" in w]


# --- a repeat inquiry alerts someone ----------------------------------------------------------


def test_a_repeat_inquiry_on_an_unassigned_lead_opens_a_task_for_the_supervisor(app):
    ensure_default_plans()
    now = now_utc()
    customer = STORED | {"phone": PHONE}
    first = ingest(lead_json(customer=customer), now=now - timedelta(hours=3))
    lead = _lead(first)
    assert lead.assigned_to_id is None and get_cadence(lead.id)[0].state == "active"
    ingest(lead_json(source="CarGurus", customer=customer), now=now)
    assert get_cadence(lead.id)[0].state == "paused"
    (task,) = _open_tasks(lead)
    assert task.title == "Respond: new inquiry from CarGurus"
    assert (task.assigned_to_id, task.due_at) == (None, now)
    ingest(lead_json(source="TrueCar", customer=customer), now=now)  # nothing left to pause
    assert [t.title for t in _open_tasks(lead)] == [
        "Respond: new inquiry from CarGurus",
        "Respond: new inquiry from TrueCar",
    ]


def test_a_repeat_inquiry_on_an_assigned_lead_gives_the_advisor_one_task(app, make_user):
    ensure_default_plans()
    advisor = make_user("advisor")
    now = now_utc()
    customer = STORED | {"phone": PHONE}
    lead = _lead(ingest(lead_json(customer=customer), now=now - timedelta(hours=3)))
    ingest(lead_json(source="CarGurus", customer=customer), now=now)
    (task,) = _open_tasks(lead)
    assert (task.title, task.assigned_to_id) == ("Respond: new inquiry from CarGurus", advisor.id)


def test_a_payload_stored_for_processing_at_once_waits_for_the_disk_only_then(app):
    """On PostgreSQL the store's commit skips the disk flush only when the processing, whose
    commit flushes it, follows at once; the setting ends with the store's transaction."""
    db.session.commit()
    with sql_statements() as seen:
        inbound = store_inbound("api", json.dumps(lead_json()).encode(), processed_next=True)
        store_inbound("api", b"{}", processed_next=False)
    skipped = [s for s in seen if "synchronous_commit" in s]
    if db.engine.dialect.name == "postgresql":
        assert skipped == ["SET LOCAL synchronous_commit TO OFF"]  # the first store only
        assert db.session.scalar(text("SHOW synchronous_commit")) == "on"  # processing waits
    else:
        assert skipped == []  # SQLite: its WAL commits do not flush the disk either way
    [result] = process_inbound(inbound.id)
    assert db.session.get(Lead, result.lead_id).inbound_id == inbound.id
