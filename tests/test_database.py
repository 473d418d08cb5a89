"""Rows written with prepared statements and handed to the session as loaded (database.py)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from support import sql_statements

from dealer_leads.database import insert_as_loaded, read_apart, read_only_begin, update_as_loaded
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead, LeadEvent, LeadSource, LeadVehicle

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)


def _stored(sql: str, **params) -> list[tuple]:
    """Rows read on a connection of its own: only what was committed."""
    with read_only_begin(), db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def _new_lead() -> Lead:
    customer = Customer(first_name="Dana", last_name="Tremblay", email="dana@example.com")
    lead = Lead(customer=customer, channel="api", source="Cars.com", received_at=NOW)
    lead.vehicles = [LeadVehicle(make="Honda", model="CR-V"), LeadVehicle(interest="trade-in")]
    lead.sources = [LeadSource(source="Cars.com", source_key="cars.com", provider_lead_id="7")]
    LeadEvent(lead=lead, kind="inquiry", summary="Inquiry from Cars.com", at=NOW)
    return lead


def _graph(lead: Lead) -> list:
    return [lead.customer, lead, *lead.sources, *lead.vehicles, *lead.events]


def test_rows_written_with_links_and_defaults(app):
    lead = _new_lead()
    insert_as_loaded(db.session(), _graph(lead))
    db.session.commit()

    [(customer_id, email, created_at)] = _stored("SELECT id, email, created_at FROM customers")
    assert (customer_id, email) == (lead.customer.id, "dana@example.com")
    assert created_at is not None  # the column's default, filled in before the INSERT
    [row] = _stored("SELECT id, customer_id, status, extensions, warnings FROM leads")
    assert row[:3] == (lead.id, customer_id, "new")
    vehicles = _stored("SELECT lead_id, interest, make FROM lead_vehicles ORDER BY id")
    assert vehicles == [(lead.id, "buy", "Honda"), (lead.id, "trade-in", "")]
    assert _stored("SELECT lead_id, provider_lead_id FROM lead_sources") == [(lead.id, "7")]
    assert _stored("SELECT lead_id, kind FROM lead_events") == [(lead.id, "inquiry")]


def test_objects_join_the_session_as_loaded(app):
    lead = _new_lead()
    insert_as_loaded(db.session(), _graph(lead))

    for instance in _graph(lead):
        state = inspect(instance)
        assert state.persistent and not state.modified
    assert not db.session.new and not db.session.dirty
    with sql_statements() as seen:
        values = (lead.status, lead.customer.created_at, lead.last_activity_at, lead.warnings)
        kinds = [vehicle.interest for vehicle in lead.vehicles]
        db.session.flush()  # nothing pending: no second INSERT
    assert seen == []
    assert values[0] == "new" and values[1] is not None and values[3] == []
    assert kinds == ["buy", "trade-in"]
    assert db.session.get(Lead, lead.id) is lead


def test_later_changes_are_flushed_as_updates(app):
    lead = _new_lead()
    insert_as_loaded(db.session(), _graph(lead))
    lead.status = "contacted"
    lead.vehicles.append(LeadVehicle(make="Mazda"))
    db.session.commit()

    assert _stored("SELECT status FROM leads") == [("contacted",)]
    assert _stored("SELECT count(*) FROM lead_vehicles WHERE lead_id = :id", id=lead.id) == [(3,)]
    assert _stored("SELECT count(*) FROM leads") == [(1,)]


def test_pending_objects_are_not_inserted_twice(app):
    lead = _new_lead()
    db.session.add(lead)  # pending, with its customer and children
    insert_as_loaded(db.session(), _graph(lead))
    db.session.commit()

    assert _stored("SELECT count(*) FROM leads") == [(1,)]
    assert _stored("SELECT count(*) FROM customers") == [(1,)]
    assert _stored("SELECT count(*) FROM lead_events") == [(1,)]


def test_commit_keeps_the_objects_loaded(app):
    lead = _new_lead()
    insert_as_loaded(db.session(), _graph(lead), commit=True)

    assert _stored("SELECT id FROM leads") == [(lead.id,)]  # committed
    with sql_statements() as seen:
        assert lead.customer.email == "dana@example.com"
        assert lead.received_at == NOW
    assert seen == []  # not expired by the commit


def test_a_refused_row_leaves_nothing_behind(app):
    first = _new_lead()
    insert_as_loaded(db.session(), _graph(first), commit=True)
    second = _new_lead()  # the same source and provider id: a unique constraint refuses it

    with pytest.raises(IntegrityError):
        insert_as_loaded(db.session(), _graph(second))
    db.session.rollback()

    assert _stored("SELECT count(*) FROM leads") == [(1,)]
    assert _stored("SELECT count(*) FROM customers") == [(1,)]


def test_update_as_loaded_writes_the_row_and_keeps_the_object_clean(app):
    lead = _new_lead()
    insert_as_loaded(db.session(), _graph(lead), commit=True)
    lead.comments = "changed by hand"  # pending: left to the flush

    update_as_loaded(db.session(), lead, status="lost", lost_reason="bought elsewhere")
    assert lead.status == "lost" and lead.lost_reason == "bought elsewhere"
    assert not inspect(lead).attrs.status.history.has_changes()
    with sql_statements() as seen:
        db.session.commit()

    [flushed] = [s for s in seen if s.lstrip().upper().startswith("UPDATE")]
    assert "comments" in flushed and "status" not in flushed  # the pending change only
    assert _stored("SELECT status, lost_reason, comments FROM leads") == [
        ("lost", "bought elsewhere", "changed by hand")
    ]


def test_read_apart_is_a_read_of_its_own_on_sqlite(app):
    insert_as_loaded(db.session(), _graph(_new_lead()), commit=True)
    db.session.expunge_all()
    db.session.commit()  # nothing open

    with read_apart(db.session()):
        lead = db.session.scalar(select(Lead))
    if db.engine.dialect.name == "sqlite":
        assert not db.session().in_transaction()  # ended at once: no lock kept
        with sql_statements() as seen:
            assert lead.source == "Cars.com"  # kept, not expired
        assert seen == []
    else:
        assert db.session().in_transaction()  # PostgreSQL: the read is part of the transaction


def test_read_apart_leaves_pending_work_alone(app):
    db.session.add(Customer(first_name="Pending"))

    with read_apart(db.session()):
        db.session.scalar(select(Lead))

    assert db.session().in_transaction()  # the read ran in the open transaction...
    assert _stored("SELECT count(*) FROM customers") == [(0,)]  # ...which it did not commit


def test_a_link_to_an_object_not_stored_is_refused_before_any_row(app):
    lead = _new_lead()  # its customer is new, and not in the list

    with pytest.raises(ValueError, match="Lead.customer is not stored"):
        insert_as_loaded(db.session(), [lead, *lead.sources])
    written = db.session.connection().execute(text("SELECT count(*) FROM leads")).scalar()
    assert written == 0  # not even in the open transaction
    db.session.rollback()

    assert _stored("SELECT count(*) FROM leads") == [(0,)]
