"""A claimed batch of touches with what performing them reads, loaded in a few queries.

Touches, leads, customers, vehicles, advisors, cadences, consents and opt-outs come in five
queries for the whole batch; appointments, the dealership's footer, the signing manager and
templates once per batch when a template asks for them. A send then reads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dealer_leads.cadence.models import LeadCadence, Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.messaging import compliance, consent
from dealer_leads.messaging.models import Consent, MessageTemplate, Suppression


@dataclass
class Batch:
    """A claimed batch's rows, loaded together; valid for one tick (a person's change made
    meanwhile, such as an opt-out, applies from the next batch, a second or so later)."""

    touches: list[Touch]
    cadences: dict[int, LeadCadence]  # by lead id
    consents: dict[tuple[int, str], list[compliance.ConsentFact]]  # (customer id, channel)
    suppressed: set[tuple[str, str]]  # (normalised address, channel or "all")
    templates: dict[tuple[str, str], MessageTemplate | Exception] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # computed once: footer, manager

    def appointment(self, lead_id: int) -> Any:
        """The lead's next active visit, or its latest (as `notify.next_appointment` chooses),
        from one query for the whole batch."""
        found = self.once("appointments", lambda: _appointments({t.lead_id for t in self.touches}))
        return found.get(lead_id)

    def once(self, name: str, compute: Any) -> Any:
        """`compute()` the first time `name` is asked for in this batch, then the same value."""
        if name not in self.shared:
            self.shared[name] = compute()
        return self.shared[name]


def load_batch(ids: list[int]) -> Batch:
    """The touches `ids` (in that order) with what performing them reads, in five queries."""
    lead = joinedload(Touch.lead)
    query = (
        select(Touch)
        .where(Touch.id.in_(ids))
        .options(
            lead.joinedload(Lead.customer),
            lead.joinedload(Lead.assigned_to),
            lead.selectinload(Lead.vehicles),
        )
    )
    by_id = {touch.id: touch for touch in db.session.scalars(query).unique()}
    touches = [by_id[touch_id] for touch_id in ids if touch_id in by_id]
    lead_ids = {touch.lead_id for touch in touches}
    cadences = db.session.scalars(select(LeadCadence).where(LeadCadence.lead_id.in_(lead_ids)))
    customers = {touch.lead.customer for touch in touches}
    return Batch(
        touches=touches,
        cadences={cadence.lead_id: cadence for cadence in cadences},
        consents=_consents({customer.id for customer in customers}),
        suppressed=_suppressed(customers),
    )


def _appointments(lead_ids: set[int]) -> dict[int, Any]:
    """Per lead: the earliest active appointment, else the latest of any status."""
    from dealer_leads.appointments.models import ACTIVE_STATUSES, Appointment

    query = (
        select(Appointment)
        .where(Appointment.lead_id.in_(lead_ids))
        .order_by(Appointment.starts_at, Appointment.id)
    )
    upcoming: dict[int, Any] = {}
    latest: dict[int, Any] = {}
    for appointment in db.session.scalars(query):
        if appointment.status in ACTIVE_STATUSES:
            upcoming.setdefault(appointment.lead_id, appointment)
        latest[appointment.lead_id] = appointment
    return {lead_id: upcoming.get(lead_id) or latest.get(lead_id) for lead_id in lead_ids}


def _consents(customer_ids: set[int]) -> dict[tuple[int, str], list[compliance.ConsentFact]]:
    """Every consent row of these customers, as the facts the compliance rules read."""
    facts: dict[tuple[int, str], list[compliance.ConsentFact]] = {}
    for row in db.session.scalars(select(Consent).where(Consent.customer_id.in_(customer_ids))):
        fact = compliance.ConsentFact(
            row.channel, row.kind, row.given_at, row.expires_at, row.withdrawn_at
        )
        facts.setdefault((row.customer_id, row.channel), []).append(fact)
    return facts


def _suppressed(customers: set[Any]) -> set[tuple[str, str]]:
    """The opt-outs (address, channel) that name any address of these customers."""
    addresses = {_normalised(a) for c in customers for a in (c.email, c.phone) if a}
    if not addresses:
        return set()
    query = select(Suppression.address, Suppression.channel).where(
        Suppression.address.in_(addresses)
    )
    return {(address, channel) for address, channel in db.session.execute(query)}


def _normalised(address: str) -> str:
    """The address as opt-outs store it (as `consent.is_suppressed` looks it up)."""
    try:
        return consent.normalize_address(address)
    except consent.InvalidAddress:
        return address


def _opted_out(batch: Batch, address: str, channel: str) -> bool:
    """Whether an opt-out of the batch names this address for `channel` (or for all)."""
    normalised = _normalised(address)
    return any((normalised, kind) in batch.suppressed for kind in (channel, "all"))


def may_contact(
    batch: Batch, customer: Any, channel: str, *, now: datetime, responding_to_inquiry: bool
) -> compliance.Decision:
    """`consent.may_contact`, decided from the batch's rows instead of three queries."""
    address = customer.email if channel == "email" else customer.phone
    if not address:
        return compliance.Decision(
            False, f"no {'e-mail address' if channel == 'email' else 'phone'} on file"
        )
    return compliance.consent_allows(
        consent.regime(),
        channel,
        batch.consents.get((customer.id, channel), []),
        now=now,
        responding_to_inquiry=responding_to_inquiry,
        suppressed=_opted_out(batch, address, channel),
    )


def opt_out_reason(batch: Batch, customer: Any, channel: str, *, now: datetime) -> str:
    """Why a person step on `channel` (a call, an e-mail to write) must not happen: the
    customer opted out of it ("" when not, or when there is no address: a person may find one)."""
    address = customer.email if channel == "email" else customer.phone
    if not address:
        return ""
    facts = batch.consents.get((customer.id, channel), [])
    suppressed = _opted_out(batch, address, channel)
    return compliance.opt_out_reason(channel, facts, now=now, suppressed=suppressed)
