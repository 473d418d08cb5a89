"""Scheduled jobs the worker runs; each a plain function, callable from tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import InboundPayload


def purge_idempotency_keys(now: datetime | None = None) -> int:
    """Forget idempotency keys older than the retention; the payloads themselves are kept."""
    now = now or now_utc()
    cutoff = now - timedelta(days=current_app.config["IDEMPOTENCY_KEEP_DAYS"])
    result = db.session.execute(
        update(InboundPayload)
        .where(InboundPayload.idempotency_key.is_not(None), InboundPayload.received_at < cutoff)
        .values(idempotency_key=None)
    )
    db.session.commit()
    return result.rowcount
