"""Vehicles: create or update by VIN under the VIN policy, status changes, the stock list.

The same calls serve the pages, the API and the DMS import; the value rules and the VIN policy
are in `vehicle_values`. `apply_values` and `new_vehicle` only change objects; the public
services commit once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from dealer_leads.admin.services import dealership_zone
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.models import (
    CONDITIONS,
    IN_STOCK_STATUSES,
    VEHICLE_STATUSES,
    Vehicle,
)
from dealer_leads.inventory.vehicle_values import (
    DECODED_FIELDS,
    TEXT_LIMITS,
    InvalidVehicle,
    accept_vin,
    clean_one,
    clean_values,
)
from dealer_leads.inventory.vin import check_vin, normalize_vin
from dealer_leads.inventory.vpic import VinDecode

IN_STOCK = "in_stock"  # the list's default: every status but sold and hidden
ALL = "all"
MAX_SEARCH_WORDS = 8
MIN_VIN_PART = 4  # shorter parts of a VIN match too many vehicles to be a search

Decoder = Callable[[str], VinDecode]


class VehicleNotFound(LookupError):
    """No vehicle with that id or VIN."""


def changed_fields(vehicle: Vehicle, cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned values that differ from what the vehicle holds."""
    return {name: value for name, value in cleaned.items() if getattr(vehicle, name) != value}


def apply_values(vehicle: Vehicle, cleaned: Mapping[str, Any], *, now: datetime) -> bool:
    """Set the changed values (a status change keeps sold_at right); True when any changed."""
    changes = changed_fields(vehicle, cleaned)
    status = changes.pop("status", None)
    for name, value in changes.items():
        setattr(vehicle, name, value)
    if status is not None:
        _set_status(vehicle, status, now)
    return bool(changes) or status is not None


def _set_status(vehicle: Vehicle, status: str, now: datetime) -> None:
    arrived = vehicle.status == "in_transit" and status in ("available", "pending")
    if arrived and vehicle.in_stock_on is None:
        vehicle.in_stock_on = local_today(now)  # on the lot now: days in stock start counting
    vehicle.status = status
    vehicle.sold_at = (vehicle.sold_at or now) if status == "sold" else None


def local_today(now: datetime | None = None) -> date:
    """Today on the dealership's calendar, the one days in stock are counted on."""
    return (now or now_utc()).astimezone(dealership_zone()).date()


def stock_date_default(cleaned: Mapping[str, Any], today: date) -> dict[str, Any]:
    """A new vehicle's values with the date in stock defaulted to today; one in transit is not
    on the lot yet, so it gets its date when it arrives."""
    if cleaned.get("in_stock_on") is not None or cleaned.get("status") == "in_transit":
        return dict(cleaned)
    return {**cleaned, "in_stock_on": today}


def new_vehicle(vin: str) -> Vehicle:
    """A vehicle with the model's defaults filled in now (they are needed before the flush)."""
    return Vehicle(
        vin=vin,
        condition="new",
        status="available",
        odometer_unit="km",
        options=[],
        decode_data={},
        decode_state="",
        vin_override=False,
    )


# --- saving one vehicle ----------------------------------------------------------------------


def _vehicle_for(vin: str, vehicle_id: int | None, *, must_be_new: bool) -> Vehicle | None:
    """The vehicle being edited (by id) or the one holding this VIN; refuses a VIN clash."""
    holder = db.session.scalar(select(Vehicle).where(Vehicle.vin == vin))
    if vehicle_id is None:
        if holder is not None and must_be_new:
            problem = f"is vehicle #{holder.id} (stock # {holder.stock_number or '—'}) already"
            raise InvalidVehicle("This vehicle is in the inventory already.", {"vin": problem})
        return holder
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise VehicleNotFound(f"there is no vehicle #{vehicle_id}")
    if holder is not None and holder.id != vehicle.id:
        problem = f"belongs to vehicle #{holder.id} (stock # {holder.stock_number or '—'})"
        raise InvalidVehicle("This VIN belongs to another vehicle.", {"vin": problem})
    return vehicle


def _needs_decode(vehicle: Vehicle | None, vin: str, merged: Mapping[str, Any]) -> bool:
    if not any(merged.get(name) in (None, "") for name in DECODED_FIELDS):
        return False
    return vehicle is None or vehicle.vin != vin or vehicle.decode_state in ("", "pending")


def prefill_decoded(cleaned: dict[str, Any], merged: Mapping[str, Any], decoded: VinDecode) -> None:
    """Add to `cleaned` each decoded value whose field is empty in `merged`."""
    for name in DECODED_FIELDS:
        value = getattr(decoded, name)
        if merged.get(name) not in (None, "") or value in (None, ""):
            continue
        try:
            cleaned[name] = clean_one(name, str(value)[: TEXT_LIMITS.get(name, 10)])
        except ValueError:
            continue  # a decoded value our rules refuse is left for the person to fill


def decode_record(decoded: VinDecode) -> tuple[str, dict]:
    """(decode_state, decode_data) to keep on the vehicle."""
    state = "pending" if decoded.pending else ("decoded" if decoded.source == "vpic" else "offline")
    data = {name: getattr(decoded, name) for name in DECODED_FIELDS}
    return state, {"source": decoded.source, "messages": decoded.messages, **data}


def save_vehicle(
    values: Mapping[str, Any],
    *,
    override_vin: bool = False,
    vehicle_id: int | None = None,
    decoder: Decoder | None = None,
    must_be_new: bool = False,
) -> Vehicle:
    """Create or update a vehicle by VIN (or edit vehicle #vehicle_id), under the VIN policy.

    With a decoder, empty year/make/model/… are pre-filled from the VIN; when vPIC cannot be
    reached the vehicle is saved anyway with decode_state 'pending'. `must_be_new` refuses a
    VIN already in the inventory (the "new vehicle" page)."""
    return upsert_vehicle(
        values,
        override_vin=override_vin,
        vehicle_id=vehicle_id,
        decoder=decoder,
        must_be_new=must_be_new,
    )[0]


def upsert_vehicle(
    values: Mapping[str, Any],
    *,
    override_vin: bool = False,
    vehicle_id: int | None = None,
    decoder: Decoder | None = None,
    must_be_new: bool = False,
) -> tuple[Vehicle, bool]:
    """save_vehicle, also telling whether the vehicle was created (True) or updated."""
    cleaned = clean_values(values)
    vin = cleaned.pop("vin", "")
    vehicle = _vehicle_for(vin, vehicle_id, must_be_new=must_be_new) if vin else None
    confirmed = vehicle is not None and vehicle.vin == vin and vehicle.vin_override
    check = accept_vin(vin, override=override_vin, already_confirmed=confirmed)
    merged = {**decoded_values(vehicle), **cleaned}
    decoded = decoder(vin) if decoder and _needs_decode(vehicle, vin, merged) else None
    if decoded is not None:
        prefill_decoded(cleaned, merged, decoded)
    created = vehicle is None
    if vehicle is None:
        vehicle = new_vehicle(vin)
        db.session.add(vehicle)
        cleaned = stock_date_default(cleaned, local_today())
    if decoded is not None:
        vehicle.decode_state, vehicle.decode_data = decode_record(decoded)
    elif vehicle.vin != vin:
        vehicle.decode_state, vehicle.decode_data = "", {}  # decoded for the old VIN
    vehicle.vin, vehicle.vin_override = vin, check.needs_override
    apply_values(vehicle, cleaned, now=now_utc())
    _commit_vin(vin)
    return vehicle, created


def _commit_vin(vin: str) -> None:
    """Commit; a VIN saved by someone else in the same instant is a clear refusal, not a 500."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        problem = "was saved by someone else at the same moment; try again"
        raise InvalidVehicle(f"The VIN {vin} was just saved elsewhere.", {"vin": problem}) from None


def decoded_values(vehicle: Vehicle | None) -> dict[str, Any]:
    """The vehicle's fields a VIN decode fills (none for a new vehicle)."""
    if vehicle is None:
        return {}
    return {name: getattr(vehicle, name) for name in DECODED_FIELDS}


def change_status(vehicle_id: int, status: str, *, now: datetime | None = None) -> Vehicle:
    """Move a vehicle to another status: sold stamps sold_at, leaving sold clears it."""
    if status not in VEHICLE_STATUSES:
        problem = f"must be one of {', '.join(VEHICLE_STATUSES)}"
        raise InvalidVehicle(f"Unknown status {status!r}.", {"status": problem})
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise VehicleNotFound(f"there is no vehicle #{vehicle_id}")
    if vehicle.status != status:
        _set_status(vehicle, status, now or now_utc())
    db.session.commit()
    return vehicle


def preview_decode(vin: str, decoder: Decoder) -> dict[str, Any]:
    """What the form's "Decode VIN" button shows: the VIN's check and the decoded fields."""
    check = check_vin(vin)
    decoded = decoder(check.vin) if check.valid else None
    return {
        "vin": check.vin,
        "valid": check.valid,
        "errors": check.errors,
        "warnings": check.warnings,
        "needs_override": check.needs_override,
        "source": decoded.source if decoded else "",
        "pending": bool(decoded and decoded.pending),
        "messages": decoded.messages if decoded else [],
        "fields": {n: getattr(decoded, n) for n in DECODED_FIELDS} if decoded else {},
    }


# --- reading ---------------------------------------------------------------------------------


def get_vehicle(vehicle_id: int) -> Vehicle:
    """The vehicle, or VehicleNotFound."""
    vehicle = db.session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise VehicleNotFound(f"there is no vehicle #{vehicle_id}")
    return vehicle


def get_vehicle_by_vin(vin: str) -> Vehicle:
    """The vehicle with this VIN (case, spaces and dashes do not matter), or VehicleNotFound."""
    vehicle = db.session.scalar(select(Vehicle).where(Vehicle.vin == normalize_vin(vin)))
    if vehicle is None:
        raise VehicleNotFound(f"there is no vehicle with the VIN {normalize_vin(vin)}")
    return vehicle


def days_in_stock(vehicle: Vehicle, today: date) -> int | None:
    """Days on the lot: from the date in stock to today, or to the day it sold."""
    if vehicle.in_stock_on is None:
        return None
    until = vehicle.sold_at.date() if vehicle.sold_at is not None else today
    return max(0, (until - vehicle.in_stock_on).days)


@dataclass
class VehicleFilters:
    """What the list was narrowed to; status '' is taken as in stock."""

    status: str = IN_STOCK
    condition: str = ""
    make: str = ""
    year_from: int | None = None
    year_to: int | None = None
    search: str = ""


@dataclass
class VehiclePage:
    items: list[Vehicle]
    total: int
    page: int
    per_page: int
    makes: list[str] = field(default_factory=list)
    args: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def url_args(self, page: int) -> str:
        return urlencode({**{k: v for k, v in self.args.items() if v}, "page": page})


def _status_condition(status: str):
    if status in VEHICLE_STATUSES:
        return Vehicle.status == status
    if status == ALL:
        return None
    return Vehicle.status.in_(IN_STOCK_STATUSES)


def _search_condition(term: str):
    """Every word must match the year, make, model, trim, stock number or VIN (any part)."""
    words = term.split()[:MAX_SEARCH_WORDS]
    return and_(*(_word_condition(word) for word in words))


def _searchable_text():
    """Make, model, trim and stock number in one lower-case text: one LIKE a row, not four.
    A search word has no space in it, so it cannot match across two of them."""
    parts = (Vehicle.make, Vehicle.model, Vehicle.trim, Vehicle.stock_number)
    return func.lower(parts[0] + " " + parts[1] + " " + parts[2] + " " + parts[3])


def _word_condition(word: str):
    pattern = f"%{_escaped(word.lower())}%"
    matches = [_searchable_text().like(pattern, escape="\\")]
    if word.isdecimal() and len(word) == 4:
        matches.append(Vehicle.year == int(word))
    vin = normalize_vin(word)
    if len(vin) == 17:
        matches.append(Vehicle.vin == vin)  # a whole VIN: the unique index answers
    elif len(vin) >= MIN_VIN_PART and not set(vin) & set("IOQ"):
        matches.append(Vehicle.vin.like(f"%{_escaped(vin)}%", escape="\\"))
    return or_(*matches)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(filters: VehicleFilters) -> list:
    conditions = [_status_condition(filters.status)]
    if filters.condition in CONDITIONS:
        conditions.append(Vehicle.condition == filters.condition)
    if filters.make:
        conditions.append(func.lower(Vehicle.make) == filters.make.lower())
    if filters.year_from is not None:
        conditions.append(Vehicle.year >= filters.year_from)
    if filters.year_to is not None:
        conditions.append(Vehicle.year <= filters.year_to)
    if filters.search.strip():
        conditions.append(_search_condition(filters.search.strip()))
    return [condition for condition in conditions if condition is not None]


def list_vehicles(filters: VehicleFilters, page: int = 1, per_page: int = 50) -> VehiclePage:
    """Vehicles newest in stock first (in transit last), filtered and paged, in three queries:
    the count, the page, and the makes for the filter."""
    page, per_page = max(1, page), max(1, min(per_page, 200))
    conditions = _conditions(filters)
    total = db.session.scalar(select(func.count(Vehicle.id)).where(*conditions)) or 0
    items = db.session.scalars(
        select(Vehicle)
        .where(*conditions)
        .order_by(Vehicle.in_stock_on.desc().nulls_last(), Vehicle.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return VehiclePage(list(items), total, page, per_page, makes=list_makes())


def list_makes() -> list[str]:
    """Every make in the inventory, for the list's filter."""
    makes = select(Vehicle.make).where(Vehicle.make != "").distinct().order_by(Vehicle.make)
    return list(db.session.scalars(makes))
