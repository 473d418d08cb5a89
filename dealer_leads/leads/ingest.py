"""The intake service every channel calls: keep the raw payload, parse, match, dedupe, route.

`store_inbound` commits the raw bytes on their own, so nothing a customer sent is lost even if
parsing fails; `process_inbound` turns a stored payload into leads in one transaction.
`ingest_lead` decides for each prospect; `matching` finds who it is from, `landing` writes
where it lands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import User
from dealer_leads.cadence.channel_steps import restore_bounced_emails
from dealer_leads.cadence.services import start_plan
from dealer_leads.database import insert_as_loaded, now_utc, read_apart, update_as_loaded
from dealer_leads.extensions import db
from dealer_leads.leads.channels import InvalidPayload, parse_payload
from dealer_leads.leads.landing import IntakeResult, new_lead, repeat_inquiry, same_provider_id
from dealer_leads.leads.matching import (
    kept_contact,
    match_or_create_customer,
    note_kept_contact,
    note_replaced_email,
    open_lead_within,
)
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadSource
from dealer_leads.leads.normalize import (
    LeadIn,
    NormalContact,
    clean_text,
    normalize_contact,
    route_department,
)
from dealer_leads.leads.timeline import next_advisor_in_rotation, record_event, set_assignee
from dealer_leads.messaging.consent import record_implied_consent

DEFAULT_SOURCES = {
    "form": "Website",
    "api": "API",
    "adf": "ADF",
    "email": "E-mail",
    "manual": "Walk-in",
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


@dataclass
class _Inquiry:
    """One prospect of a payload, normalised, and what the look-ups found for it."""

    prospect: LeadIn
    contact: NormalContact
    inbound: InboundPayload
    source: str
    provider_id: str | None
    now: datetime
    warnings: list[str]
    customer: Customer | None = None
    customer_rule: str = ""
    replaced: str = ""  # an e-mail marked not valid that this inquiry's address replaced
    kept: str = ""  # what the inquiry gave that differs from the stored contact
    department: str = ""
    routing_rule: str = ""

    def note_contact(self, lead: Lead) -> None:
        """The timeline lines for a replaced e-mail and a contact that differs, if any."""
        note_replaced_email(lead, self.replaced, self.customer.email, self.inbound, self.now)
        note_kept_contact(lead, self.kept, self.contact, self.inbound, self.now)


def ingest_lead(
    prospect: LeadIn, inbound: InboundPayload, *, now: datetime, by: User | None = None
) -> IntakeResult:
    """Normalise one prospect, then land it: duplicate, repeat inquiry or new lead (flushes).

    The look-ups run without autoflush: whatever came before this prospect (an earlier one in
    the same document) is flushed first, so the duplicate checks see it.
    """
    dealership = get_dealership()
    contact = normalize_contact(prospect.contact, region=dealership.country or "US")
    source = clean_text(prospect.source, 100) or DEFAULT_SOURCES.get(inbound.channel, "Other")
    provider_id = clean_text(prospect.provider_lead_id, 200) or None
    warnings = list(prospect.warnings) + contact.warnings
    inquiry = _Inquiry(prospect, contact, inbound, source, provider_id, now, warnings)
    _lock_keys(source.lower(), provider_id, contact.email, contact.phone)
    db.session.flush()  # earlier prospects and the caller's changes: the checks must see them

    window = timedelta(days=dealership.duplicate_window_days)
    with db.session.no_autoflush:
        known = _known_source(source.lower(), provider_id) if provider_id else None
        open_lead = _look_up(inquiry, now - window) if known is None else None
    if known is not None:
        return same_provider_id(known.lead, source, provider_id, inbound, now, warnings)
    if inquiry.kept:
        warnings.append(inquiry.kept)
    if open_lead is not None:
        rule = (
            "resend of an open lead"
            if prospect.is_resend
            else f"repeat inquiry within {window.days} days while lead is open"
        )
        inquiry.note_contact(open_lead)
        result = repeat_inquiry(
            open_lead, prospect, source, provider_id, inbound, now, warnings, rule
        )
        _bring_back_emails(inquiry)
        return result
    if prospect.is_resend:
        warnings.append("marked as a resend, but no earlier copy was received; kept as new")
    return _land_new_lead(inquiry, by=by, auto_assign=dealership.auto_assign)


def _look_up(inquiry: _Inquiry, since: datetime) -> Lead | None:
    """Find (or make) the customer and the department; the customer's open lead there
    received since `since`, if any."""
    customer, inquiry.customer_rule, inquiry.replaced = match_or_create_customer(
        inquiry.contact, inquiry.prospect
    )
    inquiry.customer, inquiry.kept = customer, kept_contact(customer, inquiry.contact)
    inquiry.department, inquiry.routing_rule = route_department(inquiry.prospect)
    return open_lead_within(customer, inquiry.department, since)


def _land_new_lead(inquiry: _Inquiry, *, by: User | None, auto_assign: bool) -> IntakeResult:
    """A new lead, built in memory with its customer, sources, vehicles and first events, their
    rows written at once with prepared statements (`insert_as_loaded`: the unit of work's flush
    of them cost a quarter of an API post)."""
    customer, inbound, now, source = inquiry.customer, inquiry.inbound, inquiry.now, inquiry.source
    with db.session.no_autoflush:
        # Built in memory (the stock and advisor look-ups do not flush it), then written at once.
        lead = new_lead(
            inquiry.prospect,
            customer,
            inbound,
            source,
            inquiry.provider_id,
            now,
            inquiry.warnings,
            department=inquiry.department,
            routing_rule=inquiry.routing_rule,
        )
        _record_inquiry(lead, inquiry, by)
        inquiry.note_contact(lead)
        if by is not None and by.role == "advisor" and by.is_active:
            # An advisor entering their own walk-in or phone call keeps the customer.
            set_assignee(lead, by, by=by, rule="entered by the advisor", at=now)
        elif inquiry.department == "sales" and auto_assign:
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
    _bring_back_emails(inquiry)
    return IntakeResult(lead.id, customer.id, False, inquiry.warnings, rule="new lead")


def _bring_back_emails(inquiry: _Inquiry) -> None:
    """This inquiry replaced a bounced address: the e-mails the bounce cancelled on the
    customer's other open leads come back."""
    if inquiry.replaced and inquiry.customer.email_valid:
        why = f"the inquiry from {inquiry.source} gave a working e-mail"
        restore_bounced_emails(inquiry.customer, inquiry.now, why)


def _record_inquiry(lead: Lead, inquiry: _Inquiry, by: User | None) -> None:
    """The new lead's first timeline line: where it came from and the rules that fired."""
    requested_at = inquiry.prospect.requested_at
    record_event(
        lead,
        "inquiry",
        f"Inquiry from {inquiry.source} ({inquiry.inbound.channel})",
        at=inquiry.now,
        user=by,
        source=inquiry.source,
        inbound_id=inquiry.inbound.id,
        customer_rule=inquiry.customer_rule,
        routing_rule=inquiry.routing_rule,
        warnings=inquiry.warnings,
        requested_at=requested_at.isoformat() if requested_at else None,
    )


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


# Built once, run with the values as parameters: each intake skips building the statements and
# their cache keys.
_KNOWN_SOURCE = db.select(LeadSource).where(
    LeadSource.source_key == bindparam("source_key"),
    LeadSource.provider_lead_id == bindparam("provider_id"),
)
