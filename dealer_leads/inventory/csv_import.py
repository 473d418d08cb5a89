"""DMS CSV files: decode, sniff the delimiter, find the header, suggest a mapping, read rows.

Pure functions on bytes and text: no database, no Flask. Cells are never evaluated: a cell that
looks like a spreadsheet formula (=, +, -, @ first) is kept exactly as given and flagged, so a
person sees it in the preview and nothing downstream mistakes it for a number.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dealer_leads.inventory.vehicle_values import clean_one
from dealer_leads.inventory.vin import check_vin, normalize_vin

IMPORT_FIELDS = {
    "vin": "VIN",
    "stock_number": "Stock #",
    "year": "Year",
    "make": "Make",
    "model": "Model",
    "trim": "Trim",
    "body_style": "Body style",
    "condition": "Condition (new, used, certified)",
    "odometer": "Odometer",
    "odometer_unit": "Odometer unit (km, mi)",
    "exterior_color": "Exterior colour",
    "interior_color": "Interior colour",
    "drivetrain": "Drivetrain",
    "fuel": "Fuel",
    "transmission": "Transmission",
    "price": "Price",
    "msrp": "MSRP",
    "status": "Status",
    "in_stock_on": "Date in stock",
    "options": "Options",
    "description": "Description",
}
# Header names DMS exports use (lower case, letters and digits only), best first per field.
HEADER_ALIASES = {
    "vin": "vin vinnumber vehiclevin vehicleidentificationnumber serialnumber",
    "stock_number": "stocknumber stock stockno stocknum stk stkno stockid",
    "year": "year modelyear yr vehicleyear",
    "make": "make manufacturer brand division",
    "model": "model modelname",
    "trim": "trim series trimlevel modeltrim",
    "body_style": "bodystyle body bodytype bodyclass",
    "condition": "condition newused newusedcpo neworused type vehicletype stocktype inventorytype",
    "odometer": "odometer mileage km kms kilometres kilometers miles odometerreading odo",
    "odometer_unit": "odometerunit odometerunits mileageunit distanceunit unit units",
    "exterior_color": "extcolor exteriorcolor exteriorcolour extcolour color colour exterior",
    "interior_color": "intcolor interiorcolor interiorcolour intcolour interior",
    "drivetrain": "drivetrain drivetype drive",
    "fuel": "fuel fueltype",
    "transmission": "transmission trans transmissiontype",
    "price": "internetprice price sellingprice saleprice askingprice webprice listprice",
    "msrp": "msrp retailprice stickerprice sticker",
    "status": "status vehiclestatus stockstatus inventorystatus",
    "in_stock_on": "dateinstock instockdate stockdate datereceived receiveddate instock dateadded",
    "options": "options features equipment optionlist",
    "description": "description vehicledescription comments sellernotes dealercomments notes",
}
ALIAS_RANK = {
    alias: (name, rank)
    for name, aliases in HEADER_ALIASES.items()
    for rank, alias in enumerate(aliases.split())
}
CONDITION_WORDS = {"new": "new", "n": "new", "used": "used", "u": "used", "preowned": "used"}
CONDITION_WORDS |= dict.fromkeys(("certified", "cpo", "c", "certifiedpreowned"), "certified")
CONDITION_WORDS |= {"certifiedused": "certified"}
STATUS_WORDS = dict.fromkeys(("available", "instock", "a", "active", "forsale"), "available")
STATUS_WORDS |= dict.fromkeys(("intransit", "transit", "t", "onorder", "ordered"), "in_transit")
STATUS_WORDS |= dict.fromkeys(("pending", "salepending", "deposit", "onhold", "hold"), "pending")
STATUS_WORDS |= dict.fromkeys(("sold", "s", "delivered"), "sold")
STATUS_WORDS |= {"hidden": "hidden", "p": "pending"}
UNIT_WORDS = dict.fromkeys(("km", "kms", "kilometres", "kilometers", "k"), "km")
UNIT_WORDS |= dict.fromkeys(("mi", "mile", "miles"), "mi")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = (",", ";", "\t", "|")
MAX_ROWS = 50_000
MAX_COLUMNS = 200
HEADER_SEARCH_ROWS = 10


class UnreadableFile(ValueError):
    """A file that is not CSV text this import can read; the message says what to do."""


class InvalidMapping(ValueError):
    """A column mapping that cannot be used; `fields` names each column with its problem."""

    def __init__(self, message: str, fields: dict[str, str]):
        super().__init__(message)
        self.message, self.fields = message, fields


@dataclass
class CsvTable:
    """A decoded file: its column names and data rows, each with its row number in the file."""

    columns: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str
    delimiter: str
    header_row: int | None  # None: the file has no header, columns are "Column 1", …
    warnings: list[str] = field(default_factory=list)


@dataclass
class RowValues:
    """One data row read through the mapping: values ready for the vehicle rules."""

    row: int
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    formulas: dict[str, str] = field(default_factory=dict)  # column: cell that looks like a formula
    vin_warnings: list[str] = field(default_factory=list)  # acceptable once a person confirms


# --- bytes to a table ------------------------------------------------------------------------


def decode_bytes(raw: bytes) -> tuple[str, str, list[str]]:
    """(text, encoding, warnings): UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252."""
    if not raw.strip():
        raise UnreadableFile("The file is empty.")
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise UnreadableFile(
            "This is a spreadsheet workbook (.xlsx or .xls), not CSV text: "
            "save it as “CSV UTF-8” and upload that."
        )
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _checked(_decode(raw, "utf-16"), "utf-16", [])
    if b"\x00" in raw:
        raise UnreadableFile("This is a binary file, not CSV text: export the stock list as CSV.")
    try:
        return _checked(raw.decode("utf-8-sig"), "utf-8", [])
    except UnicodeDecodeError:
        warning = (
            "The file is not UTF-8; it was read as Windows-1252 (Western European). "
            "Check accented letters in the preview."
        )
        return _checked(_decode(raw, "cp1252"), "cp1252", [warning])


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"The file is not UTF-8, UTF-16 or Windows-1252 text (byte 0x{raw[error.start]:02X} "
            f"at position {error.start} cannot be read): save it as “CSV UTF-8”."
        ) from None


def _checked(text: str, encoding: str, warnings: list[str]) -> tuple[str, str, list[str]]:
    controls = sum(1 for char in text if ord(char) < 32 and char not in "\t\r\n")
    if controls > max(2, len(text) // 1000):
        raise UnreadableFile("The file holds control characters: it is not CSV text.")
    return text, encoding, warnings


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most rows of one width."""
    sample = text[:65_536].splitlines()[:30]
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [
            len(r) for r in csv.reader(sample, delimiter=delimiter) if any(c.strip() for c in r)
        ]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        score = (widths.count(mode), mode)
        if mode > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def header_key(name: str) -> str:
    """A header as the alias table writes it: 'Stock #' -> 'stock', 'Ext. Color' -> 'extcolor'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _records(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    try:
        for number, cells in enumerate(reader, 1):
            if number > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise UnreadableFile(f"The file has over {MAX_ROWS:,} rows: split it.")
            if any(cell.strip() for cell in cells):
                records.append((number, cells))
    except csv.Error as error:
        raise UnreadableFile(f"Row {reader.line_num} cannot be read as CSV: {error}.") from None
    if not records:
        raise UnreadableFile("The file has no rows.")
    return records


def _header_index(records: list[tuple[int, list[str]]]) -> int | None:
    """Which of the first records is the header; None when the first one is data already."""
    scores = [
        sum(header_key(cell) in ALIAS_RANK for cell in cells)
        for _, cells in records[:HEADER_SEARCH_ROWS]
    ]
    if max(scores) >= 2:
        return scores.index(max(scores))
    first = records[0][1]
    if any(check_vin(cell).valid for cell in first if len(normalize_vin(cell)) == 17):
        return None
    return 0


def _column_names(cells: list[str]) -> list[str]:
    names: list[str] = []
    for number, cell in enumerate(cells, 1):
        name = " ".join(cell.split()) or f"Column {number}"
        base, copy = name, 2
        while name in names:
            name, copy = f"{base} ({copy})", copy + 1
        names.append(name)
    return names


def read_table(raw: bytes) -> CsvTable:
    """Decode and split a CSV file; raises UnreadableFile with what to do about it."""
    text, encoding, warnings = decode_bytes(raw)
    delimiter = sniff_delimiter(text)
    records = _records(text, delimiter)
    index = _header_index(records)
    if index is None:
        width = max(len(cells) for _, cells in records)
        columns = [f"Column {n}" for n in range(1, width + 1)]
        warnings.append("No header row was found: map the columns by their position.")
    else:
        columns = _column_names(records[index][1])
        if index:
            warnings.append(f"Skipped {index} row(s) above the header (row {records[index][0]}).")
    if len(columns) > MAX_COLUMNS:
        raise UnreadableFile(f"The file has {len(columns)} columns; at most {MAX_COLUMNS}.")
    rows = records[(index + 1 if index is not None else 0) :]
    if len(rows) > MAX_ROWS:
        raise UnreadableFile(f"The file has over {MAX_ROWS:,} rows: split it.")
    header_row = records[index][0] if index is not None else None
    return CsvTable(columns, rows, encoding, delimiter, header_row, warnings)


# --- the mapping -----------------------------------------------------------------------------


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """{column: field} from common DMS header names; each field goes to its best column."""
    best: dict[str, tuple[int, str]] = {}
    for column in columns:
        found = ALIAS_RANK.get(header_key(column))
        if found and (found[0] not in best or found[1] < best[found[0]][0]):
            best[found[0]] = (found[1], column)
    return {column: name for name, (_, column) in best.items()}


def check_mapping(columns: list[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """The mapping without its unmapped columns; raises InvalidMapping naming each problem."""
    problems: dict[str, str] = {}
    used: dict[str, str] = {}
    for column, name in mapping.items():
        if not name:
            continue
        if column not in columns:
            problems[column] = "is not a column of this file"
        elif name not in IMPORT_FIELDS:
            problems[column] = f"{name!r} is not a vehicle field"
        elif name in used:
            problems[column] = f"{IMPORT_FIELDS[name]} is already read from “{used[name]}”"
        else:
            used[name] = column
    if "vin" not in used and "stock_number" not in used:
        problems["VIN"] = "map a VIN or a stock number column: rows are matched by them"
    if problems:
        raise InvalidMapping("The column mapping cannot be used.", problems)
    return {column: name for column, name in mapping.items() if name}


# --- a row to values -------------------------------------------------------------------------


def looks_like_formula(cell: str) -> bool:
    """True for a cell a spreadsheet would run as a formula (CSV injection)."""
    return cell.lstrip(" ").startswith(FORMULA_STARTS)


def _words(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _choice(words: Mapping[str, str], text: str, what: str) -> str:
    found = words.get(_words(text))
    if found is None:
        choices = ", ".join(sorted(set(words.values())))
        raise ValueError(f"{text!r} is not a known {what} ({choices})")
    return found


def parse_day(text: str) -> date:
    """ISO dates, and the month/day/year North-American DMS write (day/month when day > 12)."""
    text = re.split(r"[ T]\d{1,2}:\d{2}", text.strip())[0].strip()
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%d-%b-%Y", "%d %b %Y", "%b %d %Y", "%b %d, %Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            pass
    parts = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})", text)
    if not parts:
        raise ValueError(f"{text!r} is not a date (2026-01-31 or 01/31/2026)")
    first, second, year = (int(part) for part in parts.groups())
    month, day = (second, first) if first > 12 else (first, second)
    try:
        return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (2026-01-31 or 01/31/2026)") from None


def _odometer(text: str) -> tuple[str, str | None]:
    found = re.fullmatch(r"(.*?)\s*([A-Za-z]+)\.?", text.strip())
    if found and found.group(2).lower() in UNIT_WORDS:
        return found.group(1), UNIT_WORDS[found.group(2).lower()]
    return text, None


def _split_options(text: str) -> list[str]:
    separator = r"[|\r\n]+" if re.search(r"[|\r\n]", text) else r","
    return [option.strip() for option in re.split(separator, text) if option.strip()]


def _convert(name: str, text: str) -> Any:
    """A cell as the vehicle rules take it (DMS spellings of choices, dates, units)."""
    if name == "condition":
        return _choice(CONDITION_WORDS, text, "condition")
    if name == "status":
        return _choice(STATUS_WORDS, text, "status")
    if name == "odometer_unit":
        return _choice(UNIT_WORDS, text, "odometer unit")
    if name == "in_stock_on":
        return parse_day(text)
    if name == "options":
        return _split_options(text)
    if name in ("price", "msrp"):
        return re.sub(r"\s*(CAD|USD|\$)\s*$", "", text.strip(), flags=re.I)
    return text


def _read_cell(result: RowValues, name: str, column: str, text: str) -> None:
    if name == "vin":
        check = check_vin(text)
        result.values["vin"] = normalize_vin(text)
        if not check.valid:
            result.errors["vin"] = " ".join(check.errors)
        result.vin_warnings = list(check.warnings)
        return
    if name == "odometer":
        text, unit = _odometer(text)
        unit = unit or UNIT_WORDS.get(header_key(column))
        if unit and "odometer_unit" not in result.values:
            result.values["odometer_unit"] = unit
    try:
        result.values[name] = clean_one(name, _convert(name, text))
    except ValueError as error:
        result.errors[name] = str(error)


def read_row(
    columns: list[str], mapping: Mapping[str, str], row: int, cells: list[str]
) -> RowValues:
    """One row through the mapping; empty cells are left out (they change nothing)."""
    result = RowValues(row=row, values={})
    extra = [cell for cell in cells[len(columns) :] if cell.strip()]
    if extra:
        result.errors["row"] = (
            f"has {len(cells)} cells but the header has {len(columns)} columns: "
            "a value with the delimiter in it and no quotes?"
        )
    for index, column in enumerate(columns):
        cell = cells[index] if index < len(cells) else ""
        if looks_like_formula(cell):
            result.formulas[column] = cell
        name = mapping.get(column)
        if name and cell.strip():
            _read_cell(result, name, column, cell.strip())
    if not result.values.get("vin") and not result.values.get("stock_number"):
        result.errors.setdefault("vin", "has no VIN and no stock number to match it by")
    return result
