"""The intake service every channel calls: keep the raw payload, parse, match, dedupe, route.

`store_inbound` commits the raw bytes on their own, so nothing a customer sent is lost even if
parsing fails; `process_inbound` turns a stored payload into leads in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, case, func, or_, text
from sqlalchemy.exc import IntegrityError

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import User
from dealer_leads.cadence.services import open_task, pause_automatic, start_plan
from dealer_leads.database import insert_as_loaded, now_utc, read_apart, update_as_loaded
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.channels import InvalidPayload, parse_payload
from dealer_leads.leads.models import (
    OPEN_STATUSES,
    Customer,
    InboundPayload,
    Lead,
    LeadSource,
    LeadVehicle,
)
from dealer_leads.leads.normalize import (
    LeadIn,
    NormalContact,
    VehicleIn,
    clean_text,
    normalize_contact,
    route_department,
    sales_kind,
)
from dealer_leads.leads.timeline import next_advisor_in_rotation, record_event, set_assignee
from dealer_leads.messaging.bounces import is_bounced
from dealer_leads.messaging.consent import record_implied_consent

DEFAULT_SOURCES = {
    "form": "Website",
    "api": "API",
    "adf": "ADF",
    "email": "E-mail",
    "manual": "Walk-in",
}


@dataclass
class IntakeResult:
    """What became of one prospect: the lead it landed on and why."""

    lead_id: int
    customer_id: int
    duplicate: bool
    warnings: list[str] = field(default_factory=list)
    rule: str = ""

    def as_dict(self) -> dict:
        return {
            "lead_id": self.lead_id,
            "customer_id": self.customer_id,
            "duplicate": self.duplicate,
            "warnings": self.warnings,
        }


class InboundNotFound(LookupError):
    """No stored payload with that id."""


class InboundAlreadyHandled(ValueError):
    """The payload was processed or discarded already."""


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def store_inbound(
    channel: str,
    raw: bytes,
    *,
    content_type: str = "",
    source_ip: str = "",
    api_key_id: int | None = None,
    idempotency_key: str | None = None,
    status: str = "received",
    error: str = "",
    processed_next: bool = False,
) -> InboundPayload:
    """Write the payload as received, before anything else looks at it (commits).

    The dealership's settings are read first, apart where they can be: the processing that
    follows then parses and normalises the payload before it takes SQLite's write lock.

    `processed_next`: the caller processes the payload at once, before it answers anyone. On
    PostgreSQL this commit then does not wait for the disk: it is committed (seen by every
    session, kept when the processing fails or the process dies), and the processing's own
    commit, which waits for the write-ahead log to reach the disk up to and including this
    one, makes it durable before any answer is sent. One disk flush a post instead of two.
    """
    session = db.session()
    with read_apart(session):
        get_dealership()
    if processed_next and session.get_bind().dialect.name == "postgresql":
        session.execute(_NO_WAIT_FOR_DISK)
    inbound = InboundPayload(
        channel=channel,
        raw=raw,
        content_type=content_type[:200],
        source_ip=source_ip[:45],
        api_key_id=api_key_id,
        idempotency_key=idempotency_key,
        request_hash=body_hash(raw),
        status=status,
        error=error,
    )
    insert_as_loaded(session, [inbound], commit=True)
    return inbound


_NO_WAIT_FOR_DISK = text("SET LOCAL synchronous_commit TO OFF")


def process_inbound(
    inbound_id: int,
    *,
    now: datetime | None = None,
    raw: bytes | None = None,
    by: User | None = None,
    parse: Callable[[bytes], list[LeadIn]] | None = None,
) -> list[IntakeResult]:
    """Parse a stored payload and ingest every prospect in it (commits).

    `raw` replaces the payload text (a person corrected it in the review queue); `parse` reads
    it instead of the channel's own parser (the mailbox reads a message staff forwarded for the
    customer inside it). On a payload that cannot be parsed the payload is marked failed with
    the reason, and InvalidPayload is raised for the caller to report.
    """
    for attempt in range(3):
        try:
            return _process_once(inbound_id, now or now_utc(), raw, by, parse)
        except IntegrityError:
            # A concurrent request stored the same provider id or customer first; on the
            # next attempt the rules see its row and treat this one as the duplicate it is.
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _process_once(
    inbound_id: int,
    now: datetime,
    raw: bytes | None,
    by: User | None,
    parse: Callable[[bytes], list[LeadIn]] | None = None,
) -> list[IntakeResult]:
    inbound = db.session.get(InboundPayload, inbound_id)
    if inbound is None:
        raise InboundNotFound(f"no inbound payload #{inbound_id}")
    if inbound.status in ("processed", "discarded"):
        raise InboundAlreadyHandled(f"payload #{inbound_id} is {inbound.status} already")
    if raw is not None:
        inbound.raw, inbound.request_hash = raw, body_hash(raw)
    try:
        prospects = (parse or _reader(inbound.channel))(inbound.raw)
    except InvalidPayload as error:
        _mark_failed(inbound, error)
        raise
    results = [ingest_lead(prospect, inbound, now=now, by=by) for prospect in prospects]
    answer = {"results": [result.as_dict() for result in results]}
    update_as_loaded(
        db.session(), inbound, status="processed", error="", processed_at=now, response=answer
    )
    db.session.commit()
    return results


def _reader(channel: str) -> Callable[[bytes], list[LeadIn]]:
    """The channel's parser. E-mail is read with the staff directory at hand: mail from staff,
    re-run from the review queue, must not make a member of staff a customer."""
    if channel == "email":
        # Imported here: the mailbox service imports this module.
        from dealer_leads.messaging.mailbox_services import prospects_in_email

        return prospects_in_email
    return partial(parse_payload, channel)


def _mark_failed(inbound: InboundPayload, error: InvalidPayload) -> None:
    details = "; ".join(f"{path}: {problem}" for path, problem in error.fields.items())
    inbound.status = "failed"
    inbound.error = f"{error.message}{' (' + details + ')' if details else ''}"[:5000]
    db.session.commit()


def ingest_lead(
    prospect: LeadIn, inbound: InboundPayload, *, now: datetime, by: User | None = None
) -> IntakeResult:
    """Normalise one prospect, then land it: duplicate, repeat inquiry or new lead (flushes).

    The look-ups run without autoflush: whatever came before this prospect (an earlier one in
    the same document) is flushed first, so the duplicate checks see it; a new lead is built in
    memory, with its customer, sources, vehicles and first events, and their rows are written
    at once with prepared statements (`insert_as_loaded`: the unit of work's flush of them cost
    a quarter of an API post).
    """
    dealership = get_dealership()
    contact = normalize_contact(prospect.contact, region=dealership.country or "US")
    warnings = list(prospect.warnings) + contact.warnings
    source = clean_text(prospect.source, 100) or DEFAULT_SOURCES.get(inbound.channel, "Other")
    provider_id = clean_text(prospect.provider_lead_id, 200) or None
    _lock_keys(source.lower(), provider_id, contact.email, contact.phone)
    db.session.flush()  # earlier prospects and the caller's changes: the checks must see them

    with db.session.no_autoflush:
        known = _known_source(source.lower(), provider_id) if provider_id else None
        if known is None:
            customer, customer_rule, replaced = _match_or_create_customer(contact, prospect)
            kept = _kept_contact(customer, contact)
            department, routing_rule = route_department(prospect)
            window = timedelta(days=dealership.duplicate_window_days)
            open_lead = _open_lead_within(customer, department, now - window)
    if known is not None:
        return _same_provider_id(known.lead, source, provider_id, inbound, now, warnings)
    if kept:
        warnings.append(kept)
    if open_lead is not None:
        rule = (
            "resend of an open lead"
            if prospect.is_resend
            else (f"repeat inquiry within {window.days} days while lead is open")
        )
        _note_replaced_email(open_lead, replaced, customer.email, inbound, now)
        _note_kept_contact(open_lead, kept, contact, inbound, now)
        return _repeat_inquiry(
            open_lead, prospect, source, provider_id, inbound, now, warnings, rule
        )
    if prospect.is_resend:
        warnings.append("marked as a resend, but no earlier copy was received; kept as new")
    with db.session.no_autoflush:
        # Built in memory (the stock and advisor look-ups do not flush it), then one flush.
        lead = _new_lead(
            prospect,
            customer,
            inbound,
            source,
            provider_id,
            now,
            warnings,
            department=department,
            routing_rule=routing_rule,
        )
        record_event(
            lead,
            "inquiry",
            f"Inquiry from {source} ({inbound.channel})",
            at=now,
            user=by,
            source=source,
            inbound_id=inbound.id,
            customer_rule=customer_rule,
            routing_rule=routing_rule,
            warnings=warnings,
            requested_at=prospect.requested_at.isoformat() if prospect.requested_at else None,
        )
        _note_replaced_email(lead, replaced, customer.email, inbound, now)
        _note_kept_contact(lead, kept, contact, inbound, now)
        if by is not None and by.role == "advisor" and by.is_active:
            # An advisor entering their own walk-in or phone call keeps the customer.
            set_assignee(lead, by, by=by, rule="entered by the advisor", at=now)
        elif department == "sales" and dealership.auto_assign:
            advisor = next_advisor_in_rotation(now)
            if advisor is not None:
                set_assignee(
                    lead, advisor, by=None, rule="round robin among advisors on shift", at=now
                )
    new_customer = customer.id is None
    insert_as_loaded(
        db.session(),
        [*([customer] if new_customer else []), lead, *lead.sources, *lead.vehicles, *lead.events],
    )
    record_implied_consent(  # flushes what is pending (a matched customer's filled gaps)
        customer, "inquiry", now, source=f"inquiry via {source}", new_customer=new_customer
    )
    start_plan(lead, now)  # its cadence and timeline line go with the next flush or commit
    return IntakeResult(lead.id, customer.id, False, warnings, rule="new lead")


def _lock_keys(source_key: str, provider_id: str | None, *contacts: str | None) -> None:
    """On PostgreSQL, serialise intakes that share a provider id (within its source) or a
    customer's e-mail or phone (SQLite has one writer at a time already), so two racing posts
    cannot both create the same lead. Posts that share nothing do not wait for each other: the
    source alone is not a key. The locks are taken in one statement, in a fixed order."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    keys = {key for key in contacts if key}
    if provider_id:
        keys.add(f"provider {source_key} {provider_id}")
    if not keys:
        return
    names = [f"k{n}" for n in range(len(keys))]
    locks = ", ".join(f"pg_advisory_xact_lock(hashtext(:{name}))" for name in names)
    db.session.execute(text(f"SELECT {locks}"), dict(zip(names, sorted(keys), strict=True)))


def _known_source(source_key: str, provider_id: str) -> LeadSource | None:
    """The earlier inquiry with this provider id from this source, if any."""
    return db.session.scalar(_KNOWN_SOURCE, {"source_key": source_key, "provider_id": provider_id})


def _same_provider_id(
    lead: Lead,
    source: str,
    provider_id: str,
    inbound: InboundPayload,
    now: datetime,
    warnings: list[str],
) -> IntakeResult:
    lead = _surviving(lead)
    record_event(
        lead,
        "duplicate",
        f"{source} sent lead {provider_id} again; kept as one lead",
        at=now,
        rule="same provider id",
        source=source,
        inbound_id=inbound.id,
    )
    db.session.flush()
    warnings.append(f"{source} lead {provider_id} was received before as lead #{lead.id}")
    return IntakeResult(lead.id, lead.customer_id, True, warnings, rule="same provider id")


def _surviving(lead: Lead) -> Lead:
    """Follow merges to the lead that absorbed this one."""
    seen = set()
    while lead.merged_into_id and lead.id not in seen:
        seen.add(lead.id)
        lead = db.session.get(Lead, lead.merged_into_id)
    return lead


def _match_or_create_customer(
    contact: NormalContact, prospect: LeadIn
) -> tuple[Customer, str, str]:
    """Match by e-mail first, then phone; fill gaps on a match; else a new customer. The third
    value is the customer's e-mail address this inquiry replaced ('' when none)."""
    customer, rule = None, ""
    by_email = bool(contact.email and contact.email_valid)
    by_phone = bool(contact.phone and contact.phone_valid)
    found = {"email": contact.email, "phone": contact.phone}
    if by_email and by_phone:
        customer = db.session.scalar(_CUSTOMER_BY_EMAIL_THEN_PHONE, found)
        if customer is not None:
            same = customer.email == contact.email
            rule = "matched by e-mail" if same else "matched by phone"
    elif by_email:
        customer, rule = db.session.scalar(_CUSTOMER_BY_EMAIL, found), "matched by e-mail"
    elif by_phone:
        customer, rule = db.session.scalar(_CUSTOMER_BY_PHONE, found), "matched by phone"
    if customer is None:
        customer, rule = Customer(), "new customer"
        db.session.add(customer)
    replaced = _fill_customer(customer, contact, prospect)
    return customer, rule, replaced


def _first_customer(condition, *order):
    """A query for the first unmerged customer meeting `condition`: by `order`, then by id."""
    query = db.select(Customer).where(condition, Customer.merged_into_id.is_(None))
    return query.order_by(*order, Customer.id).limit(1)


# Built once, run with the values as parameters: each intake skips building the statements and
# their cache keys.
_KNOWN_SOURCE = db.select(LeadSource).where(
    LeadSource.source_key == bindparam("source_key"),
    LeadSource.provider_lead_id == bindparam("provider_id"),
)
_SAME_EMAIL = Customer.email == bindparam("email")
_SAME_PHONE = Customer.phone == bindparam("phone")
_CUSTOMER_BY_EMAIL = _first_customer(_SAME_EMAIL)
_CUSTOMER_BY_PHONE = _first_customer(_SAME_PHONE)
# One query for both: the first customer with the e-mail, else the first with the phone.
_CUSTOMER_BY_EMAIL_THEN_PHONE = _first_customer(
    or_(_SAME_EMAIL, _SAME_PHONE), case((_SAME_EMAIL, 0), else_=1)
)


def _fill_customer(customer: Customer, contact: NormalContact, prospect: LeadIn) -> str:
    """Fill what the customer record lacks; never overwrite what staff may have corrected, but
    for an e-mail address marked not valid (it bounced): a new, working one from the customer
    replaces it. Returns the address replaced, or ''."""
    given = prospect.contact
    values = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "street": clean_text(given.street, 200),
        "city": clean_text(given.city, 100),
        "region": clean_text(given.region, 50),
        "postal_code": clean_text(given.postal_code, 20),
        "country": clean_text(given.country, 60),
    }
    for name, value in values.items():
        if value and not getattr(customer, name):
            setattr(customer, name, value)
    replaced = ""
    if contact.email and not customer.email:
        customer.email, customer.email_valid = contact.email, contact.email_valid
    elif _better_email(customer, contact):
        replaced, customer.email, customer.email_valid = customer.email, contact.email, True
    if contact.phone and not customer.phone:
        customer.phone, customer.phone_valid = contact.phone, contact.phone_valid
    return replaced


def _better_email(customer: Customer, contact: NormalContact) -> bool:
    """A valid address other than the stored one, which is marked not valid, and one that has
    not bounced itself."""
    if not (contact.email and contact.email_valid) or customer.email_valid is not False:
        return False
    return contact.email != customer.email and not is_bounced(contact.email)


def _note_replaced_email(
    lead: Lead, old: str, new: str, inbound: InboundPayload, now: datetime
) -> None:
    if not old:
        return
    record_event(
        lead,
        "contact_changed",
        f"E-mail changed from {old} (not valid) to {new}, given with this inquiry",
        at=now,
        old_email=old,
        new_email=new,
        inbound_id=inbound.id,
    )


def _kept_contact(customer: Customer, contact: NormalContact) -> str:
    """A note naming what the inquiry gave that differs from the matched customer's stored
    e-mail, name or phone (kept: staff may have corrected them; the lead page's contact form
    changes them), or '' when nothing differs."""
    given = []
    if contact.email_valid and contact.email and customer.email not in ("", contact.email):
        given.append(f"e-mail ({contact.email})")
    names = ((contact.first_name, customer.first_name), (contact.last_name, customer.last_name))
    if any(new and old and new.casefold() != old.casefold() for new, old in names):
        given.append(f"name ({' '.join(n for n in (contact.first_name, contact.last_name) if n)})")
    if contact.phone_valid and contact.phone and customer.phone not in ("", contact.phone):
        given.append(f"phone ({contact.phone})")
    if not given:
        return ""
    what = f"{', '.join(given[:-1])} and {given[-1]}" if len(given) > 1 else given[0]
    return f"The inquiry gave a different {what}; kept the stored {'ones' if given[1:] else 'one'}"


def _note_kept_contact(
    lead: Lead, note: str, contact: NormalContact, inbound: InboundPayload, now: datetime
) -> None:
    if not note:
        return
    record_event(
        lead,
        "contact_differs",
        note,
        at=now,
        email=contact.email,
        phone=contact.phone,
        first_name=contact.first_name,
        last_name=contact.last_name,
        inbound_id=inbound.id,
    )


def _open_lead_within(customer: Customer, department: str, since: datetime) -> Lead | None:
    if customer.id is None:
        return None
    query = (
        db.select(Lead)
        .where(
            Lead.customer_id == customer.id,
            Lead.department == department,
            Lead.status.in_(OPEN_STATUSES),
            Lead.merged_into_id.is_(None),
            Lead.last_activity_at >= since,
        )
        .order_by(Lead.last_activity_at.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def _repeat_inquiry(
    lead: Lead,
    prospect: LeadIn,
    source: str,
    provider_id: str | None,
    inbound: InboundPayload,
    now: datetime,
    warnings: list[str],
    rule: str,
) -> IntakeResult:
    db.session.add(
        LeadSource(
            lead=lead,
            source=source,
            source_key=source.lower(),
            provider_lead_id=provider_id,
            inbound_id=inbound.id,
            received_at=now,
        )
    )
    known = {(v.vin, v.stock, v.year, v.make.lower(), v.model.lower()) for v in lead.vehicles}
    for wanted in prospect.vehicles:
        key = (wanted.vin, wanted.stock, wanted.year, wanted.make.lower(), wanted.model.lower())
        if key not in known:
            lead.vehicles.append(_lead_vehicle(wanted))
    if prospect.comments:
        lead.comments = (
            f"{lead.comments}\n\n[{source}, {now:%Y-%m-%d %H:%M} UTC]\n{prospect.comments}".strip()[
                :50_000
            ]
        )
    lead.latest_source = source
    record_event(
        lead,
        "repeat_inquiry",
        f"New inquiry from {source} added to this open lead",
        at=now,
        rule=rule,
        source=source,
        inbound_id=inbound.id,
        comments=prospect.comments[:2000],
    )
    record_implied_consent(lead.customer, "inquiry", now, source=f"inquiry via {source}")
    _alert_someone(lead, f"new inquiry from {source}", now)
    db.session.flush()
    warnings.append(f"added to open lead #{lead.id} ({rule})")
    return IntakeResult(lead.id, lead.customer_id, True, warnings, rule=rule)


def _alert_someone(lead: Lead, reason: str, now: datetime) -> None:
    """Pause the automatic follow-up with a task for the assignee to answer; with nothing to
    pause or nobody assigned, still a task due now (an unassigned one waits in the supervisor's
    task list), so the customer is not left waiting."""
    assigned = lead.assigned_to_id is not None
    paused = pause_automatic(lead, reason, now, alert=assigned)
    if not (paused and assigned):
        open_task(lead, f"Respond: {reason}", now)


def _new_lead(
    prospect: LeadIn,
    customer: Customer,
    inbound: InboundPayload,
    source: str,
    provider_id: str | None,
    now: datetime,
    warnings: list[str],
    *,
    department: str,
    routing_rule: str,
) -> Lead:
    lead = Lead(
        customer=customer,
        inbound_id=inbound.id,
        channel=inbound.channel,
        source=source,
        latest_source=source,
        department=department,
        sales_kind=sales_kind(prospect),
        routing_rule=routing_rule,
        status="new",
        comments=prospect.comments[:50_000],
        received_at=now,
        last_activity_at=now,
        extensions=dict(prospect.extensions),
        warnings=warnings,
    )
    db.session.add(lead)
    lead.vehicles = [_lead_vehicle(wanted) for wanted in prospect.vehicles]
    lead.sources = [
        LeadSource(
            source=source,
            source_key=source.lower(),
            provider_lead_id=provider_id,
            inbound_id=inbound.id,
            received_at=now,
        )
    ]
    return lead


def _lead_vehicle(wanted: VehicleIn) -> LeadVehicle:
    vehicle = LeadVehicle(
        interest=wanted.interest,
        status=wanted.status,
        year=wanted.year,
        make=wanted.make[:50],
        model=wanted.model[:50],
        trim=wanted.trim[:80],
        vin=wanted.vin[:17],
        stock=wanted.stock[:30],
        odometer=wanted.odometer,
        odometer_units=wanted.odometer_units[:5],
        price=wanted.price,
        color=wanted.color[:50],
        comments=wanted.comments[:2000],
    )
    if wanted.interest not in ("trade-in", "sell"):
        vehicle.vehicle_id = _stock_vehicle_id(wanted.vin, wanted.stock)
    return vehicle


def _stock_vehicle_id(vin: str, stock: str) -> int | None:
    """Link to our inventory by VIN, else by stock number."""
    conditions = []
    if len(vin) == 17:
        conditions.append(Vehicle.vin == vin)
    if stock:
        conditions.append(func.upper(Vehicle.stock_number) == stock.upper())
    if not conditions:
        return None
    return db.session.scalar(db.select(Vehicle.id).where(or_(*conditions)).limit(1))
