"""Who an inquiry is from: the customer it matches by e-mail or phone, the gaps it fills in
that record, the differences it notes, and the open lead it may repeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, case, or_

from dealer_leads.extensions import db
from dealer_leads.leads.models import OPEN_STATUSES, Customer, InboundPayload, Lead
from dealer_leads.leads.normalize import LeadIn, NormalContact, clean_text
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.bounces import is_bounced


def match_or_create_customer(contact: NormalContact, prospect: LeadIn) -> tuple[Customer, str, str]:
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


def kept_contact(customer: Customer, contact: NormalContact) -> str:
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


def note_replaced_email(
    lead: Lead, old: str, new: str, inbound: InboundPayload, now: datetime
) -> None:
    """Say on the timeline that this inquiry's address replaced one marked not valid."""
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


def note_kept_contact(
    lead: Lead, note: str, contact: NormalContact, inbound: InboundPayload, now: datetime
) -> None:
    """Say on the timeline what the inquiry gave that differs from the stored contact."""
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


def open_lead_within(customer: Customer, department: str, since: datetime) -> Lead | None:
    """The customer's open lead in `department` active since `since`, if any."""
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
