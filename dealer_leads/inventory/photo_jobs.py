"""The worker's photo job: claim pending photos, make their derivatives, publish them.

Runs in `flask worker`, off the request. Claims are committed before any heavy work, so two
workers never process the same photo; a claim left by a worker that died is taken again once it
is stale. Storage, uploads and the gallery actions live in photo_services.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import VehiclePhoto
from dealer_leads.inventory.photo_checks import InvalidPhoto
from dealer_leads.inventory.photo_services import (
    PUBLIC_NAME,
    files_of,
    note_first_photo,
    photos_root,
    public_dir,
    remove_unreferenced,
    store_file,
)
from dealer_leads.inventory.photos import Derivative, make_derivatives

log = logging.getLogger(__name__)

DEFAULT_CLAIM_TIMEOUT_SECONDS = 15 * 60


@dataclass(frozen=True)
class Claim:
    """A photo claimed for processing, as plain values (no session needed during the work)."""

    photo_id: int
    vehicle_id: int
    original_path: str
    sha256: str


def process_pending_photos(now: datetime | None = None, limit: int = 10) -> int:
    """Make the derivatives of up to `limit` pending photos; returns how many were handled."""
    claims = _claim_pending(now or now_utc(), limit)
    for claim in claims:
        _process(claim, now)
    return len(claims)


def _claim_pending(now: datetime, limit: int) -> list[Claim]:
    """Mark photos 'processing' and commit before any heavy work, so no two workers share one.

    PostgreSQL skips rows another worker has locked; SQLite has one writer at a time (BEGIN
    IMMEDIATE). A claim older than PHOTO_CLAIM_TIMEOUT_SECONDS is from a worker that died:
    processing is idempotent (same bytes in, same files out), so it is safe to take again.
    While a photo is 'processing', processed_at holds the time it was claimed.
    """
    timeout = current_app.config.get("PHOTO_CLAIM_TIMEOUT_SECONDS", DEFAULT_CLAIM_TIMEOUT_SECONDS)
    stale = (VehiclePhoto.status == "processing") & (
        VehiclePhoto.processed_at < now - timedelta(seconds=timeout)
    )
    rows = db.session.execute(
        select(
            VehiclePhoto.id,
            VehiclePhoto.vehicle_id,
            VehiclePhoto.original_path,
            VehiclePhoto.original_sha256,
        )
        .where((VehiclePhoto.status == "pending") | stale)
        .order_by(VehiclePhoto.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claims = [Claim(*row) for row in rows]
    if claims:
        db.session.execute(
            update(VehiclePhoto)
            .where(VehiclePhoto.id.in_([claim.photo_id for claim in claims]))
            .values(status="processing", processed_at=now, error="")
        )
    db.session.commit()
    return claims


def _process(claim: Claim, now: datetime | None) -> None:
    """Make and publish one photo's derivatives; a failure is recorded on the photo."""
    try:
        data = (photos_root() / claim.original_path).read_bytes()
        derivatives = make_derivatives(data)
        for derivative in derivatives:
            _publish(derivative.filename, derivative.data)
    except InvalidPhoto as refusal:
        _finish(claim, now, status="failed", error=str(refusal))
        return
    except FileNotFoundError:
        _finish(claim, now, status="failed", error="the original file is missing from storage")
        return
    except Exception as error:  # a decoder error must fail this photo, not the whole batch
        log.exception("photo #%s could not be processed", claim.photo_id)
        message = f"the image could not be processed ({type(error).__name__}: {error})"
        _finish(claim, now, status="failed", error=message[:500])
        return
    _finish(claim, now, status="ready", derivatives=_derivatives_json(derivatives))


def _publish(filename: str, data: bytes) -> None:
    if not PUBLIC_NAME.fullmatch(filename):
        raise ValueError(f"unsafe derivative file name {filename!r}")
    store_file(public_dir() / filename, data, 0o644)


def _derivatives_json(derivatives: Iterable[Derivative]) -> dict:
    return {d.key: {"file": d.filename, "width": d.width, "height": d.height} for d in derivatives}


def _finish(
    claim: Claim, now: datetime | None, status: str, error: str = "", derivatives=None
) -> None:
    """Record the outcome, unless the photo was deleted meanwhile (then tidy its files)."""
    finished = now or now_utc()
    done = db.session.execute(
        update(VehiclePhoto)
        .where(VehiclePhoto.id == claim.photo_id, VehiclePhoto.status == "processing")
        .values(status=status, error=error, derivatives=derivatives or {}, processed_at=finished)
    )
    if done.rowcount and status == "ready":
        photo = db.session.get(VehiclePhoto, claim.photo_id)
        note_first_photo(photo)
    db.session.commit()
    if not done.rowcount and derivatives:
        remove_unreferenced(files_of(derivatives), claim.sha256)
