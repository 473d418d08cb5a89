"""Timeline events: a stored lead is named by id and moved forward without being flushed as a
whole; a new lead, or one whose timeline is loaded, goes through the relationship."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from builders import ingest
from sqlalchemy import select

from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead, LeadEvent
from dealer_leads.leads.timeline import record_event

RECEIVED = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


def _stored_lead() -> Lead:
    lead_id = ingest(now=RECEIVED).lead_id
    db.session.expunge_all()
    return db.session.get(Lead, lead_id)


def _stored_activity(lead_id: int) -> datetime:
    return db.session.execute(select(Lead.last_activity_at).where(Lead.id == lead_id)).scalar_one()


def _events(lead_id: int) -> list[str]:
    query = select(LeadEvent.summary).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
    return list(db.session.scalars(query))


def test_a_stored_lead_gets_its_event_and_later_activity_without_becoming_dirty(app):
    lead = _stored_lead()
    later = RECEIVED + timedelta(hours=2)
    event = record_event(lead, "note", "Called back", at=later, touch_id=7)
    assert event.lead is lead and event.lead_id == lead.id
    assert lead not in db.session.dirty
    assert lead.last_activity_at == later
    db.session.commit()
    assert _stored_activity(lead.id) == later
    assert _events(lead.id)[-1] == "Called back"
    assert db.session.get(LeadEvent, event.id).data == {"touch_id": 7}


def test_an_earlier_event_never_moves_the_activity_back(app):
    lead = _stored_lead()
    later = RECEIVED + timedelta(days=1)
    record_event(lead, "note", "Second", at=later)
    record_event(lead, "note", "Back-dated", at=RECEIVED - timedelta(days=3))
    db.session.commit()
    db.session.expire_all()
    assert _stored_activity(lead.id) == later
    assert _events(lead.id)[-2:] == ["Second", "Back-dated"]


def test_the_database_keeps_a_later_activity_than_the_object_knew(app):
    lead = _stored_lead()
    much_later = RECEIVED + timedelta(days=5)
    db.session.execute(  # another process moved it meanwhile
        Lead.__table__.update().where(Lead.id == lead.id).values(last_activity_at=much_later)
    )
    record_event(lead, "note", "Stale object", at=RECEIVED + timedelta(hours=1))
    db.session.commit()
    assert _stored_activity(lead.id) == much_later


def test_a_loaded_timeline_stays_whole(app):
    lead = _stored_lead()
    before = len(lead.events)  # loads the list
    event = record_event(lead, "note", "Seen on the page", at=RECEIVED + timedelta(minutes=5))
    assert lead.events[-1] is event and len(lead.events) == before + 1
    db.session.commit()
    assert _events(lead.id)[-1] == "Seen on the page"


def test_a_new_lead_takes_its_events_in_the_same_flush(app):
    customer = Customer(first_name="Ana", last_name="Roy", email="ana@example.com")
    lead = Lead(customer=customer, channel="api", source="Web site", received_at=RECEIVED)
    db.session.add(lead)
    record_event(lead, "inquiry", "Asked about a CR-V", at=RECEIVED)
    db.session.commit()
    assert lead.last_activity_at == RECEIVED
    assert _events(lead.id) == ["Asked about a CR-V"]
