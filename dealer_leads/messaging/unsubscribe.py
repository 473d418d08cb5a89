"""Unsubscribe links: signed tokens naming an address and a channel, and the opt-out they make.

Tokens are signed with SECRET_KEY (and SECRET_KEY_FALLBACKS, so rotating the key keeps old
links working) and never expire: a link in a two-year-old e-mail must still unsubscribe. A
forged or altered token is refused with InvalidUnsubscribeToken, which the page turns into 404.

An unsubscribe takes effect at once: the steps still to come on that channel are cancelled and
each of the customer's open leads says so on its timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from dealer_leads.cadence.services import stop
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging import consent

SALT = "dealer_leads.unsubscribe"
CHANNELS = ("email", "sms", "call", "all")
OPTED_OUT_OF = {"email": "e-mail", "sms": "texts", "call": "calls", "all": "all messages"}


class InvalidUnsubscribeToken(ValueError):
    """The token was not made by this installation (forged, altered or truncated)."""


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token names."""

    address: str
    channel: str


def _serializer() -> URLSafeSerializer:
    config = current_app.config
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]  # newest last
    return URLSafeSerializer(keys, salt=SALT)


def make_unsubscribe_token(address: str, channel: str = "email") -> str:
    """A signed, URL-safe token for this address and channel (addresses compared lower-case)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return _serializer().dumps([address.strip().lower(), channel])


def read_unsubscribe_token(token: str) -> Unsubscribe:
    """The address and channel a token names; InvalidUnsubscribeToken when it is not ours."""
    try:
        payload = _serializer().loads(token)
    except BadSignature as error:
        raise InvalidUnsubscribeToken("this unsubscribe link is not valid") from error
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(isinstance(part, str) for part in payload)
        or payload[1] not in CHANNELS
    ):
        raise InvalidUnsubscribeToken("this unsubscribe link is not valid")
    return Unsubscribe(address=payload[0], channel=payload[1])


def unsubscribe_url(address: str, channel: str = "email") -> str:
    """The public page for this address: PUBLIC_BASE_URL/unsubscribe/<token>."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/unsubscribe/{make_unsubscribe_token(address, channel)}"


def is_unsubscribed(address: str, channel: str) -> bool:
    """Whether the address has opted out of this channel (or of everything)."""
    return consent.is_suppressed(address, channel)


def suppress(address: str, channel: str, source: str, reason: str) -> bool:
    """Opt the address out now (idempotent; commits); True when this added a suppression.

    Goes through consent's withdrawal, the one path for every opt-out, which also withdraws the
    customer's consents on that channel and cancels the steps still to come on it; the leads'
    timelines say so (once: a second click changes nothing and adds no line)."""
    now = now_utc()
    withdrawal = consent.record_withdrawal(address, channel, source, reason, now)
    if withdrawal.changed:
        _tell_leads(withdrawal, channel, source, now)
    db.session.commit()
    return bool(withdrawal.suppressions_added)


def _tell_leads(withdrawal: consent.Withdrawal, channel: str, source: str, now: datetime) -> None:
    """A timeline line on each open lead of the customer (and on any other whose steps were
    cancelled); an opt-out of everything stops their plans."""
    query = select(Lead).where(
        Lead.customer_id.in_(withdrawal.customer_ids), Lead.merged_into_id.is_(None)
    )
    how = "one-click unsubscribe" if source == "one_click" else "the unsubscribe link"
    for lead in db.session.scalars(query.order_by(Lead.id)):
        cancelled = withdrawal.cancelled.get(lead.id, 0)
        if not (lead.is_open or cancelled):
            continue
        steps = f"; {cancelled} pending step{'' if cancelled == 1 else 's'} cancelled"
        record_event(
            lead,
            "opt_out",
            f"Opted out of {OPTED_OUT_OF[channel]} via {how}{steps if cancelled else ''}",
            at=now,
            channel=channel,
            address=withdrawal.address,
            source=source,
            cancelled=cancelled,
        )
        if channel == "all":
            stop(lead, "opted out of all messages", now)
