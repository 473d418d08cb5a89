"""Decodes pending: vehicles saved while vPIC could not answer, decoded again by the worker.

Each try is claimed and committed before vPIC is asked (no transaction open meanwhile), then
put off twice as long after each failure, up to once a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.inventory.services import (
    Decoder,
    apply_values,
    decode_record,
    decoded_values,
    prefill_decoded,
)
from dealer_leads.inventory.vpic import VinDecode, decode_vin

DECODE_RETRY_BATCH = 5
DECODE_RETRY_FIRST = timedelta(minutes=10)  # doubled after each failed try ...
DECODE_RETRY_LONGEST = timedelta(hours=24)  # ... up to once a day


def retry_pending_decodes(
    decoder: Decoder | None = None, *, now: datetime | None = None, limit: int = DECODE_RETRY_BATCH
) -> int:
    """Decode again up to `limit` vehicles whose decode is pending and due; returns how many
    were decoded. The batch stops at the first vPIC cannot answer: the rest would fail alike."""
    now, decoder = now or now_utc(), decoder or decode_vin
    decoded = 0
    for _ in range(limit):
        claim = _claim_pending_decode(now)
        if claim is None:
            break
        result = decoder(claim[1])  # no transaction open while vPIC is asked
        _record_retry(*claim, result, now)
        if result.pending:
            break
        decoded += 1
    return decoded


def _retry_due(data: Mapping[str, Any], now: datetime) -> datetime:
    try:
        due = datetime.fromisoformat(data["next_try_at"])
    except (KeyError, TypeError, ValueError):
        return now  # not tried again yet
    return due if due.tzinfo is not None else now


def _claim_pending_decode(now: datetime) -> tuple[int, str] | None:
    """The pending vehicle due longest, its next try put off and committed before vPIC is
    asked, so that another worker does not take it too."""
    rows = db.session.execute(
        select(Vehicle.id, Vehicle.vin, Vehicle.decode_data)
        .where(Vehicle.decode_state == "pending")
        .with_for_update(skip_locked=True)
    ).all()
    due = sorted((_retry_due(data or {}, now), id_, vin) for id_, vin, data in rows)
    if not due or due[0][0] > now:
        db.session.commit()
        return None
    _, vehicle_id, vin = due[0]
    vehicle = db.session.get(Vehicle, vehicle_id)
    attempts = int((vehicle.decode_data or {}).get("attempts", 0)) + 1
    wait = min(DECODE_RETRY_FIRST * 2 ** (attempts - 1), DECODE_RETRY_LONGEST)
    retry = {"attempts": attempts, "next_try_at": (now + wait).isoformat()}
    vehicle.decode_data = {**(vehicle.decode_data or {}), **retry}
    db.session.commit()
    return vehicle_id, vin


def _record_retry(vehicle_id: int, vin: str, decoded: VinDecode, now: datetime) -> None:
    """Fill what is still empty from the decode; a vehicle edited meanwhile is left alone."""
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.vin != vin or vehicle.decode_state != "pending":
        db.session.commit()
        return
    if decoded.pending:
        vehicle.decode_data = {**vehicle.decode_data, "messages": decoded.messages}
    else:
        cleaned: dict[str, Any] = {}
        prefill_decoded(cleaned, decoded_values(vehicle), decoded)
        apply_values(vehicle, cleaned, now=now)
        vehicle.decode_state, vehicle.decode_data = decode_record(decoded)
    db.session.commit()
