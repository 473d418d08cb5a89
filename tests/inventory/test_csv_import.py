"""CSV reading, pure: encodings, delimiters, headers, the suggested mapping, row values."""

from __future__ import annotations

import codecs
from datetime import date
from decimal import Decimal

import pytest

from dealer_leads.inventory.csv_import import (
    InvalidMapping,
    UnreadableFile,
    check_mapping,
    decode_bytes,
    looks_like_formula,
    parse_day,
    read_row,
    read_table,
    sniff_delimiter,
    suggest_mapping,
)

ACCORD = "1HGCM82633A004352"
LADA = "XTAGFK330JY144213"


# --- decoding --------------------------------------------------------------------------------


def test_utf8_with_and_without_bom():
    for raw in (
        "VIN,Make\nX,Citroën\n".encode(),
        codecs.BOM_UTF8 + "VIN,Make\nX,Citroën\n".encode(),
    ):
        text, encoding, warnings = decode_bytes(raw)
        assert text.startswith("VIN") and "Citroën" in text
        assert (encoding, warnings) == ("utf-8", [])


def test_windows_1252_is_read_with_a_warning():
    text, encoding, warnings = decode_bytes("VIN,Make\nX,Citroën\n".encode("cp1252"))
    assert "Citroën" in text and encoding == "cp1252"
    assert "Windows-1252" in warnings[0]


def test_utf16_with_a_bom_is_read():
    text, encoding, _ = decode_bytes("VIN\tMake\nX\tCitroën\n".encode("utf-16"))
    assert "Citroën" in text and encoding == "utf-16"


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00xl/workbook.xml", "spreadsheet workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "spreadsheet workbook"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"VIN,Make\n\x81\x8d\x8f\x90,x\n", "not UTF-8, UTF-16 or Windows-1252"),
        (b"VIN,Make\n" + b"\x01\x02\x03\x04\x05\x06" * 10, "control characters"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(UnreadableFile, match=message):
        read_table(raw)


def test_a_file_with_too_many_rows_is_refused(monkeypatch):
    from dealer_leads.inventory import csv_import

    monkeypatch.setattr(csv_import, "MAX_ROWS", 5)
    with pytest.raises(UnreadableFile, match="over 5 rows"):
        read_table(b"VIN,Make\n" + b"x,y\n" * 20)


# --- delimiters and headers ------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed(delimiter):
    rows = [["VIN", "Stock #", "Description"], [ACCORD, "A1", "Clean, one owner; no accidents"]]
    text = "\n".join(
        delimiter.join(f'"{c}"' if delimiter in c or "," in c else c for c in r) for r in rows
    )
    assert sniff_delimiter(text) == delimiter
    table = read_table(text.encode())
    assert table.columns == ["VIN", "Stock #", "Description"]
    assert table.rows == [(2, [ACCORD, "A1", "Clean, one owner; no accidents"])]


def test_the_header_is_found_below_a_title_block():
    raw = (
        b"Maple Ridge Motors inventory export\n"
        b"Generated 2026-01-05\n"
        b"\n"
        b"Stock #,VIN,Year,Make,Model,Internet Price,Price\n"
        b"A1,1HGCM82633A004352,2003,Honda,Accord,4995,5495\n"
    )
    table = read_table(raw)
    assert table.header_row == 4 and table.rows[0][0] == 5
    assert "Skipped 2 row(s) above the header" in table.warnings[0]


def test_a_file_without_header_gets_numbered_columns():
    table = read_table(f"{ACCORD},A1,2003,Honda\n{LADA},A2,2018,Lada\n".encode())
    assert table.header_row is None and table.columns == [
        "Column 1",
        "Column 2",
        "Column 3",
        "Column 4",
    ]
    assert len(table.rows) == 2 and "No header row" in table.warnings[0]


def test_duplicate_and_blank_headers_get_names():
    table = read_table(b"VIN,Price,,Price\nx,1,2,3\n")
    assert table.columns == ["VIN", "Price", "Column 3", "Price (2)"]


def test_quoted_cells_keep_newlines_and_blank_rows_are_skipped():
    raw = f'VIN,Description\n{ACCORD},"Line one\nLine two"\n,\n\n{LADA},x\n'.encode()
    table = read_table(raw)
    assert [number for number, _ in table.rows] == [2, 5]  # row numbers as the file counts records
    assert table.rows[0][1][1] == "Line one\nLine two"


# --- the mapping -----------------------------------------------------------------------------


def test_mapping_is_suggested_from_common_dms_headers():
    columns = [
        "VIN", "Stock #", "Year", "Make", "Model", "Trim", "Body", "Ext Color", "Int Color",
        "Mileage", "Price", "Internet Price", "MSRP", "Status", "Date In Stock", "Options",
        "Description", "New/Used", "Drivetrain", "Fuel Type", "Transmission", "Days In Stock",
    ]  # fmt: skip
    mapping = suggest_mapping(columns)
    assert mapping["Stock #"] == "stock_number" and mapping["Ext Color"] == "exterior_color"
    assert mapping["Internet Price"] == "price" and "Price" not in mapping  # the advertised one
    assert mapping["Mileage"] == "odometer" and mapping["New/Used"] == "condition"
    assert mapping["Date In Stock"] == "in_stock_on" and mapping["Fuel Type"] == "fuel"
    assert "Days In Stock" not in mapping
    assert suggest_mapping(["StockNumber", "InStockDate", "KM", "Type"]) == {
        "StockNumber": "stock_number",
        "InStockDate": "in_stock_on",
        "KM": "odometer",
        "Type": "condition",
    }


def test_a_mapping_is_checked():
    columns = ["VIN", "Price", "Internet Price"]
    assert check_mapping(columns, {"VIN": "vin", "Price": ""}) == {"VIN": "vin"}
    with pytest.raises(InvalidMapping) as error:
        check_mapping(
            columns, {"VIN": "vin", "Price": "price", "Internet Price": "price", "X": "make"}
        )
    assert "already read from" in error.value.fields["Internet Price"]
    assert "not a column" in error.value.fields["X"]
    with pytest.raises(InvalidMapping, match="cannot be used") as error:
        check_mapping(columns, {"Price": "colour"})
    assert "not a vehicle field" in error.value.fields["Price"]
    assert "VIN" in error.value.fields  # nothing to match rows by


# --- rows ------------------------------------------------------------------------------------

COLUMNS = [
    "VIN",
    "Stock #",
    "Year",
    "Condition",
    "KM",
    "Price",
    "Status",
    "Date",
    "Options",
    "Notes",
]
MAPPING = {
    "VIN": "vin",
    "Stock #": "stock_number",
    "Year": "year",
    "Condition": "condition",
    "KM": "odometer",
    "Price": "price",
    "Status": "status",
    "Date": "in_stock_on",
    "Options": "options",
    "Notes": "description",
}


def row(*cells: str):
    return read_row(COLUMNS, MAPPING, 7, list(cells))


def test_a_row_becomes_typed_values():
    read = row(ACCORD.lower(), "A1", "2003", "Pre-Owned", "182,400", "$4,995.00", "In Stock",
               "01/31/2026", "Sunroof | Leather, heated", "One owner")  # fmt: skip
    assert read.errors == {} and read.formulas == {}
    assert read.values == {
        "vin": ACCORD,
        "stock_number": "A1",
        "year": 2003,
        "condition": "used",
        "odometer": 182400,
        "odometer_unit": "km",  # from the column's name
        "price": Decimal("4995.00"),
        "status": "available",
        "in_stock_on": date(2026, 1, 31),
        "options": ["Sunroof", "Leather, heated"],
        "description": "One owner",
    }


def test_empty_cells_are_left_out():
    read = row(ACCORD, "", "", "", "", "", "", "", "", "")
    assert read.values == {"vin": ACCORD} and read.errors == {}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-01-31", date(2026, 1, 31)),
        ("2026/01/31", date(2026, 1, 31)),
        ("1/5/2026", date(2026, 1, 5)),  # month first, as North-American DMS write it
        ("31/01/2026", date(2026, 1, 31)),  # day first when the first number cannot be a month
        ("01/31/26", date(2026, 1, 31)),
        ("2026-01-31 14:05:00", date(2026, 1, 31)),
        ("05-Jan-2026", date(2026, 1, 5)),
    ],
)
def test_dms_dates(text, expected):
    assert parse_day(text) == expected


def test_bad_cells_are_row_errors_naming_the_field():
    read = row("1HGCM82633A004353", "A1", "two thousand", "Leased", "12 parsecs", "cheap",
               "Gone fishing", "31/31/2026", "", "")  # fmt: skip
    assert set(read.errors) == {
        "vin",
        "year",
        "condition",
        "odometer",
        "price",
        "status",
        "in_stock_on",
    }
    assert "Check digit" in read.errors["vin"]
    assert "'Leased' is not a known condition" in read.errors["condition"]


def test_odometer_units_in_the_cell_win():
    assert row(ACCORD, "", "", "", "52,000 mi").values["odometer_unit"] == "mi"
    read = read_row(["VIN", "Mileage"], {"VIN": "vin", "Mileage": "odometer"}, 2, [ACCORD, "52000"])
    assert read.values == {"vin": ACCORD, "odometer": 52000}  # no unit known: left as it is


def test_formula_cells_are_kept_as_text_and_flagged():
    cells = [ACCORD, '=HYPERLINK("http://x")', "", "", "", "", "", "", "@SUM(A1)", "-2+3"]
    read = row(*cells)
    assert read.values["stock_number"] == '=HYPERLINK("http://x")'
    assert read.values["options"] == ["@SUM(A1)"]
    assert read.values["description"] == "-2+3"
    assert read.formulas == {"Stock #": cells[1], "Options": "@SUM(A1)", "Notes": "-2+3"}
    assert [looks_like_formula(c) for c in ("=1", "+1", "-1", "@x", "\t=1", " =1", "a=1")] == [
        True, True, True, True, True, True, False,
    ]  # fmt: skip


def test_a_row_needs_a_vin_or_a_stock_number_and_no_extra_cells():
    assert "no VIN and no stock number" in row("", "").errors["vin"]
    assert row("", "A1").errors == {}
    shifted = row(ACCORD, "A1", "2003", "new", "5", "1", "sold", "", "", "Clean", "one owner")
    assert "has 11 cells but the header has 10 columns" in shifted.errors["row"]


def test_vin_warnings_are_carried_for_the_import_to_decide():
    read = row(LADA, "L1")
    assert read.errors == {} and "check digit" in read.vin_warnings[0]
