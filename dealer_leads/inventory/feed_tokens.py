"""Feed consumers: a secret token per site that pulls the feeds; only its hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select

from dealer_leads.extensions import db
from dealer_leads.inventory.feed_models import FeedConsumer
from dealer_leads.leads.normalize import whole_number

TOKEN_BYTES = 24  # 32 URL-safe characters


class InvalidConsumer(ValueError):
    """A consumer name that cannot be used."""


class ConsumerNotFound(LookupError):
    """No consumer with that id or name."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_consumer(name: str) -> tuple[FeedConsumer, str]:
    """A new consumer and its token (shown once: only the hash is kept)."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidConsumer("Name the site that will pull the feeds (e.g. Web site, Google).")
    if len(name) > 80:
        raise InvalidConsumer("The name is over 80 characters.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    consumer = FeedConsumer(name=name, token_hash=token_hash(token), token_hint=token[:6])
    db.session.add(consumer)
    db.session.commit()
    return consumer, token


def consumer_for_token(token: str) -> FeedConsumer | None:
    """The live consumer holding this token, or None (unknown, malformed or revoked)."""
    if not token or len(token) > 100:
        return None
    consumer = db.session.scalar(
        select(FeedConsumer).where(FeedConsumer.token_hash == token_hash(token))
    )
    if consumer is None or consumer.revoked_at is not None:
        return None
    return consumer


def list_consumers() -> list[FeedConsumer]:
    """Every consumer, live ones first, newest first."""
    query = select(FeedConsumer).order_by(
        FeedConsumer.revoked_at.is_not(None), FeedConsumer.id.desc()
    )
    return list(db.session.scalars(query))


def find_consumer(key: str | int) -> FeedConsumer:
    """A consumer by id, or by name when only one live consumer has it."""
    text = str(key).strip()
    if whole_number(text) is not None:
        consumer = db.session.get(FeedConsumer, whole_number(text))
        if consumer is not None:
            return consumer
    found = list(
        db.session.scalars(
            select(FeedConsumer).where(FeedConsumer.name == text, FeedConsumer.revoked_at.is_(None))
        )
    )
    if len(found) != 1:
        raise ConsumerNotFound(
            f"no single live consumer named {text!r}" if found else f"no consumer {text!r}"
        )
    return found[0]


def revoke_consumer(key: str | int, now: datetime) -> FeedConsumer:
    """Revoke a consumer's token at once: its URLs answer 404 from now on."""
    consumer = find_consumer(key)
    if consumer.revoked_at is None:
        consumer.revoked_at = now
        db.session.commit()
    return consumer
