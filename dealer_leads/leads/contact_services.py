"""The customer's contact and permissions from the lead page and the web form: opt-outs,
express consent given, and fixing an e-mail or phone."""

from __future__ import annotations

from datetime import datetime

from dealer_leads.admin.services import get_dealership
from dealer_leads.auth.models import SUPERVISING_ROLES, User
from dealer_leads.cadence.channel_steps import restore_bounced_emails
from dealer_leads.cadence.services import stop
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer, Lead
from dealer_leads.leads.normalize import (
    clean_text,
    may_receive_texts,
    normalize_email,
    normalize_phone,
)
from dealer_leads.leads.services import (
    InvalidAction,
    InvalidContact,
    LeadNotFound,
    lead_for_update,
)
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.bounces import is_bounced
from dealer_leads.messaging.consent import (
    add_express_consent,
    is_suppressed,
    lift_opt_out,
    withdraw,
)

OPT_OUT_CHANNELS = {"email": "e-mail", "sms": "texts", "call": "calls", "all": "everything"}


def mark_opt_out(viewer: User, lead_id: int, channel: str, now: datetime | None = None) -> Lead:
    """A person records that the customer asked for no more e-mail, texts, calls or anything."""
    if channel not in OPT_OUT_CHANNELS:
        raise InvalidAction(f"unknown channel {channel!r}")
    now = now or now_utc()
    lead = lead_for_update(viewer, lead_id)
    customer = lead.customer
    address = customer.email if channel == "email" else customer.phone
    if channel == "all":
        address = customer.email or customer.phone
    if not address:
        raise InvalidAction("the customer has no address on that channel")
    withdraw(address, channel, source="staff", reason=f"marked by {viewer.name}", at=now)
    record_event(
        lead,
        "opt_out",
        f"Opted out of {OPT_OUT_CHANNELS[channel]} (marked by staff)",
        user=viewer,
        at=now,
        channel=channel,
    )
    if channel == "all":
        stop(lead, "opted out of all messages", now, by=viewer)
    db.session.commit()
    return lead


CONSENT_CHANNELS = {"sms": "texts", "email": "e-mail", "both": "texts and e-mail"}
CONSENT_METHODS = {
    "phone": "verbal, on the phone",
    "in_person": "verbal, in person",
    "signed_form": "signed consent form",
    "writing": "in writing (e-mail, letter)",
    "other": "other",
}


def record_consent_given(
    viewer: User,
    lead_id: int,
    channel: str,
    method: str,
    note: str = "",
    now: datetime | None = None,
) -> Lead:
    """Staff record that the customer gave express consent to texts, e-mail or both, and how.

    A customer who had opted out of that channel and now asks a person for messages again
    has the opt-out lifted; the timeline says so."""
    if channel not in CONSENT_CHANNELS or method not in CONSENT_METHODS:
        raise InvalidAction("choose the channel and how the customer gave consent")
    note = clean_text(note, 200)
    if method == "other" and not note:
        raise InvalidAction("say how the customer gave consent")
    now = now or now_utc()
    lead = lead_for_update(viewer, lead_id)
    channels = ("sms", "email") if channel == "both" else (channel,)
    addresses = {each: _consent_address(lead.customer, each) for each in channels}
    details = CONSENT_METHODS[method] + (f" — {note}" if note else "")
    lifted = []
    for each, address in addresses.items():
        if lift_opt_out(address, each):
            lifted.append(CONSENT_CHANNELS[each])
        add_express_consent(lead.customer_id, each, f"{details}; noted by {viewer.name}", now)
    summary = f"Express consent to {CONSENT_CHANNELS[channel]}: {details}"
    if lifted:
        summary += f"; the opt-out of {' and '.join(lifted)} is lifted"
    record_event(
        lead, "consent", summary, user=viewer, at=now, channel=channel, method=method, note=note
    )
    db.session.commit()
    return lead


def _consent_address(customer: Customer, channel: str) -> str:
    """The address the consent covers; one that cannot take the channel is refused."""
    if channel == "email":
        if not customer.email or not customer.email_valid:
            raise InvalidAction("the customer has no valid e-mail address: correct it first")
        return customer.email
    if not customer.phone or not customer.phone_valid:
        raise InvalidAction("the customer has no valid phone number: correct it first")
    if not may_receive_texts(customer.phone):
        raise InvalidAction(f"{customer.phone} cannot receive texts (not a mobile number)")
    return customer.phone


def record_web_form_consent(
    lead_id: int, customer_id: int, phone_given: str, statement: str, at: datetime
) -> bool:
    """The customer ticked "Text me about my inquiry" on the web form: express consent to
    texts at the number they typed, with the statement they agreed to, on the timeline.

    Recorded only for a number that may be a mobile and is the one on file (a known customer
    keeps the number staff hold, and consent covers what they typed). An opt-out stands: a
    form anyone can fill in does not lift it; texting START does. Returns whether consent
    was recorded; a timeline line says why not."""
    lead, customer = db.session.get(Lead, lead_id), db.session.get(Customer, customer_id)
    if lead is None or customer is None:
        raise LeadNotFound(f"no lead #{lead_id} for customer #{customer_id}")
    phone, valid = normalize_phone(phone_given, get_dealership().country or "US")
    problem = ""
    if not (phone and valid and may_receive_texts(phone)):
        problem = "no mobile number was given"
    elif customer.phone != phone:
        problem = f"the number given ({phone}) is not the one on file"
    elif is_suppressed(phone, "sms"):
        problem = f"{phone} opted out of texts; texting START opts back in"
    fields = {"channel": "sms", "statement": statement, "phone": phone, "source": "web form"}
    if problem:
        summary = f'Ticked "Text me about my inquiry" on the web form, but {problem}'
        record_event(lead, "consent", f"{summary}: no consent recorded", at=at, **fields)
    else:
        add_express_consent(customer.id, "sms", "web form", at)
        summary = f"Express consent to texts at {phone}: ticked on the web form"
        record_event(lead, "consent", summary, at=at, given_at=at.isoformat(), **fields)
    db.session.commit()
    return not problem


def update_contact(
    viewer: User, lead_id: int, email: str, phone: str, now: datetime | None = None
) -> Lead:
    """Correct the customer's e-mail and phone (a bounced address, a wrong number): the
    supervisor or the lead's own advisor. A changed value is normalised as intake does and must
    be valid; a new address clears the not-valid mark, unless it bounced itself, and brings back
    the e-mail steps a bounce cancelled on the customer's open leads."""
    now = now or now_utc()
    lead = lead_for_update(viewer, lead_id)
    if viewer.role not in SUPERVISING_ROLES and lead.assigned_to_id != viewer.id:
        raise InvalidAction("only the supervisor or the lead's advisor corrects the contact")
    customer = lead.customer
    new_email, new_phone = _corrected_contact(customer, email, phone)
    old = {"old_email": customer.email, "old_phone": customer.phone}
    changes = []
    if new_email != customer.email:
        bounced = is_bounced(new_email)
        customer.email, customer.email_valid = new_email, not bounced
        note = " (it bounced before: no e-mail goes to it)" if bounced else ""
        changes.append(f"e-mail {old['old_email'] or '—'} → {new_email or '—'}{note}")
    if new_phone != customer.phone:
        customer.phone, customer.phone_valid = new_phone, True
        changes.append(f"phone {old['old_phone'] or '—'} → {new_phone or '—'}")
    if not changes:
        raise InvalidAction("the e-mail and phone are as they were")
    summary = f"Contact corrected: {'; '.join(changes)}"
    record_event(
        lead,
        "contact_changed",
        summary,
        user=viewer,
        at=now,
        new_email=new_email,
        new_phone=new_phone,
        **old,
    )
    if new_email and new_email != old["old_email"] and customer.email_valid:
        restore_bounced_emails(customer, now, f"the e-mail was corrected by {viewer.name}")
    db.session.commit()
    return lead


def _corrected_contact(customer: Customer, email: str, phone: str) -> tuple[str, str]:
    """The e-mail and phone to keep: a value left as stored stays as it is (even one marked not
    valid); a changed one must read as a valid address or number."""
    email, phone = clean_text(email, 254), clean_text(phone, 40)
    problems: dict[str, str] = {}
    new_email, new_phone = customer.email, customer.phone
    if email != customer.email:
        new_email, valid = normalize_email(email)
        if not valid:
            problems["email"] = f"{email!r} is not a valid e-mail address"
    if phone != customer.phone:
        new_phone, valid = normalize_phone(phone, get_dealership().country or "US")
        if not valid:
            problems["phone"] = f"{phone!r} is not a phone number that can be called"
    if not problems and not (new_email or new_phone):
        problems["email"] = "give an e-mail address or a phone number"
    if problems:
        raise InvalidContact(problems)
    return new_email, new_phone
