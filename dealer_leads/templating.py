"""Template filters and globals: local times, durations, navigation by role."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import dealership_zone, get_dealership
from dealer_leads.database import now_utc

NAVIGATION = {
    "supervisor": [
        ("reports.dashboard", "Dashboard"),
        ("leads.queue", "Queue"),
        ("cadence.tasks", "Tasks"),
        ("appointments.board", "Appointments"),
        ("leads.review", "Needs review"),
        ("mailbox.index", "Mailbox"),
        ("leads.new", "New lead"),
        ("customers.index", "Customers"),
        ("inventory.index", "Inventory"),
        ("photos.needed", "Photos needed"),
        ("cadence.plans", "Plans"),
        ("cadence.missed", "Missed steps"),
        ("cadence.flagged", "Flagged steps"),
        ("templates_admin.index", "Templates"),
        ("merge.merges", "Merges"),
        ("promotions.index", "Promotions"),
        ("directory.index", "Staff"),
    ],
    "advisor": [
        ("appointments.board", "My appointments"),
        ("leads.queue", "My leads"),
        ("cadence.tasks", "My tasks"),
        ("leads.new", "New lead"),
        ("inventory.index", "Inventory"),
        ("directory.index", "Staff"),
    ],
    "webmaster": [
        ("inventory.index", "Inventory"),
        ("photos.needed", "Photos needed"),
        ("inventory.import_upload", "DMS import"),
        ("feeds.index", "Feeds"),
        ("promotions.index", "Promotions"),
        ("inquiry.embed_code", "Inquiry form"),
        ("api_keys.index", "API keys"),
        ("directory.index", "Staff"),
    ],
    "admin": [
        ("leads.queue", "Queue"),
        ("cadence.tasks", "Tasks"),
        ("leads.review", "Needs review"),
        ("inventory.index", "Inventory"),
        ("inventory.import_upload", "DMS import"),
        ("cadence.plans", "Plans"),
        ("cadence.flagged", "Flagged steps"),
        ("templates_admin.index", "Templates"),
        ("merge.merges", "Merges"),
        ("reports.dashboard", "Dashboard"),
        ("customers.index", "Customers"),
        ("appointments.board", "Appointments"),
        ("mailbox.index", "Mailbox"),
        ("feeds.index", "Feeds"),
        ("promotions.index", "Promotions"),
        ("admin.users", "Users"),
        ("directory.index", "Staff"),
        ("admin.settings", "Settings"),
        ("api_keys.index", "API keys"),
    ],
}


def local_time(value: datetime | None, fmt: str = "%b %d, %H:%M") -> str:
    """A UTC datetime in the dealership's zone."""
    if value is None:
        return ""
    return value.astimezone(dealership_zone()).strftime(fmt)


def duration(seconds: float | None) -> str:
    """'4 min', '2 h 05 min', '3 d 4 h' — how long a response took or is taking."""
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def navigation() -> list[tuple[str, str, bool]]:
    if not current_user.is_authenticated:
        return []
    items = NAVIGATION.get(current_user.role, [])
    return [(url_for(endpoint), label, request.endpoint == endpoint) for endpoint, label in items]


def register(app: Flask) -> None:
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals.update(navigation=navigation, now_utc=now_utc, dealership=get_dealership)
