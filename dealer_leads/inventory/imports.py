"""DMS imports: preview a CSV file against the stock, then apply it in one transaction.

Rows are matched by VIN, or by stock number when a row has no VIN. A row with an error is
skipped and listed; any failed row makes the import partial, and a partial import marks
nothing sold. Only a complete import without failures marks the in-stock vehicles missing from
the file as sold. Applying the same file again changes nothing. The preview and the apply run
the same plan, so what the preview shows is what the apply does.

A sold vehicle the file lists again comes back into stock (available, sold_at cleared) when its
row says nothing of its status and either an import sold it (its sold_at is the finished_at of a
complete import that marked vehicles sold: both are stamped with the same instant) or the row
gives it another stock number (the dealer took it in again). A sale made by hand stays a sale
unless the file's status column says otherwise. New vehicles without a date in stock get today.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import defer

from dealer_leads.auth.models import User
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.csv_import import (
    CsvTable,
    InvalidMapping,
    RowValues,
    UnreadableFile,
    check_mapping,
    read_row,
    read_table,
    suggest_mapping,
)
from dealer_leads.inventory.models import IN_STOCK_STATUSES, InventoryImport, Vehicle
from dealer_leads.inventory.services import (
    apply_values,
    changed_fields,
    local_today,
    new_vehicle,
    stock_date_default,
)

MAX_STORED_ERRORS = 1000
PROBLEM_ROWS_SHOWN = 500
SAMPLE_ROWS_SHOWN = 20
ACCEPT_HINT = "Tick “Accept VINs without a check digit” if they are right."


class InvalidImport(ValueError):
    """A file or mapping that cannot be imported; `fields` names what to fix."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message, self.fields = message, fields or {}


class MappingChanged(InvalidImport):
    """The apply came with another mapping: it was stored, nothing was imported yet."""


class ImportNotFound(LookupError):
    """No import with that id."""


class ImportFailed(RuntimeError):
    """The database refused the import; it was rolled back and recorded as failed."""


@dataclass
class RowPlan:
    """What applying one row will do: create, update, unchanged, or error (skipped)."""

    read: RowValues
    action: str
    vehicle: Vehicle | None = None
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> int:
        return self.read.row

    @property
    def errors(self) -> dict[str, str]:
        return self.read.errors

    @property
    def flagged(self) -> bool:
        return bool(self.read.errors or self.read.formulas or self.read.vin_warnings)


@dataclass
class ImportPlan:
    """The file read through the mapping, row by row, against the stock as it is now."""

    table: CsvTable
    mapping: dict[str, str]
    rows: list[RowPlan]
    missing: list[Vehicle]  # in stock but not in the file: marked sold by a complete import

    @property
    def counts(self) -> Counter:
        return Counter(row.action for row in self.rows)

    @property
    def failed(self) -> int:
        return self.counts["error"]

    @property
    def back_in_stock(self) -> list[RowPlan]:
        """Rows that bring a sold vehicle back into stock."""
        return [
            row
            for row in self.rows
            if row.vehicle is not None
            and row.vehicle.status == "sold"
            and row.changes.get("status", "sold") != "sold"
        ]

    @property
    def formula_cells(self) -> int:
        return sum(len(row.read.formulas) for row in self.rows)

    @property
    def problem_rows(self) -> list[RowPlan]:
        return [row for row in self.rows if row.flagged][:PROBLEM_ROWS_SHOWN]

    @property
    def sample_rows(self) -> list[RowPlan]:
        return self.rows[:SAMPLE_ROWS_SHOWN]


@dataclass
class ImportPreview:
    record: InventoryImport
    plan: ImportPlan | None
    mapping_problems: dict[str, str] = field(default_factory=dict)


# --- planning --------------------------------------------------------------------------------


class _Stock:
    """Every vehicle, by VIN and by stock number, and which ones the file has named so far."""

    def __init__(self) -> None:
        self.today = local_today()
        self.vehicles = list(db.session.scalars(select(Vehicle).order_by(Vehicle.id)))
        self.import_sales = set(
            db.session.scalars(
                select(InventoryImport.finished_at).where(
                    InventoryImport.complete.is_(True),
                    InventoryImport.status == "applied",
                    InventoryImport.marked_sold > 0,
                )
            )
        )
        self.by_vin = {vehicle.vin: vehicle for vehicle in self.vehicles}
        self.by_stock: dict[str, list[Vehicle]] = defaultdict(list)
        for vehicle in self.vehicles:
            if vehicle.stock_number:
                self.by_stock[vehicle.stock_number.upper()].append(vehicle)
        self.vin_rows: dict[str, int] = {}
        self.vehicle_rows: dict[int, int] = {}

    def match(self, read: RowValues) -> Vehicle | None:
        """The vehicle this row is about; records a row problem when the match is unsafe."""
        vin = read.values.get("vin", "")
        if vin:
            if vin in self.vin_rows:
                read.errors["vin"] = f"is also on row {self.vin_rows[vin]}"
                return None
            self.vin_rows[vin] = read.row
            return self._claim(read, self.by_vin.get(vin))
        stock = str(read.values.get("stock_number", ""))
        found = self.by_stock.get(stock.upper(), [])
        if len(found) != 1:
            read.errors["stock_number"] = (
                f"has no VIN, and {len(found) or 'no'} vehicles have stock # {stock}: add the VIN"
            )
            return None
        return self._claim(read, found[0])

    def _claim(self, read: RowValues, vehicle: Vehicle | None) -> Vehicle | None:
        if vehicle is None:
            return None
        if vehicle.id in self.vehicle_rows:
            read.errors["row"] = f"is the same vehicle as row {self.vehicle_rows[vehicle.id]}"
            return None
        self.vehicle_rows[vehicle.id] = read.row
        return vehicle

    def returns_to_stock(self, vehicle: Vehicle, values: Mapping[str, Any]) -> bool:
        """A sold vehicle listed again, its row silent on status: sold by an import (it was
        missing from a complete list then), or taken in again under another stock number."""
        if vehicle.status != "sold" or "status" in values:
            return False
        stock = str(values.get("stock_number", "")).upper()
        relisted = bool(stock and vehicle.stock_number) and stock != vehicle.stock_number.upper()
        return relisted or vehicle.sold_at in self.import_sales


def _plan_row(read: RowValues, stock: _Stock, accept_vin_warnings: bool) -> RowPlan:
    vehicle = stock.match(read) if "vin" not in read.errors else None
    confirmed = vehicle is not None and vehicle.vin_override
    if read.vin_warnings and not (accept_vin_warnings or confirmed):
        read.errors["vin"] = " ".join(read.vin_warnings) + " " + ACCEPT_HINT
    if read.errors:
        return RowPlan(read, "error", vehicle)
    values = {name: value for name, value in read.values.items() if name != "vin"}
    if vehicle is None:
        return RowPlan(read, "create", None, stock_date_default(values, stock.today))
    if stock.returns_to_stock(vehicle, values):
        values["status"] = "available"
    changes = changed_fields(vehicle, values)
    return RowPlan(read, "update" if changes else "unchanged", vehicle, changes)


def plan_import(
    table: CsvTable, mapping: Mapping[str, str], *, accept_vin_warnings: bool = False
) -> ImportPlan:
    """Read every row through the mapping and match it against the stock; changes nothing."""
    stock = _Stock()
    rows = [
        _plan_row(read_row(table.columns, mapping, number, cells), stock, accept_vin_warnings)
        for number, cells in table.rows
    ]
    missing = [
        vehicle
        for vehicle in stock.vehicles
        if vehicle.status in IN_STOCK_STATUSES and vehicle.id not in stock.vehicle_rows
    ]
    return ImportPlan(table, dict(mapping), rows, missing)


def _error_list(plan: ImportPlan) -> list[dict]:
    errors = [
        {"row": row.row, "field": name, "message": message}
        for row in plan.rows
        for name, message in row.errors.items()
    ]
    return errors[:MAX_STORED_ERRORS]


def _table(raw: bytes) -> CsvTable:
    try:
        table = read_table(raw)
    except UnreadableFile as error:
        raise InvalidImport(str(error), {"file": str(error)}) from None
    if not table.rows:
        raise InvalidImport("The file has a header but no vehicles.", {"file": "has no rows"})
    return table


def _checked_mapping(columns: list[str], mapping: Mapping[str, str]) -> dict[str, str]:
    try:
        return check_mapping(columns, mapping)
    except InvalidMapping as error:
        raise InvalidImport(error.message, error.fields) from None


def _with_overrides(columns: list[str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The suggested mapping with some columns mapped by hand (a field moves to its new column)."""
    mapping = suggest_mapping(columns)
    taken = {name for name in overrides.values() if name}
    mapping = {column: name for column, name in mapping.items() if name not in taken}
    mapping.update(overrides)
    return _checked_mapping(columns, mapping)


# --- the services ----------------------------------------------------------------------------


def preview_import(
    raw: bytes, filename: str, mapping: Mapping[str, str] | None = None, *, user: User | None = None
) -> InventoryImport:
    """Store a file as received with its mapping and what a preview found; imports nothing.

    Without a mapping the columns are mapped from their header names; a mapping given maps
    those columns by hand on top of that suggestion."""
    table = _table(raw)
    if mapping is None:
        chosen = suggest_mapping(table.columns)
    else:
        chosen = _with_overrides(table.columns, mapping)
    record = InventoryImport(
        filename=filename[-200:], raw=raw, mapping=chosen, status="previewed", complete=False
    )
    record.user_id = user.id if user is not None else None
    _note_preview(record, plan_import(table, chosen))
    db.session.add(record)
    db.session.commit()
    return record


def _note_preview(record: InventoryImport, plan: ImportPlan) -> None:
    record.rows_total = len(plan.rows)
    record.rows_failed = plan.failed
    record.errors = _error_list(plan)


def _record(import_id: int, *, for_update: bool = False) -> InventoryImport:
    record = db.session.get(InventoryImport, import_id, with_for_update=for_update)
    if record is None:
        raise ImportNotFound(f"there is no import #{import_id}")
    return record


def _open_record(import_id: int) -> InventoryImport:
    record = _record(import_id, for_update=True)
    if record.status != "previewed":
        raise InvalidImport(f"Import #{import_id} was applied already ({record.status}).")
    return record


def get_import_preview(import_id: int) -> ImportPreview:
    """The stored file read through its mapping against today's stock; once applied, only the
    stored outcome (plan None)."""
    record = _record(import_id)
    if record.status != "previewed":
        return ImportPreview(record, None)
    table = _table(record.raw)
    problems: dict[str, str] = {}
    try:
        check_mapping(table.columns, record.mapping)
    except InvalidMapping as error:
        problems = error.fields
    return ImportPreview(record, plan_import(table, record.mapping), problems)


def remap_import(import_id: int, mapping: Mapping[str, str]) -> InventoryImport:
    """Store another column mapping for a previewed import."""
    record = _open_record(import_id)
    table = _table(record.raw)
    record.mapping = _checked_mapping(table.columns, mapping)
    _note_preview(record, plan_import(table, record.mapping))
    db.session.commit()
    return record


def apply_import(
    import_id: int,
    *,
    complete: bool,
    user: User | None,
    mapping: Mapping[str, str] | None = None,
    accept_vin_warnings: bool = False,
) -> InventoryImport:
    """Apply a previewed import in one transaction; see the module's docstring for the rules.

    A mapping other than the stored one is stored instead and MappingChanged raised, so that
    nobody imports through a mapping they have not seen previewed."""
    record = _open_record(import_id)
    table = _table(record.raw)
    if mapping is not None and _checked_mapping(table.columns, mapping) != record.mapping:
        remap_import(import_id, mapping)
        raise MappingChanged("The column mapping changed: check the new preview, then import.")
    _checked_mapping(table.columns, record.mapping)
    plan = plan_import(table, record.mapping, accept_vin_warnings=accept_vin_warnings)
    try:
        _apply(record, plan, complete=complete, user=user, now=now_utc())
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        _record_failure(import_id, error)
        raise ImportFailed(f"Import #{import_id} failed and changed nothing: {error}") from None
    return record


def _apply(
    record: InventoryImport, plan: ImportPlan, *, complete: bool, user: User | None, now: datetime
) -> None:
    created = updated = 0
    for row in plan.rows:
        if row.action == "create":
            vehicle = new_vehicle(row.read.values["vin"])
            vehicle.vin_override = bool(row.read.vin_warnings)
            apply_values(vehicle, row.changes, now=now)
            db.session.add(vehicle)
            created += 1
        elif row.action == "update" and row.vehicle is not None:
            apply_values(row.vehicle, row.changes, now=now)
            updated += 1
    sold = _mark_sold(plan, now) if complete and not plan.failed else 0
    _note_preview(record, plan)
    record.rows_created, record.rows_updated, record.marked_sold = created, updated, sold
    record.status = "partial" if plan.failed else "applied"
    record.complete, record.finished_at = complete, now
    record.user_id = user.id if user is not None else record.user_id


def _mark_sold(plan: ImportPlan, now: datetime) -> int:
    for vehicle in plan.missing:
        apply_values(vehicle, {"status": "sold"}, now=now)
    return len(plan.missing)


def _record_failure(import_id: int, error: Exception) -> None:
    record = _record(import_id)
    record.status, record.finished_at = "failed", now_utc()
    record.errors = [{"row": None, "field": "", "message": f"{type(error).__name__}: {error}"}]
    db.session.commit()


def list_imports(limit: int = 10) -> list[InventoryImport]:
    """The latest imports, newest first, without their files."""
    query = (
        select(InventoryImport)
        .options(defer(InventoryImport.raw))
        .order_by(InventoryImport.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))
