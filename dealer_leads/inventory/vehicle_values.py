"""Vehicle values: the rules every entry point shares, and the VIN policy. Pure: no database.

Values come in loosely typed (a form's ints and Decimals, JSON numbers, CSV text) and leave
typed, or an InvalidVehicle names each field with its problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dealer_leads.inventory.models import CONDITIONS, ODOMETER_UNITS, VEHICLE_STATUSES
from dealer_leads.inventory.vin import VinCheck, check_vin, normalize_vin

TEXT_LIMITS = {
    "stock_number": 30,
    "make": 50,
    "model": 50,
    "trim": 80,
    "body_style": 40,
    "exterior_color": 50,
    "interior_color": 50,
    "drivetrain": 30,
    "fuel": 30,
    "transmission": 30,
    "description": 20_000,
}
CHOICES = {"condition": CONDITIONS, "status": VEHICLE_STATUSES, "odometer_unit": ODOMETER_UNITS}
DECODED_FIELDS = ("year", "make", "model", "trim", "body_style", "drivetrain", "fuel")
DECODED_FIELDS += ("transmission",)
VEHICLE_FIELDS = ("vin", "stock_number", "year", "make", "model", "trim", "body_style")
VEHICLE_FIELDS += ("condition", "odometer", "odometer_unit", "exterior_color", "interior_color")
VEHICLE_FIELDS += ("drivetrain", "fuel", "transmission", "price", "msrp", "status")
VEHICLE_FIELDS += ("in_stock_on", "options", "description")
MAX_OPTIONS, MAX_OPTION_LENGTH = 200, 200
MAX_PRICE = Decimal("9999999999.99")
MAX_ODOMETER = 3_000_000


class InvalidVehicle(ValueError):
    """Values that cannot be saved; `fields` names each field with its problem."""

    def __init__(self, message: str, fields: dict[str, str], *, needs_override: bool = False):
        super().__init__(message)
        self.message, self.fields, self.needs_override = message, fields, needs_override


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _whole(value: Any, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    text = (
        str(value) if isinstance(value, int | float | Decimal) else re.sub(r"[\s,]", "", str(value))
    )
    if isinstance(value, bool) or not re.fullmatch(r"-?\d{1,12}(\.0*)?", text):
        raise ValueError("must be a whole number")
    number = int(Decimal(text))
    if not low <= number <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return number


def _money(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("must be an amount like 27995.00")
    text = re.sub(r"[\s,$]", "", str(value))
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("must be an amount like 27995.00") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        raise ValueError("must be an amount from 0 to 9,999,999,999.99")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("has more than two decimals")
    return amount.quantize(Decimal("0.01"))


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError("must be a date like 2026-01-31") from None


def _options(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = re.split(r"[\r\n|]+", value)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of texts")
    options = [option.strip() for option in value if option.strip()]
    if len(options) > MAX_OPTIONS or any(len(o) > MAX_OPTION_LENGTH for o in options):
        raise ValueError(f"at most {MAX_OPTIONS} options of {MAX_OPTION_LENGTH} characters")
    return options


def clean_one(name: str, value: Any) -> Any:
    """One field's typed value; raises ValueError with the problem (the field is the caller's)."""
    if name in TEXT_LIMITS:
        if not isinstance(value, str | int | float | Decimal | None):
            raise ValueError("must be text")
        text = _text(value)
        if len(text) > TEXT_LIMITS[name]:
            raise ValueError(f"must be at most {TEXT_LIMITS[name]} characters")
        return text
    if name in CHOICES:
        choice = _text(value).lower()
        if choice not in CHOICES[name]:
            raise ValueError(f"must be one of {', '.join(CHOICES[name])}")
        return choice
    if name == "year":
        return _whole(value, 1900, date.today().year + 2)
    if name == "odometer":
        return _whole(value, 0, MAX_ODOMETER)
    if name in ("price", "msrp"):
        return _money(value)
    if name == "in_stock_on":
        return _day(value)
    return _options(value)


def clean_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed values for the vehicle fields given; raises InvalidVehicle naming each bad one.

    Keys left out stay as they are on an update. An empty choice (condition, status, unit) is
    taken as not given, so a blank select never wipes a value."""
    cleaned: dict[str, Any] = {}
    problems: dict[str, str] = {}
    unknown = sorted(set(values) - set(VEHICLE_FIELDS))
    for name in unknown:
        problems[name] = "is not a vehicle field"
    for name in VEHICLE_FIELDS:
        if name not in values or (name in CHOICES and _text(values[name]) == ""):
            continue
        if name == "vin":
            cleaned["vin"] = normalize_vin(_text(values["vin"]))
            continue
        try:
            cleaned[name] = clean_one(name, values[name])
        except ValueError as error:
            problems[name] = str(error)
    if problems:
        raise InvalidVehicle(_summary(problems), problems)
    return cleaned


def _summary(problems: Mapping[str, str]) -> str:
    return "Check " + ", ".join(name.replace("_", " ") for name in problems) + "."


# --- the VIN policy -----------------------------------------------------------------------


def accept_vin(vin: str, *, override: bool, already_confirmed: bool = False) -> VinCheck:
    """The VIN's check when it may be saved; raises InvalidVehicle otherwise.

    Errors refuse the VIN. Warnings (a maker without a check digit) need a person's override,
    given now or when this same VIN was saved before."""
    if not vin:
        raise InvalidVehicle("A VIN is required.", {"vin": "is required"})
    check = check_vin(vin)
    if not check.valid:
        raise InvalidVehicle("The VIN is not valid.", {"vin": " ".join(check.errors)})
    if check.needs_override and not (override or already_confirmed):
        problem = " ".join(check.warnings)
        raise InvalidVehicle("The VIN needs a confirmation.", {"vin": problem}, needs_override=True)
    return check
