"""Builders for realistic test data through the real intake service."""

from __future__ import annotations

import json
from datetime import datetime
from itertools import count

from dealer_leads.leads.ingest import process_inbound, store_inbound

_numbers = count(1)


def lead_json(**overrides) -> dict:
    """A JSON lead as a provider would post it; override any top-level key."""
    n = next(_numbers)
    body = {
        "source": "Cars.com",
        "provider_lead_id": f"CC-{n:06d}",
        "customer": {
            "first_name": "Dana",
            "last_name": f"Tremblay{n}",
            "email": f"dana{n}@example.com",
            "phone": f"416-3{n % 100:02d}-{n % 10000:04d}",
        },
        "vehicles": [
            {
                "interest": "buy",
                "status": "new",
                "year": 2025,
                "make": "Honda",
                "model": "CR-V",
                "trim": "EX-L",
            }
        ],
        "comments": "Is it still available?",
    }
    body.update(overrides)
    return body


def ingest(
    body: dict | None = None, *, now: datetime | None = None, channel: str = "api", **overrides
):
    """Store and process one JSON lead; returns the first IntakeResult."""
    raw = json.dumps(body if body is not None else lead_json(**overrides)).encode()
    inbound = store_inbound(channel, raw, content_type="application/json")
    return process_inbound(inbound.id, now=now)[0]
