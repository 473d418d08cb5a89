"""API keys, the keyed and idempotent lead intake behind /api/v1, and the API's lead queries."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from dealer_leads.auth.models import API_SCOPES, ApiKey
from dealer_leads.database import now_utc, read_apart
from dealer_leads.extensions import db
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import body_hash, process_inbound, store_inbound
from dealer_leads.leads.models import InboundPayload, Lead, LeadSource
from dealer_leads.leads.services import LeadNotFound

KEY_PREFIX = "dl_"
DISPLAY_PREFIX_LENGTH = 10  # "dl_" and 7 random characters: enough to tell keys apart
# last_used_at is for people ("used 3 minutes ago"); writing it on every request is not needed.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_IDEMPOTENCY_KEY = 200  # the column's size
REFUSAL_CODES = {"api": "invalid_lead", "adf": "invalid_adf"}


class InvalidApiKey(ValueError):
    """A key cannot be created as asked; the message says why."""


class UnknownScope(InvalidApiKey):
    """A scope that is not one of API_SCOPES."""


class ApiKeyNotFound(LookupError):
    """No API key with that id."""


class ApiKeyRefused(Exception):
    """The key sent with a request does not let it in; `code` is the API error code."""

    code = "invalid_api_key"


class MissingApiKey(ApiKeyRefused):
    """No bearer key in the request."""

    code = "missing_api_key"


class UnknownApiKey(ApiKeyRefused):
    """A bearer key that matches no stored key."""


class RevokedApiKey(ApiKeyRefused):
    """A key that was revoked."""

    code = "revoked_api_key"


class InvalidIdempotencyKey(ValueError):
    """An Idempotency-Key header that is empty, too long or not printable ASCII."""


class IdempotencyKeyReused(ValueError):
    """The idempotency key came before with another body."""


class IdempotencyKeyInProgress(RuntimeError):
    """The first request with this idempotency key has no answer (yet)."""


def create_api_key(name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Make a key; only its hash is stored, the key itself is returned to be shown once."""
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise InvalidApiKey("give the key a name of 1 to 120 characters (who will use it)")
    wanted = list(dict.fromkeys(scope.strip().lower() for scope in scopes if scope.strip()))
    if not wanted:
        raise InvalidApiKey(f"choose at least one scope: {', '.join(API_SCOPES)}")
    unknown = [scope for scope in wanted if scope not in API_SCOPES]
    if unknown:
        raise UnknownScope(
            f"unknown scope {', '.join(unknown)}; choose from {', '.join(API_SCOPES)}"
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        key_hash=ApiKey.hash_key(secret),
        scopes=" ".join(wanted),
    )
    db.session.add(key)
    db.session.commit()
    return key, secret


def list_api_keys() -> list[ApiKey]:
    """Every key, revoked ones too, newest first."""
    return list(db.session.scalars(db.select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_api_key(key_id: int, now: datetime | None = None) -> ApiKey:
    """Refuse the key from now on; revoking twice keeps the first date."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound(f"no API key #{key_id}")
    if key.revoked_at is None:
        key.revoked_at = now or now_utc()
        db.session.commit()
    return key


_KEY_BY_HASH = db.select(ApiKey).where(ApiKey.key_hash == bindparam("key_hash"))


def authenticate_api_key(token: str | None, now: datetime | None = None) -> ApiKey:
    """The live key matching `token`; notes when it was last used (commits).

    The look-up is a read of its own where it can be (`read_apart`): a POST then takes
    SQLite's write lock when it first writes, not from the key check on.
    """
    if not token:
        raise MissingApiKey("send an API key as 'Authorization: Bearer <key>'")
    session = db.session()
    with read_apart(session):
        key = session.scalar(_KEY_BY_HASH, {"key_hash": ApiKey.hash_key(token)})
    if key is None:
        raise UnknownApiKey("this API key is not known")
    if key.revoked_at is not None:
        raise RevokedApiKey(f"this API key was revoked on {key.revoked_at:%Y-%m-%d}")
    now = now or now_utc()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()
    return key


@dataclass
class IntakeAnswer:
    """What a posted document came to: result dicts, or the refusal as an API error dict."""

    results: list[dict] | None = None
    error: dict | None = None
    replayed: bool = False


def check_idempotency_key(value: str | None) -> str | None:
    """The header value if it is usable (1-200 printable ASCII characters), None if absent."""
    if value is None:
        return None
    if (
        not value
        or len(value) > MAX_IDEMPOTENCY_KEY
        or not (value.isascii() and value.isprintable())
    ):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        )
    return value


def submit_inbound(
    channel: str,
    raw: bytes,
    *,
    api_key_id: int,
    content_type: str = "",
    source_ip: str = "",
    idempotency_key: str | None = None,
) -> IntakeAnswer:
    """Store then process a posted lead document, once per idempotency key (commits).

    A repeated key with the same body gets the first answer again; with another body,
    IdempotencyKeyReused; while the first request is still running, IdempotencyKeyInProgress.
    """
    idempotency_key = check_idempotency_key(idempotency_key)
    if idempotency_key:
        earlier = _keyed_inbound(api_key_id, idempotency_key)
        if earlier is not None:
            return _replay(earlier, channel, raw)
    try:
        inbound = store_inbound(
            channel,
            raw,
            content_type=content_type,
            source_ip=source_ip,
            api_key_id=api_key_id,
            idempotency_key=idempotency_key,
            processed_next=True,
        )
    except IntegrityError:
        # Two requests with one key raced; the unique constraint let one store its payload.
        db.session.rollback()
        earlier = _keyed_inbound(api_key_id, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _replay(earlier, channel, raw)
    return _process(inbound.id, channel)


def _keyed_inbound(api_key_id: int, idempotency_key: str) -> InboundPayload | None:
    return db.session.scalar(
        db.select(InboundPayload).where(
            InboundPayload.api_key_id == api_key_id,
            InboundPayload.idempotency_key == idempotency_key,
        )
    )


def _replay(earlier: InboundPayload, channel: str, raw: bytes) -> IntakeAnswer:
    if earlier.channel != channel or earlier.request_hash != body_hash(raw):
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used before with another body; use a new key per lead"
        )
    answer = earlier.response
    if not answer:
        if earlier.status == "received":
            raise IdempotencyKeyInProgress(
                "the first request with this Idempotency-Key is still being processed; "
                "retry in a few seconds"
            )
        raise IdempotencyKeyInProgress(
            "the first request with this Idempotency-Key did not complete; the payload is "
            "kept for review by the dealership"
        )
    return IntakeAnswer(answer.get("results"), answer.get("error"), replayed=True)


def _process(inbound_id: int, channel: str) -> IntakeAnswer:
    try:
        results = process_inbound(inbound_id)
    except InvalidPayload as refusal:
        return IntakeAnswer(error=_record_refusal(inbound_id, channel, refusal))
    except Exception:
        _mark_unfinished(inbound_id, "processing stopped on an unexpected error")
        raise
    return IntakeAnswer(results=[result.as_dict() for result in results])


def _record_refusal(inbound_id: int, channel: str, refusal: InvalidPayload) -> dict:
    """Keep the refusal as the payload's answer, so a retry with the same key gets it again."""
    error = {
        "code": REFUSAL_CODES.get(channel, "invalid_payload"),
        "message": refusal.message,
        "fields": dict(refusal.fields),
    }
    inbound = db.session.get(InboundPayload, inbound_id)
    inbound.response = {"error": error}
    db.session.commit()
    return error


def _mark_unfinished(inbound_id: int, reason: str) -> None:
    """A failure the intake did not record: the payload goes to the review queue instead of
    staying 'received' forever."""
    db.session.rollback()
    inbound = db.session.get(InboundPayload, inbound_id)
    if inbound is not None and inbound.status == "received":
        inbound.status, inbound.error = "failed", reason
        db.session.commit()


@dataclass
class LeadFilters:
    """What an API client narrowed the lead list to; `received_to` is exclusive."""

    status: str = ""
    source: str = ""
    received_from: datetime | None = None
    received_to: datetime | None = None
    sent_with_key: int | None = None  # only the leads this API key sent (None: every lead)


@dataclass
class LeadPage:
    """One page of leads, newest first."""

    items: list[Lead]
    total: int
    page: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total


def _lead_details() -> tuple:
    """Everything lead_to_dict reads, in a fixed number of queries whatever the page size."""
    return (
        joinedload(Lead.customer),
        joinedload(Lead.assigned_to),
        selectinload(Lead.vehicles),
        selectinload(Lead.events),
        selectinload(Lead.sources),
    )


def list_leads(filters: LeadFilters, page: int = 1, per_page: int = 25) -> LeadPage:
    """Leads (not merged away) matching the filters, newest first."""
    conditions = [Lead.merged_into_id.is_(None)]
    if filters.status:
        conditions.append(Lead.status == filters.status)
    if filters.source:
        conditions.append(Lead.source == filters.source)
    if filters.received_from:
        conditions.append(Lead.received_at >= filters.received_from)
    if filters.received_to:
        conditions.append(Lead.received_at < filters.received_to)
    if filters.sent_with_key is not None:
        conditions.append(_sent_with(filters.sent_with_key))
    total = db.session.scalar(db.select(func.count(Lead.id)).where(*conditions))
    query = (
        db.select(Lead)
        .where(*conditions)
        .options(*_lead_details())
        .order_by(Lead.received_at.desc(), Lead.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return LeadPage(list(db.session.scalars(query).unique()), total, page, per_page)


def get_lead(lead_id: int, sent_with_key: int | None = None) -> Lead:
    """One lead with its customer, vehicles, sources and timeline; with `sent_with_key`, only
    a lead that key sent (a provider reads back its own leads, not its competitors')."""
    query = db.select(Lead).where(Lead.id == lead_id).options(*_lead_details())
    if sent_with_key is not None:
        query = query.where(_sent_with(sent_with_key))
    lead = db.session.scalar(query)
    if lead is None:
        raise LeadNotFound(f"no lead #{lead_id}")
    return lead


def _sent_with(api_key_id: int):
    """Leads credited with an inquiry that came in with this API key."""
    return Lead.id.in_(leads_sent_with(api_key_id))


def lead_sent_with(lead_id: int, api_key_id: int) -> bool:
    """Whether this lead is credited with an inquiry that came in with this API key."""
    sent = leads_sent_with(api_key_id).where(LeadSource.lead_id == lead_id).limit(1)
    return db.session.scalar(sent) is not None


def leads_sent_with(api_key_id: int) -> Select:
    """The ids of the leads credited with an inquiry that came in with this API key."""
    return (
        db.select(LeadSource.lead_id)
        .join(InboundPayload, InboundPayload.id == LeadSource.inbound_id)
        .where(InboundPayload.api_key_id == api_key_id)
    )
