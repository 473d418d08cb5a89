"""Consent and opt-out services: record, withdraw, opt back in, decide whom to contact and when.

The rules live in `compliance.py`; these load the rows and the dealership's settings. An opt-out
from any path (unsubscribe link, STOP text, a person marking it) goes through `withdraw`, which
also cancels at once the follow-up steps still to come on that channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError

from dealer_leads.admin.services import DEFAULT_HOURS, dealership_zone, get_dealership
from dealer_leads.cadence.finishing import cancel_opted_out
from dealer_leads.database import insert_as_loaded
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer
from dealer_leads.leads.normalize import normalize_email, normalize_phone
from dealer_leads.messaging import compliance as rules
from dealer_leads.messaging.compliance import CHANNELS, ConsentFact, Decision
from dealer_leads.messaging.models import Consent, Suppression

# Column defaults apply on insert only, and a fresh install reads an unsaved Dealership.
DEFAULT_REGIME, DEFAULT_QUIET = "CA", ("09:00", "20:00")
PHONE_CHANNELS = ("sms", "call")


class UnknownCustomer(LookupError):
    """No customer with that id."""


class InvalidAddress(ValueError):
    """An empty address, or one that cannot take the channel (a phone number for e-mail)."""


class InvalidChannel(ValueError):
    """A channel other than email, sms, call (or "all" for opt-outs)."""


@dataclass(frozen=True)
class Withdrawal:
    """What an opt-out changed: suppressions added as (channel, address), consents withdrawn,
    pending follow-up steps cancelled ({lead id: count}), the customers it concerns."""

    address: str
    suppressions_added: list[tuple[str, str]]
    consents_withdrawn: int
    cancelled: dict[int, int] = field(default_factory=dict)
    customer_ids: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.suppressions_added or self.consents_withdrawn or self.cancelled)


@dataclass(frozen=True)
class OptIn:
    """What an opt-in changed: suppressions lifted as (channel, address), consents recorded."""

    address: str
    suppressions_removed: list[tuple[str, str]]
    consents_added: int


def regime() -> str:
    """The dealership's compliance regime: "CA" (CASL) or "US" (CAN-SPAM, TCPA)."""
    return get_dealership().compliance_regime or DEFAULT_REGIME


def dealership_hours() -> rules.Hours:
    """The showroom's business hours and holidays, in the dealership's zone."""
    dealership = get_dealership()
    weekly = dealership.business_hours or DEFAULT_HOURS
    return rules.hours_from_settings(dealership_zone().key, weekly, dealership.holidays)


def normalize_address(raw: str) -> str:
    """An e-mail lower-cased or a phone in E.164; kept as given when it cannot be parsed."""
    if "@" in (raw or ""):
        address = normalize_email(raw)[0]
    else:
        address = normalize_phone(raw or "", get_dealership().country or "US")[0]
    if not address:
        raise InvalidAddress("an e-mail address or phone number is required")
    return address


def _address_channels(address: str) -> tuple[str, ...]:
    return ("email",) if "@" in address else PHONE_CHANNELS


def _checked(raw: str, channel: str) -> str:
    if channel not in (*CHANNELS, "all"):
        raise InvalidChannel(f"unknown channel {channel!r}")
    address = normalize_address(raw)
    if channel != "all" and channel not in _address_channels(address):
        raise InvalidAddress(f"{address!r} cannot receive {channel}")
    return address


def _customers_with(address: str) -> list[Customer]:
    column = Customer.email if "@" in address else Customer.phone
    return list(db.session.scalars(db.select(Customer).where(column == address)))


def _has_suppression(channel: str, address: str) -> bool:
    query = db.select(Suppression.id).filter_by(channel=channel, address=address)
    return db.session.scalar(query.limit(1)) is not None


def _suppress(channel: str, address: str, source: str, reason: str, at: datetime) -> bool:
    """Add a suppression unless one exists; a concurrent opt-out of the same address is fine."""
    if _has_suppression(channel, address):
        return False
    row = Suppression(channel=channel, address=address, source=source, reason=reason, at=at)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return False
    return True


def withdraw(address: str, channel: str, source: str, reason: str, at: datetime) -> Withdrawal:
    """Opt an address out of a channel at once; "all" covers every address of its customers.
    Commits (with whatever the caller added before)."""
    withdrawal = record_withdrawal(address, channel, source, reason, at)
    db.session.commit()
    return withdrawal


def record_withdrawal(
    address: str, channel: str, source: str, reason: str, at: datetime
) -> Withdrawal:
    """`withdraw` without the commit, for a caller that records more in the same transaction:
    suppressions, consents withdrawn, and the pending steps on the channel cancelled."""
    address = _checked(address, channel)
    customers = _customers_with(address)
    addresses, channels = {address}, (channel,)
    if channel == "all":
        addresses |= {value for c in customers for value in (c.email, c.phone) if value}
        channels = CHANNELS
    added = [
        (channel, value)
        for value in sorted(addresses)
        if _suppress(channel, value, source[:40], reason[:200], at)
    ]
    rows = db.session.scalars(
        db.select(Consent).where(
            Consent.customer_id.in_([c.id for c in customers]),
            Consent.channel.in_(channels),
            Consent.withdrawn_at.is_(None),
        )
    ).all()
    for row in rows:
        row.withdrawn_at = at
    ids = [c.id for c in customers]
    cancelled = cancel_opted_out(ids, channel, at, f"opted out ({reason})") if ids else {}
    db.session.flush()
    return Withdrawal(address, added, len(rows), cancelled, ids)


def _lift(address: str, wanted: tuple[str, ...]) -> list[tuple[str, str]]:
    """Delete the address's suppressions on `wanted`; an "all" one shrinks to the rest."""
    rows = db.session.scalars(db.select(Suppression).filter_by(address=address)).all()
    removed = []
    for row in rows:
        if row.channel == "all":
            kept = {"address": address, "reason": row.reason, "source": row.source, "at": row.at}
            rest = set(_address_channels(address)) - set(wanted) - {r.channel for r in rows}
            db.session.add_all(Suppression(channel=channel, **kept) for channel in sorted(rest))
        elif row.channel not in wanted:
            continue
        db.session.delete(row)
        removed.append((row.channel, address))
    return removed


def opt_in(address: str, channel: str, source: str, at: datetime) -> OptIn:
    """Lift an opt-out (START, a person marking it) and record express consent for it."""
    address = _checked(address, channel)
    wanted = _address_channels(address) if channel == "all" else (channel,)
    removed = _lift(address, wanted)
    customers = _customers_with(address)
    db.session.add_all(
        Consent(customer_id=c.id, channel=each, kind="express", source=source[:200], given_at=at)
        for c in customers
        for each in wanted
    )
    db.session.commit()
    return OptIn(address, removed, len(customers) * len(wanted))


def _implied_covered(customer_id: int, channel: str, expires_at: datetime | None) -> bool:
    """An implied consent lasting as long already (or longer) makes a new row pointless."""
    lasts = Consent.expires_at.is_(None)
    if expires_at is not None:
        lasts = or_(lasts, Consent.expires_at >= expires_at)
    query = db.select(Consent.id).filter_by(
        customer_id=customer_id, channel=channel, kind="implied", withdrawn_at=None
    )
    return db.session.scalar(query.where(lasts).limit(1)) is not None


def record_implied_consent(
    customer: Customer, basis: str, at: datetime, source: str, *, new_customer: bool = False
) -> list[Consent]:
    """Implied consent from an inquiry or a purchase on each channel the customer gave us.

    A channel already covered by a live implied consent lasting as long (or longer) gets no new
    row. One look-up for all channels (none for a customer not yet saved, or `new_customer`:
    saved by the caller's own transaction); the new rows are written at once with a prepared
    statement (`insert_as_loaded`). Flush only: intake and the sale own the transaction.
    """
    expires_at = rules.implied_consent_expiry(regime(), basis, at)
    if customer.id is None:
        new_customer = True
        db.session.flush()
    channels = ["email"] if customer.email else []
    channels += PHONE_CHANNELS if customer.phone else ()
    if channels and not new_customer:
        lasts = Consent.expires_at.is_(None)
        if expires_at is not None:
            lasts = or_(lasts, Consent.expires_at >= expires_at)
        live = db.select(Consent.channel).filter_by(
            customer_id=customer.id, kind="implied", withdrawn_at=None
        )
        covered = set(db.session.scalars(live.where(Consent.channel.in_(channels), lasts)))
        channels = [channel for channel in channels if channel not in covered]
    fields = {"kind": "implied", "source": source[:200], "given_at": at}
    added = [
        Consent(customer_id=customer.id, channel=channel, expires_at=expires_at, **fields)
        for channel in channels
    ]
    insert_as_loaded(db.session(), added)
    db.session.flush()
    return added


def record_express_consent(customer_id: int, channel: str, source: str, at: datetime) -> Consent:
    """Express consent (a ticked box, a signed form, a spoken yes noted by staff). Commits."""
    consent = add_express_consent(customer_id, channel, source, at)
    db.session.commit()
    return consent


def add_express_consent(customer_id: int, channel: str, source: str, at: datetime) -> Consent:
    """`record_express_consent` without the commit, for a caller that records the lead's
    timeline line in the same transaction (flushes)."""
    if channel not in CHANNELS:
        raise InvalidChannel(f"unknown channel {channel!r}")
    if db.session.get(Customer, customer_id) is None:
        raise UnknownCustomer(f"no customer {customer_id}")
    consent = Consent(
        customer_id=customer_id, channel=channel, kind="express", source=source[:200], given_at=at
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def lift_opt_out(address: str, channel: str) -> list[tuple[str, str]]:
    """Lift the address's opt-out of one channel (an "all" one keeps its other channels), for
    a customer who gave express consent again to a person. Flushes; returns what was lifted."""
    if channel == "all":
        raise InvalidChannel("lift one channel at a time")
    removed = _lift(_checked(address, channel), (channel,))
    db.session.flush()
    return removed


def is_suppressed(address: str, channel: str) -> bool:
    """Whether the address opted out of this channel, or out of everything."""
    query = db.select(Suppression.id).where(
        Suppression.address == normalize_address(address),
        Suppression.channel.in_((channel, "all")),
    )
    return db.session.scalar(query.limit(1)) is not None


def may_contact(
    customer: Customer, channel: str, *, now: datetime, responding_to_inquiry: bool
) -> Decision:
    """Whether an automatic message on `channel` may go to the customer now, and why."""
    if channel not in CHANNELS:
        raise InvalidChannel(f"unknown channel {channel!r}")
    address = customer.email if channel == "email" else customer.phone
    if not address:
        return Decision(False, f"no {'e-mail address' if channel == 'email' else 'phone'} on file")
    query = db.select(Consent).filter_by(customer_id=customer.id, channel=channel)
    facts = [
        ConsentFact(r.channel, r.kind, r.given_at, r.expires_at, r.withdrawn_at)
        for r in db.session.scalars(query)
    ]
    suppressed = is_suppressed(address, channel)
    responding = responding_to_inquiry
    return rules.consent_allows(
        regime(), channel, facts, now=now, responding_to_inquiry=responding, suppressed=suppressed
    )


def contact_window(phone: str, now: datetime) -> datetime:
    """The earliest moment (UTC) from `now` to call or text this number."""
    dealership = get_dealership()
    start, end = (
        dealership.quiet_start or DEFAULT_QUIET[0],
        dealership.quiet_end or DEFAULT_QUIET[1],
    )
    quiet = rules.quiet_hours_from_settings(start, end, dealership_zone().key)
    return rules.next_allowed_contact(now, quiet, rules.recipient_zones(phone))


CHANNEL_LABELS = {"email": "E-mail", "sms": "Texts", "call": "Calls"}


@dataclass(frozen=True)
class ChannelState:
    """What the lead page shows of one channel: the address, its opt-out, the consents that
    hold now (or the implied one that ran out), and whether automatic messages may go."""

    channel: str
    address: str
    opted_out: Suppression | None
    express: Consent | None
    implied: Consent | None
    expired: Consent | None
    decision: Decision

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self.channel]


def get_consent_states(customer: Customer, now: datetime) -> list[ChannelState]:
    """Consent and opt-out per channel for one customer, under the dealership's regime. Two
    queries: the customer's consents, and the opt-outs of their addresses (stored as intake
    normalised them, as `withdraw` keys them)."""
    rows = list(db.session.scalars(db.select(Consent).filter_by(customer_id=customer.id)))
    addresses = {"email": customer.email or "", "sms": customer.phone or ""}
    addresses["call"] = addresses["sms"]
    wanted = {address for address in addresses.values() if address}
    blocks = db.session.scalars(db.select(Suppression).where(Suppression.address.in_(wanted)))
    opt_outs = {(row.address, row.channel): row for row in blocks}
    current = regime()
    return [
        _channel_state(
            channel,
            addresses[channel],
            opt_outs.get((addresses[channel], channel))
            or opt_outs.get((addresses[channel], "all")),
            [row for row in rows if row.channel == channel and row.given_at <= now],
            current,
            now,
        )
        for channel in CHANNELS
    ]


def _channel_state(
    channel: str,
    address: str,
    opted_out: Suppression | None,
    rows: list[Consent],
    current_regime: str,
    now: datetime,
) -> ChannelState:
    live = [row for row in rows if _holds(row, now)]
    express = max((r for r in live if r.kind == "express"), key=_given, default=None)
    implied = max((r for r in live if r.kind == "implied"), key=_lasts, default=None)
    ran_out = [r for r in rows if r.kind == "implied" and r.withdrawn_at is None]
    expired = None if implied else max(ran_out, key=_lasts, default=None)
    if address:
        facts = [
            ConsentFact(r.channel, r.kind, r.given_at, r.expires_at, r.withdrawn_at) for r in rows
        ]
        decision = rules.consent_allows(
            current_regime,
            channel,
            facts,
            now=now,
            responding_to_inquiry=False,
            suppressed=opted_out is not None,
        )
    else:
        decision = Decision(False, f"no {'e-mail address' if channel == 'email' else 'phone'}")
    return ChannelState(channel, address, opted_out, express, implied, expired, decision)


def _holds(row: Consent, now: datetime) -> bool:
    return row.withdrawn_at is None and (row.expires_at is None or now < row.expires_at)


def _given(row: Consent) -> datetime:
    return row.given_at


def _lasts(row: Consent) -> datetime:
    return row.expires_at or datetime.max.replace(tzinfo=UTC)
