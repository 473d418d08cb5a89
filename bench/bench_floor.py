"""The floor under the intake: what writing a new lead's rows costs with none of the app's logic.

Two bench-only endpoints run the statements a new lead's `POST /api/v1/leads` runs (the key and
settings reads, then the payload, the provider id and customer look-ups, the advisor's turn, the
customer, lead, source, two vehicles, two timeline lines, three consents, the plan rules and the
payload's status), in two transactions instead of the intake's four, with made-up values:

- `POST /bench/floor/core`: through SQLAlchemy Core, each statement built once (as the intake's
  prepared statements are);
- `POST /bench/floor/dbapi`: each statement compiled once for the database, then sent on the
  driver's own cursor (sqlite3 or psycopg), the values converted by the columns' types.

- `POST /bench/floor/lean`: the fewest statements a post writing these rows could run: the key,
  settings and plan rules held in the process (as a cache would: no reads), and each table's rows
  sent together on the driver's cursor; 12 statements and two commits (the intake: 21 and four).

None decides anything (no duplicate rules, routing, plan, consent or timeline code runs): the
rate they reach through the same gunicorn is the most a post that writes these rows can reach on
the machine, however the app's code is written.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from flask import Blueprint, jsonify, request
from sqlalchemy import bindparam, insert, select, update

from dealer_leads.admin.models import Dealership
from dealer_leads.auth.models import ApiKey, User
from dealer_leads.cadence.models import PlanRule
from dealer_leads.database import column_default, insert_row, now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.channels import parse_json_lead
from dealer_leads.leads.models import (
    Customer,
    InboundPayload,
    Lead,
    LeadEvent,
    LeadSource,
    LeadVehicle,
)
from dealer_leads.leads.normalize import normalize_contact
from dealer_leads.messaging.models import Consent

floor_bp = Blueprint("bench_floor", __name__, url_prefix="/bench/floor")

_KEYS, _SETTINGS = ApiKey.__table__, Dealership.__table__
_SOURCES, _CUSTOMERS, _USERS = LeadSource.__table__, Customer.__table__, User.__table__
_PAYLOADS = InboundPayload.__table__

_KEY = select(_KEYS.c.id, _KEYS.c.scopes, _KEYS.c.revoked_at).where(
    _KEYS.c.key_hash == bindparam("key_hash")
)
_DEALERSHIP = select(_SETTINGS).limit(1)
_KNOWN_SOURCE = select(_SOURCES.c.id).where(
    _SOURCES.c.source_key == bindparam("source_key"),
    _SOURCES.c.provider_lead_id == bindparam("provider_id"),
)
_CUSTOMER = (
    select(_CUSTOMERS.c.id)
    .where((_CUSTOMERS.c.email == bindparam("email")) | (_CUSTOMERS.c.phone == bindparam("phone")))
    .limit(1)
)
_NEXT_ADVISOR = (
    select(_USERS.c.id)
    .where(_USERS.c.role == "advisor", _USERS.c.active.is_(True), _USERS.c.on_shift.is_(True))
    .order_by(_USERS.c.last_assigned_at.asc().nulls_first(), _USERS.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)  # as the intake on PostgreSQL (SQLite: no such clause)
)
_ADVISOR_TURN = (
    update(_USERS).where(_USERS.c.id == bindparam("pk")).values(last_assigned_at=bindparam("at"))
)
_PLAN_RULES = select(PlanRule.__table__.c.id).order_by(PlanRule.__table__.c.position)
_PAYLOAD_DONE = (
    update(_PAYLOADS)
    .where(_PAYLOADS.c.id == bindparam("pk"))
    .values(status="processed", processed_at=bindparam("at"), response=bindparam("answer"))
)


class _Core:
    """Statements on the session's connection, as the intake runs its prepared ones."""

    def rows(self, statement, values=None) -> list:
        result = db.session.connection().execute(statement, values or {})
        return result.all() if result.returns_rows else []

    def insert(self, table, row: dict) -> int:
        return insert_row(db.session(), table, row)[0]


class _DriverCursor:
    """Statements compiled once for the database, sent on the driver's cursor."""

    def rows(self, statement, values=None) -> list:
        cursor = self._execute(statement, values or {}, ())
        return cursor.fetchall() if cursor.description else []

    def insert(self, table, row: dict) -> int:
        return self._execute(_returning_id(table), row, tuple(row)).fetchone()[0]

    @staticmethod
    def _execute(statement, values: dict, columns: tuple):
        connection = db.session.connection()
        compiled, convert = _compiled(statement, connection.dialect, columns)
        cursor = connection.connection.cursor()
        cursor.execute(compiled.string, _bound(compiled, convert, values))
        return cursor


@functools.cache
def _returning_id(table):
    return insert(table).returning(table.c.id)


@functools.cache
def _plain_insert(table):
    return insert(table)


@functools.cache
def _compiled(statement, dialect, columns: tuple):
    compiled = statement.compile(dialect=dialect, column_keys=list(columns) or None)
    convert: dict[str, Callable] = {}
    for name, parameter in compiled.binds.items():
        process = parameter.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            convert[name] = process
    return compiled, convert


def _bound(compiled, convert: dict[str, Callable], values: dict):
    """The values as the driver takes them: converted by the columns' types, in the
    statement's order for a positional paramstyle."""
    values = compiled.construct_params(values)
    for name, process in convert.items():
        if name in values:
            values[name] = process(values[name])
    if compiled.positiontup is not None:
        return tuple(values[name] for name in compiled.positiontup)
    return values


class _Lean(_DriverCursor):
    """The driver's cursor, rows of one table sent together (executemany: a loop in C on
    sqlite3, one pipeline on psycopg)."""

    def insert_many(self, table, rows: list[dict]) -> None:
        connection = db.session.connection()
        compiled, convert = _compiled(_plain_insert(table), connection.dialect, tuple(rows[0]))
        batch = [_bound(compiled, convert, row) for row in rows]
        connection.connection.cursor().executemany(compiled.string, batch)


_RUNNERS = {"core": _Core(), "dbapi": _DriverCursor()}


@floor_bp.post("/<how>")
def floor(how: str):
    """A new lead's statements and two commits; `how`: core or dbapi."""
    run = _RUNNERS[how]
    raw = request.get_data()
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    key = run.rows(_KEY, {"key_hash": ApiKey.hash_key(token)})[0]
    run.rows(_DEALERSHIP)
    db.session.commit()
    prospect = parse_json_lead(raw)
    contact = normalize_contact(prospect.contact, region="CA")
    now = now_utc()
    payload = {"channel": "api", "raw": raw, "api_key_id": key[0], "received_at": now}
    payload["request_hash"] = hashlib.sha256(raw).hexdigest()
    payload_id = run.insert(_PAYLOADS, _filled(_PAYLOADS, payload))
    customer_id, lead_id = _look_ups_and_lead(run, prospect, contact, payload_id, now)
    for vehicle in prospect.vehicles:
        row = {"lead_id": lead_id, "interest": vehicle.interest, "make": vehicle.make}
        run.insert(LeadVehicle.__table__, _filled(LeadVehicle.__table__, row))
    for summary in ("Lead received", "Assigned"):
        row = {"lead_id": lead_id, "kind": "received", "at": now, "summary": summary}
        run.insert(LeadEvent.__table__, _filled(LeadEvent.__table__, row | {"data": {}}))
    for channel in ("email", "sms", "call"):
        row = {"customer_id": customer_id, "channel": channel, "kind": "implied"}
        run.insert(Consent.__table__, _filled(Consent.__table__, row | {"given_at": now}))
    run.rows(_PLAN_RULES)
    answer = {"results": [{"lead_id": lead_id, "customer_id": customer_id, "duplicate": False}]}
    run.rows(_PAYLOAD_DONE, {"pk": payload_id, "at": now, "answer": answer})
    db.session.commit()
    return jsonify(answer), 201


def _look_ups_and_lead(run, prospect, contact, payload_id: int, now) -> tuple[int, int]:
    """The provider id, customer and advisor look-ups, the advisor's turn, and the customer,
    lead and source rows (both floors alike); returns the customer's and the lead's ids."""
    provider = {"source_key": "autotrader", "provider_id": prospect.provider_lead_id}
    run.rows(_KNOWN_SOURCE, provider)
    run.rows(_CUSTOMER, {"email": contact.email, "phone": contact.phone})
    advisor_id = run.rows(_NEXT_ADVISOR)[0][0]
    run.rows(_ADVISOR_TURN, {"pk": advisor_id, "at": now})
    customer = {"first_name": contact.first_name, "last_name": contact.last_name}
    customer |= {"email": contact.email, "phone": contact.phone, "created_at": now}
    customer_id = run.insert(_CUSTOMERS, _filled(_CUSTOMERS, customer))
    lead = {"customer_id": customer_id, "inbound_id": payload_id, "channel": "api"}
    lead |= {"source": "Autotrader", "assigned_to_id": advisor_id, "received_at": now}
    lead_id = run.insert(Lead.__table__, _filled(Lead.__table__, lead))
    source = {"lead_id": lead_id, "source": "Autotrader", "inbound_id": payload_id}
    source |= {"source_key": "autotrader", "provider_lead_id": prospect.provider_lead_id}
    run.insert(_SOURCES, _filled(_SOURCES, source | {"received_at": now}))
    return customer_id, lead_id


def _filled(table, row: dict) -> dict:
    """`row` with every other column's default (what the intake's INSERTs send too)."""
    for column in table.columns:
        if column.key not in row and not column.primary_key and column.server_default is None:
            row[column.key] = column_default(column)
    return row


_HELD: dict = {}  # what a cache would hold: the key's id by its hash


@floor_bp.post("/lean")
def lean():
    """A new lead's rows in 12 statements and two commits, on the driver's cursor."""
    run = _Lean()
    raw = request.get_data()
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    key_hash = ApiKey.hash_key(token)
    if key_hash not in _HELD:  # first post of the process only: then held
        _HELD[key_hash] = run.rows(_KEY, {"key_hash": key_hash})[0][0]
        db.session.commit()
    prospect = parse_json_lead(raw)
    contact = normalize_contact(prospect.contact, region="CA")
    now = now_utc()
    payload = {"channel": "api", "raw": raw, "api_key_id": _HELD[key_hash], "received_at": now}
    payload["request_hash"] = hashlib.sha256(raw).hexdigest()
    payload_id = run.insert(_PAYLOADS, _filled(_PAYLOADS, payload))
    db.session.commit()
    customer_id, lead_id = _look_ups_and_lead(run, prospect, contact, payload_id, now)
    vehicles = [
        _filled(LeadVehicle.__table__, {"lead_id": lead_id, "interest": v.interest, "make": v.make})
        for v in prospect.vehicles
    ]
    run.insert_many(LeadVehicle.__table__, vehicles)
    lines = [
        {"lead_id": lead_id, "kind": "received", "at": now, "summary": summary, "data": {}}
        for summary in ("Lead received", "Assigned")
    ]
    run.insert_many(LeadEvent.__table__, [_filled(LeadEvent.__table__, row) for row in lines])
    consents = [
        {"customer_id": customer_id, "channel": channel, "kind": "implied", "given_at": now}
        for channel in ("email", "sms", "call")
    ]
    run.insert_many(Consent.__table__, [_filled(Consent.__table__, row) for row in consents])
    answer = {"results": [{"lead_id": lead_id, "customer_id": customer_id, "duplicate": False}]}
    run.rows(_PAYLOAD_DONE, {"pk": payload_id, "at": now, "answer": answer})
    db.session.commit()
    return jsonify(answer), 201
