"""Helpers for the appointment tests (import: from appointments.helpers import ...)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dealer_leads.database import now_utc

TORONTO = ZoneInfo("America/Toronto")
EVERY_DAY = {day: ["09:00", "21:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}


class FakeMail:
    """Records the messages it is given."""

    def __init__(self):
        self.sent = []
        self.ids = itertools.count(1)

    def send(self, message) -> str:
        self.sent.append(message)
        return message["Message-ID"] or f"<{next(self.ids)}@test>"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall time in Toronto, as UTC."""
    return datetime.combine(day, time(hour, minute), TORONTO).astimezone(UTC)


def next_weekday(after: date | None = None, days: int = 1) -> date:
    """A Monday-to-Saturday date at least `days` after `after` (default: today in Toronto)."""
    day = (after or now_utc().astimezone(TORONTO).date()) + timedelta(days=days)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day
