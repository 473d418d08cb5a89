"""Secrets in customer and advisor links: signed, expiring tokens (confirmation and
self-scheduling links) and the random calendar token stored on the advisor's user row.

A signed token carries its own expiry ("e", Unix seconds) inside the signed payload, so the
caller's clock decides whether it is still good and nobody can lengthen it without the key.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

CONFIRM_SALT = "dealer_leads.appointment-confirm"
SCHEDULE_SALT = "dealer_leads.self-schedule"
MAX_TOKEN_LENGTH = 500
INVALID = "this link is not valid: it may have been copied incompletely or changed"


class LinkRefused(ValueError):
    """A link that cannot be used: `code` is 'expired' or 'invalid'; the message says so."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def new_calendar_token() -> str:
    """256 random bits, URL-safe: the advisor's private calendar address."""
    return secrets.token_urlsafe(32)


def _dump(secret: str, salt: str, value: dict, expires: datetime) -> str:
    return URLSafeSerializer(secret, salt=salt).dumps({**value, "e": int(expires.timestamp())})


def _load(secret: str, salt: str, token: str, now: datetime) -> dict:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused("invalid", INVALID)
    try:
        value = URLSafeSerializer(secret, salt=salt).loads(token)
    except BadSignature:
        raise LinkRefused("invalid", INVALID) from None
    if not isinstance(value, dict) or not isinstance(value.get("e"), int):
        raise LinkRefused("invalid", INVALID)
    if now.timestamp() > value["e"]:
        raise LinkRefused("expired", "this link has expired")
    return value


def confirm_token(secret: str, appointment_id: int, uid: str, expires: datetime) -> str:
    """The customer's link to confirm one appointment, good until `expires`."""
    return _dump(secret, CONFIRM_SALT, {"a": appointment_id, "u": uid}, expires)


def read_confirm_token(secret: str, token: str, now: datetime) -> tuple[int, str]:
    """(appointment id, uid) from a confirmation token, or LinkRefused."""
    value = _load(secret, CONFIRM_SALT, token, now)
    if not isinstance(value.get("a"), int) or not isinstance(value.get("u"), str):
        raise LinkRefused("invalid", INVALID)
    return value["a"], value["u"]


def schedule_token(secret: str, lead_id: int, now: datetime, valid: timedelta) -> str:
    """The customer's link to choose a visit time for one lead, good for `valid`."""
    return _dump(secret, SCHEDULE_SALT, {"l": lead_id}, now + valid)


def read_schedule_token(secret: str, token: str, now: datetime) -> int:
    """The lead id from a self-scheduling token, or LinkRefused."""
    value = _load(secret, SCHEDULE_SALT, token, now)
    if not isinstance(value.get("l"), int):
        raise LinkRefused("invalid", INVALID)
    return value["l"]
