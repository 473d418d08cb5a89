"""Helpers for the appointment tests (import: from appointments.helpers import ...)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dealer_leads.database import now_utc
from dealer_leads.extensions import db

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


def begun(appointment, minutes_ago: int = 5) -> date:
    """Let a booked visit have begun a few minutes ago, as if the clock had moved on (the
    service refuses to book in the past, and marks depend on the start); its Toronto date."""
    length = appointment.ends_at - appointment.starts_at
    appointment.starts_at = now_utc().replace(microsecond=0) - timedelta(minutes=minutes_ago)
    appointment.ends_at = appointment.starts_at + length
    db.session.commit()
    return appointment.starts_at.astimezone(TORONTO).date()
