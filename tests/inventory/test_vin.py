"""VIN checks: the shared corpus under the module's policy, and hand-made cases."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from support import shared_path

from dealer_leads.inventory.vin import (
    WMI_MAKERS,
    check_digit,
    check_vin,
    maker_for,
    normalize_vin,
    pick_model_year,
    year_candidates,
)

# expected (vectors.csv) -> (valid, has a warning a person can override)
VERDICTS = {
    "valid": (True, False),
    "invalid": (False, False),
    "no-check-digit": (True, True),
    # Position 10 '0': every such row in the corpus is non-North-American (W..., 000...), so a
    # warning; a North-American VIN without a year code is an error (see the hand-made cases).
    "valid-check-digit-bad-year": (True, True),
}


def _corpus() -> list[dict[str, str]]:
    with shared_path("corpus", "vin", "vectors.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_corpus_rows_get_the_verdict_their_expected_column_implies():
    rows = _corpus()
    assert {row["expected"] for row in rows} == set(VERDICTS)
    wrong = []
    for row in rows:
        check = check_vin(row["vin"])
        if (check.valid, bool(check.warnings)) != VERDICTS[row["expected"]]:
            wrong.append((row["vin"], row["expected"], check.errors, check.warnings))
    assert not wrong


def test_corpus_errors_and_warnings_never_mix():
    for row in _corpus():
        check = check_vin(row["vin"])
        assert not (check.errors and check.warnings), row["vin"]
        assert check.needs_override == (
            row["expected"] in ("no-check-digit", "valid-check-digit-bad-year")
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1hgcm82633a004352", "1HGCM82633A004352"),
        (" 1HG-CM826 33A004352 ", "1HGCM82633A004352"),
        ("WVWUK63B92P5468188", "WVWUK63B92P5468188"),  # an 18-character typo stays 18
        (None, ""),
    ],
)
def test_normalize_vin(raw, expected):
    assert normalize_vin(raw) == expected


@pytest.mark.parametrize(
    ("vin", "digit"),
    [("1HGCM82633A004352", "3"), ("1M8GDM9AXKP042788", "X"), ("11111111111111111", "1")],
)
def test_check_digit(vin, digit):
    assert check_digit(vin) == digit


def test_a_clean_north_american_vin():
    check = check_vin("1HGCM82633A004352")
    assert check.valid and not check.errors and not check.warnings
    assert (check.wmi, check.maker, check.model_years) == ("1HG", "Honda", (2003, 2033))
    assert check.model_year == 2003
    assert check.check_digit_applies and not check.needs_override


@pytest.mark.parametrize(
    ("vin", "valid", "warned", "applies"),
    [
        ("1HGCM82633A004353", False, False, True),  # North America: the check digit is law
        ("JN1AZ4EH9DM430111", False, False, True),  # Japan, digit in position 9: a typo
        ("WVWUK63B82P546818", False, False, True),  # Germany, digit in position 9: a typo
        ("WP0ZZZ99ZTS392124", True, True, False),  # European home market: Z in position 9
        ("XTAGFK330JY144213", True, True, False),  # Russia: no check digit
        ("6FPAAAJGAT4Z00001", True, True, False),  # Australia: no check digit
        ("1HGCM826Z3A004352", False, False, True),  # a letter in position 9 in North America
    ],
)
def test_check_digit_policy(vin, valid, warned, applies):
    check = check_vin(vin)
    assert (check.valid, bool(check.warnings), check.check_digit_applies) == (
        valid,
        warned,
        applies,
    )


def test_a_north_american_vin_without_a_year_code_is_rejected():
    vin = "1HGCM8263" + "0" + "A004352"
    vin = vin[:8] + check_digit(vin) + vin[9:]
    check = check_vin(vin)
    assert not check.valid
    assert check.model_years == () and check.model_year is None
    assert "Position 10" in check.errors[0]


def test_a_european_vin_without_a_year_code_needs_an_override():
    check = check_vin("WBA71DC010CH14720")
    assert check.valid and check.needs_override and check.maker == "BMW"
    assert "override" in check.warnings[0]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("1HGCM82633A00435", "16"),
        ("1HGCM82633A0043522", "18"),
        ("1HGCM82633AOIQ352", "'I', 'O', 'Q'"),
        ("1HGCM82633A00435!", "'!'"),
        ("", "0"),
    ],
)
def test_structural_errors_are_reported(raw, fragment):
    check = check_vin(raw)
    assert not check.valid and check.model_years == ()
    assert fragment in " ".join(check.errors)


@pytest.mark.parametrize(
    ("code", "years"),
    [
        ("A", (1980, 2010)),
        ("H", (1987, 2017)),
        ("P", (1993, 2023)),
        ("Y", (2000, 2030)),
        ("1", (2001, 2031)),
        ("9", (2009, 2039)),
        ("0", ()),
        ("U", ()),
        ("Z", ()),
        ("I", ()),
        ("O", ()),
        ("Q", ()),
    ],
)
def test_year_candidates(code, years):
    assert year_candidates(code) == years


@pytest.mark.parametrize(
    ("candidates", "current_year", "position_7", "year"),
    [
        ((1980, 2010), 2026, "", 2010),
        ((1996, 2026), 2026, "A", 2026),
        ((1997, 2027), 2026, "A", 2027),  # next year's models are on the lot already
        ((1997, 2027), 2026, "8", 1997),  # but a digit in position 7 means a 1997 vehicle
        ((1998, 2028), 2026, "A", 1998),
        ((2009, 2039), 2008, "", 2009),
        ((), 2026, "", None),
    ],
)
def test_pick_model_year(candidates, current_year, position_7, year):
    assert pick_model_year(candidates, current_year, position_7) == year


def test_model_year_property_uses_todays_date():
    assert check_vin("3VWD07AJ5EM388202").model_year == 2014
    assert check_vin("5N1NJ01CXST000001").model_year == pick_model_year(
        (1995, 2025), date.today().year, "1"
    )


def test_wmi_table_covers_the_makers_on_a_canadian_lot():
    makers = set(WMI_MAKERS.values())
    for maker in ("Ford", "Chevrolet", "GMC", "Ram", "Toyota", "Honda", "Nissan", "Mazda"):
        assert maker in makers
    for maker in ("Subaru", "Hyundai", "Kia", "Volkswagen", "BMW", "Mercedes-Benz", "Tesla"):
        assert maker in makers
    assert all(len(wmi) == 3 and wmi.isalnum() for wmi in WMI_MAKERS)
    assert maker_for("2hg") == "Honda" and maker_for("ZZZ") is None
