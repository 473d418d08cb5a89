"""Web-form attempts the customer corrected: kept, but out of the "needs review" list.

A customer who leaves out their name gets the form back with the field marked and sends it
again; the first attempt was stored (inbound is always kept) and failed. Once a later attempt
from the same address succeeds, the failed ones that were plainly the same person are set
aside as discarded, naming the payload that replaced them, so staff review only inquiries
that never got through. "Plainly the same person": the same client address, within
`RETRY_WINDOW`, and the failed attempt gave the same e-mail or phone, or neither.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from dealer_leads.extensions import db
from dealer_leads.leads.channels import InvalidPayload, decode_form
from dealer_leads.leads.models import InboundPayload

RETRY_WINDOW = timedelta(minutes=30)


def set_aside_corrected_attempts(inbound_id: int, fields: dict[str, str], now: datetime) -> int:
    """Discard the failed form attempts `inbound_id` corrected; how many were set aside."""
    inbound = db.session.get(InboundPayload, inbound_id)
    if inbound is None or not inbound.source_ip:
        return 0
    query = select(InboundPayload).where(
        InboundPayload.channel == "form",
        InboundPayload.status == "failed",
        InboundPayload.source_ip == inbound.source_ip,
        InboundPayload.received_at >= now - RETRY_WINDOW,
        InboundPayload.id < inbound_id,
    )
    contact = _contact(fields)
    corrected = []
    for earlier in db.session.scalars(query):
        given = _contact(_fields(earlier.raw))
        if given == ("", "") or _shares_one(given, contact):
            corrected.append(earlier)
    for earlier in corrected:
        earlier.status = "discarded"
        earlier.error = f"{earlier.error}\nSent again, corrected, as payload #{inbound_id}.".strip()
    if corrected:
        db.session.commit()
    return len(corrected)


def _fields(raw: bytes) -> dict[str, str]:
    try:
        return decode_form(raw)
    except InvalidPayload:
        return {}


def _contact(fields: dict[str, str]) -> tuple[str, str]:
    """(e-mail, phone digits) as typed, compared loosely: case and punctuation aside."""
    email = fields.get("email", "").strip().lower()
    phone = re.sub(r"\D", "", fields.get("phone", ""))[-10:]
    return email, phone


def _shares_one(first: tuple[str, str], second: tuple[str, str]) -> bool:
    """The same e-mail or the same phone, where both gave one."""
    return any(a and a == b for a, b in zip(first, second, strict=True))
