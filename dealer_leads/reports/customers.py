"""The customer database: search, one customer's history, and the export for other departments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select

from dealer_leads.appointments.models import Appointment
from dealer_leads.auth.models import User
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead, LeadEvent, LeadVehicle
from dealer_leads.messaging.models import Suppression

PAGE_SIZE = 50
MAX_QUERY = 100
PHONE_CHANNELS = ("sms", "call")


class CustomerNotFound(LookupError):
    """No such customer (or one merged into another)."""


@dataclass
class CustomerRow:
    """One line of the customer list."""

    id: int
    name: str
    email: str
    phone: str
    city: str
    leads: int
    purchases: int
    last_lead_at: datetime | None


def _search_condition(query: str):
    words = query.strip()[:MAX_QUERY].lower().split()
    conditions = []
    for word in words:
        like = f"%{word}%"
        digits = "".join(ch for ch in word if ch.isdigit())
        options = [
            func.lower(Customer.first_name).like(like),
            func.lower(Customer.last_name).like(like),
            Customer.email.like(like),
        ]
        if len(digits) >= 3:
            options.append(Customer.phone.like(f"%{digits}%"))
        conditions.append(or_(*options))
    return conditions


def search_customers(query: str, page: int = 1) -> tuple[list[CustomerRow], bool]:
    """A page of customers matching every word of `query` (name, e-mail or phone digits),
    newest first, and whether another page follows. Merged customers are left out."""
    page = max(1, min(page, 10_000))
    ids = list(
        db.session.scalars(
            select(Customer.id)
            .where(Customer.merged_into_id.is_(None), *_search_condition(query))
            .order_by(Customer.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    more, ids = len(ids) > PAGE_SIZE, ids[:PAGE_SIZE]
    return _rows(ids), more


def _lead_counts(customer_ids: list[int] | None) -> dict[int, tuple[int, int, datetime | None]]:
    """{customer id: (leads, purchases, latest lead)}; merged leads counted in their survivor."""
    statement = select(
        Lead.customer_id,
        func.count(Lead.id),
        func.count(Lead.id).filter(Lead.status == "sold"),
        func.max(Lead.received_at),
    ).where(Lead.merged_into_id.is_(None))
    if customer_ids is not None:
        statement = statement.where(Lead.customer_id.in_(customer_ids))
    return {
        row[0]: (row[1], row[2], row[3])
        for row in db.session.execute(statement.group_by(Lead.customer_id))
    }


def _rows(ids: list[int]) -> list[CustomerRow]:
    if not ids:
        return []
    counts = _lead_counts(ids)
    customers = db.session.scalars(select(Customer).where(Customer.id.in_(ids))).all()
    by_id = {c.id: c for c in customers}
    return [
        CustomerRow(c.id, c.name, c.email, c.phone, c.city, *counts.get(c.id, (0, 0, None)))
        for c in (by_id[i] for i in ids)
    ]


@dataclass
class History:
    """One customer and everything the dealership did with them."""

    customer: Customer
    leads: list[Lead]
    appointments: list[tuple[Appointment, str]]  # with the advisor's name
    purchases: list[tuple[Lead, datetime | None, list[LeadVehicle]]]
    opted_out: dict[str, list[str]] = field(default_factory=dict)  # address → channels


def get_history(customer_id: int) -> History:
    """The customer's leads, appointments, purchases and opt-outs, newest first."""
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.merged_into_id is not None:
        raise CustomerNotFound(f"no customer #{customer_id}")
    leads = list(
        db.session.scalars(
            select(Lead)
            .where(Lead.customer_id == customer.id, Lead.merged_into_id.is_(None))
            .order_by(Lead.received_at.desc())
        )
    )
    all_ids = list(db.session.scalars(select(Lead.id).where(Lead.customer_id == customer.id)))
    appointments = db.session.execute(
        select(Appointment, User.name)
        .join(User, User.id == Appointment.advisor_id)
        .where(Appointment.lead_id.in_(all_ids))
        .order_by(Appointment.starts_at.desc())
    ).all()
    sold = [lead for lead in leads if lead.status == "sold"]
    sold_at = dict(
        db.session.execute(
            select(LeadEvent.lead_id, func.max(LeadEvent.at))
            .where(LeadEvent.lead_id.in_([lead.id for lead in sold]), LeadEvent.kind == "status")
            .group_by(LeadEvent.lead_id)
        ).all()
    )
    purchases = [(lead, sold_at.get(lead.id), list(lead.vehicles)) for lead in sold]
    return History(
        customer, leads, [tuple(row) for row in appointments], purchases, _opt_outs(customer)
    )


def _opt_outs(customer: Customer) -> dict[str, list[str]]:
    addresses = [a for a in (customer.email, customer.phone) if a]
    rows = db.session.execute(
        select(Suppression.address, Suppression.channel).where(Suppression.address.in_(addresses))
    )
    found: dict[str, list[str]] = {}
    for address, channel in rows:
        found.setdefault(address, []).append(channel)
    return {address: sorted(channels) for address, channels in found.items()}


# --- the export ------------------------------------------------------------------------------

EXPORT_HEADER = [
    "customer id", "first name", "last name", "email", "phone", "street", "city", "region",
    "postal code", "country", "leads", "purchases", "latest lead (UTC)", "opted out of",
]  # fmt: skip


def _suppressed() -> tuple[set[str], set[str]]:
    """(e-mail addresses opted out of e-mail, phones opted out of texts or calls)."""
    emails, phones = set(), set()
    for address, channel in db.session.execute(select(Suppression.address, Suppression.channel)):
        if channel in ("email", "all") and "@" in address:
            emails.add(address)
        if channel in (*PHONE_CHANNELS, "all") and "@" not in address:
            phones.add(address)
    return emails, phones


def export_rows() -> Iterator[list[object]]:
    """Every customer (merged ones left out) as export rows, oldest first. An e-mail address
    that opted out of e-mail, or a phone that opted out of texts or calls, is left blank, and
    the last column says which channels were left out."""
    emails, phones = _suppressed()
    counts = _lead_counts(None)
    columns = (
        Customer.id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
        Customer.street, Customer.city, Customer.region, Customer.postal_code, Customer.country,
    )  # fmt: skip
    statement = (
        select(*columns)
        .where(Customer.merged_into_id.is_(None))
        .order_by(Customer.id)
        .execution_options(yield_per=2000)
    )
    for row in db.session.execute(statement):
        values = list(row)
        left_out = []
        if values[3] and values[3] in emails:
            values[3], left_out = "", [*left_out, "email"]
        if values[4] and values[4] in phones:
            values[4], left_out = "", [*left_out, "phone"]
        leads, purchases, latest = counts.get(values[0], (0, 0, None))
        yield [*values, leads, purchases, latest.isoformat() if latest else "", " ".join(left_out)]
