"""Dealership settings: read everywhere, written by the admin."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, g

from dealer_leads.admin.models import Dealership
from dealer_leads.extensions import db

DEFAULT_HOURS = {
    "mon": ["09:00", "21:00"],
    "tue": ["09:00", "21:00"],
    "wed": ["09:00", "21:00"],
    "thu": ["09:00", "21:00"],
    "fri": ["09:00", "18:00"],
    "sat": ["09:00", "17:00"],
    "sun": None,
}


class InvalidSettings(ValueError):
    """Settings that cannot be saved; `fields` names the bad ones."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.fields = fields


_FIRST_DEALERSHIP = db.select(Dealership).order_by(Dealership.id).limit(1)


def get_dealership() -> Dealership:
    """The saved settings, or unsaved defaults from the configuration on a fresh install."""
    if "dealership" in g:
        return g.dealership
    dealership = db.session.scalar(_FIRST_DEALERSHIP)
    if dealership is None:
        config = current_app.config
        dealership = Dealership(
            name=config["DEALERSHIP_NAME"],
            timezone=config["DEALERSHIP_TIMEZONE"],
            country=config["DEALERSHIP_COUNTRY"],
            business_hours=dict(DEFAULT_HOURS),
            department_emails={},
            duplicate_window_days=30,
            auto_assign=True,
            compliance_regime="US" if config["DEALERSHIP_COUNTRY"] == "US" else "CA",
            quiet_start="09:00",
            quiet_end="20:00",
            holidays=[],
        )
    g.dealership = dealership
    return dealership


def dealership_zone() -> ZoneInfo:
    """The dealership's time zone, for showing and reasoning about local times."""
    try:
        return ZoneInfo(get_dealership().timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _hours_errors(values: dict) -> dict[str, str]:
    """Business hours, holidays and quiet hours checked by the compliance module that uses them."""
    from dealer_leads.messaging.compliance import (
        InvalidHours,
        hours_from_settings,
        quiet_hours_from_settings,
    )

    errors = {}
    zone = values.get("timezone") or "UTC"
    for day, span in (values.get("business_hours") or {}).items():
        try:
            hours_from_settings(zone, {day: span}, [])
        except (InvalidHours, ValueError) as error:
            errors[f"hours_{day}"] = f"{error} (write 09:00-21:00, or closed)"
    try:
        hours_from_settings(zone, {}, values.get("holidays") or [])
    except (InvalidHours, ValueError) as error:
        errors["holidays"] = str(error)
    if "quiet_start" in values:
        try:
            quiet_hours_from_settings(values["quiet_start"], values["quiet_end"], zone)
        except (InvalidHours, ValueError) as error:
            errors["quiet_start"] = f"{error} (write 09:00 and 20:00)"
    if values.get("compliance_regime", "CA") not in ("CA", "US"):
        errors["compliance_regime"] = "choose CA or US"
    return errors


def save_dealership(values: dict) -> Dealership:
    """Validate and store the settings the admin edited."""
    errors = {}
    try:
        ZoneInfo(values.get("timezone", ""))
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = "not a known time zone (e.g. America/Toronto)"
    window = values.get("duplicate_window_days")
    if not isinstance(window, int) or not 0 <= window <= 365:
        errors["duplicate_window_days"] = "a number of days from 0 to 365"
    if not values.get("name"):
        errors["name"] = "required"
    errors.update(_hours_errors(values))
    if errors:
        raise InvalidSettings("Some settings are not valid.", errors)
    dealership = get_dealership()
    for key, value in values.items():
        setattr(dealership, key, value)
    if dealership.business_hours is None or not dealership.business_hours:
        dealership.business_hours = dict(DEFAULT_HOURS)
    db.session.add(dealership)
    db.session.commit()
    return dealership
