"""VIN checks: length, legal characters, check digit, model-year code and maker from the WMI.

Pure functions only: no network, no database, no Flask. `vpic.py` adds the online decode.

Policy (a North-American dealership; the check digit is 49 CFR 565 / CMVSS 115):

- Not 17 characters, or a character outside 0-9 and A-Z less I, O, Q: error.
- Check digit (position 9) wrong:
  - error when the VIN is North-American (WMI first character 1-5), and also for the regions
    whose makers export to North America (Japan J, Korea K, Europe S-Z but not Russia, the US
    overflow codes 7) when position 9 holds a digit or X: there a mismatch is far likelier a
    typo than a VIN without a check digit;
  - a warning, which a person may override, for other regions (Oceania, South and Central
    America, Africa, the rest of Asia, Russia) and for a non-North-American VIN whose position 9
    is a letter other than X (European home-market VINs write Z or a plant letter there).
- Position 10 not a model-year code (0, U, Z): error for North-American VINs, which must carry
  one; a warning elsewhere (ISO 3779 leaves position 10 free outside North America).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

VIN_LENGTH = 17
_LEGAL = re.compile(r"[0-9A-HJ-NPR-Z]")
_CLEAN = re.compile(r"[\s-]")
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# 49 CFR 565.15 transliteration: each legal letter's value, in alphabetical order.
_LETTER_VALUES = dict(
    zip("ABCDEFGHJKLMNPRSTUVWXYZ", map(int, "12345678123457923456789"), strict=True)
)

# Position 10: the letters and digits of one 30-year cycle, in order from 1980 (and 2010).
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
_FIRST_CYCLE = 1980
_CYCLES = 2  # 1980-2009 and 2010-2039

_NORTH_AMERICA = "12345"
# Russia: WMIs XS-XW and X3-X0 (X0 last); other X codes are western Europe.
_RUSSIA_X = "STUVW34567890"
_EXPORT_REGIONS = "7JKSTUVWXYZ"

# Makers by the WMIs (VIN positions 1-3) a Canadian lot sees. A WMI shared by several brands
# (Stellantis' 1C3, 1C4, 2C3, 2C4) is left out: only vPIC can tell a Jeep from a Dodge there.
_WMIS_BY_MAKER = {
    "Acura": "19U 2HN 5J8 JH4",
    "Alfa Romeo": "ZAR ZAS",
    "Audi": "WAU WA1 WUA TRU",
    "BMW": "WBA WBS WBX WBY 5UX 5YM 4US",
    "Buick": "1G4 2G4 5GA KL4 LRB",
    "Cadillac": "1G6 1GY",
    "Chevrolet": "1G1 1GC 1GN 2G1 2GN 3G1 3GC 3GN KL7 KL8",
    "Dodge": "1B3 2B3 1D7 3D7",
    "Ferrari": "ZFF",
    "Fiat": "ZFA 3C3",
    "Ford": "1FA 1FB 1FC 1FD 1FM 1FT 2FA 2FM 2FT 3FA 3FM 3FT 1ZV WF0 NM0 MAJ 6FP",
    "Genesis": "KMT KMU",
    "GMC": "1GT 1GK 2GT 2GK 3GT",
    "Holden": "6G1",
    "Honda": "1HG 2HG 2HK 3HG 3CZ 5FN 5FP 5J6 19X JHM JHL",
    "Hyundai": "KMH KM8 5NP 5NM 5NT",
    "Infiniti": "JNK JNR 5N3",
    "Jaguar": "SAJ SAD",
    "Jeep": "1J4 1J8 ZAC",
    "Kia": "KNA KND 5XX 5XY 3KP",
    "Lada": "XTA",
    "Lamborghini": "ZHW",
    "Land Rover": "SAL",
    "Lexus": "JTH JTJ JT6 JT8 2T2 58A",
    "Lincoln": "1LN 2LM 3LN 5LM",
    "Maserati": "ZAM ZN6",
    "Mazda": "JM1 JM3 3MZ 3MV 1YV 7MM",
    "Mercedes-Benz": "WDB WDC WDD W1K W1N 4JG 55S",
    "MINI": "WMW",
    "Mitsubishi": "JA3 JA4 ML3 4A3 4A4",
    "Motor Coach Industries": "1M8",
    "Nissan": "1N4 1N6 3N1 5N1 JN1 JN8",
    "Polestar": "LPS",
    "Porsche": "WP0 WP1",
    "Ram": "1C6 3C6 3C7",
    "smart": "WME",
    "Subaru": "JF1 JF2 4S3 4S4",
    "Suzuki": "JS1 JS2 JS3 2S3",
    "Tesla": "5YJ 7SA",
    "Toyota": "JT2 JT3 JT4 JTD JTE JTM JTN JTK 2T1 2T3 4T1 4T3 5TB 5TD 5TE 5TF 5YF 3TM NMT",
    "Volkswagen": "WVW WVG WV1 WV2 1VW 1V2 3VW 3VV",
    "Volvo": "YV1 YV4 LYV 7JR",
}
WMI_MAKERS = {wmi: maker for maker, wmis in _WMIS_BY_MAKER.items() for wmi in wmis.split()}


@dataclass(frozen=True)
class VinCheck:
    """What a VIN says about itself; `valid` is False only when there are errors."""

    vin: str
    valid: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    model_years: tuple[int, ...] = ()
    wmi: str = ""
    maker: str | None = None
    check_digit_applies: bool = True

    @property
    def needs_override(self) -> bool:
        """True when the VIN is acceptable only once a person confirms the warnings."""
        return self.valid and bool(self.warnings)

    @property
    def model_year(self) -> int | None:
        """The most recent candidate model year that is not after next year."""
        return pick_model_year(self.model_years, date.today().year, self.vin[6:7])


def normalize_vin(raw: str | None) -> str:
    """Upper-case a VIN and drop the spaces and dashes people type into it; never shortens it."""
    # Not leads.normalize.normalize_vin: that one cuts to 17 characters (it fills a 17-character
    # column), which would make an 18-character typo look valid here.
    return _CLEAN.sub("", raw or "").upper()


def is_well_formed(vin: str) -> bool:
    """True for 17 legal characters (already normalised), whatever the check digit says."""
    return len(vin) == VIN_LENGTH and all(_LEGAL.fullmatch(char) for char in vin)


def check_digit(vin: str) -> str:
    """The 49 CFR 565 check digit ('0'-'9' or 'X') of a 17-character VIN of legal characters."""
    total = sum(
        (int(char) if char.isdigit() else _LETTER_VALUES[char]) * weight
        for char, weight in zip(vin, _WEIGHTS, strict=True)
    )
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def year_candidates(code: str) -> tuple[int, ...]:
    """Model years a position-10 code can mean, oldest first; () when it is no year code."""
    index = _YEAR_CODES.find(code) if len(code) == 1 else -1
    if index < 0:
        return ()
    return tuple(_FIRST_CYCLE + index + 30 * cycle for cycle in range(_CYCLES))


def pick_model_year(
    candidates: tuple[int, ...], current_year: int, position_7: str = ""
) -> int | None:
    """The latest candidate not after next year (vehicles are sold a year ahead of the date)."""
    fitting = [year for year in candidates if year <= current_year + 1]
    if len(fitting) > 1 and fitting[-1] > current_year and position_7.isdigit():
        # Next year's code is also a code of 30 years ago. Light vehicles from 2010 on carry a
        # letter in position 7 (49 CFR 565.15), so a digit there points to the old vehicle.
        fitting.pop()
    return max(fitting) if fitting else None


def maker_for(wmi: str) -> str | None:
    """The maker a WMI belongs to, from the built-in table; None when unknown."""
    return WMI_MAKERS.get(wmi.upper())


def is_north_american(vin: str) -> bool:
    """True when the WMI's first character is 1-5 (United States, Canada, Mexico)."""
    return bool(vin) and vin[0] in _NORTH_AMERICA


def check_digit_required(vin: str) -> bool:
    """True when a wrong check digit is an error under this module's policy, not a warning."""
    if is_north_american(vin):
        return True
    if len(vin) < 9 or vin[0] not in _EXPORT_REGIONS:
        return False
    if vin[0] == "X" and vin[1] in _RUSSIA_X:
        return False
    return vin[8].isdigit() or vin[8] == "X"


def _structure_errors(vin: str) -> list[str]:
    errors = []
    if len(vin) != VIN_LENGTH:
        errors.append(f"A VIN has {VIN_LENGTH} characters; this one has {len(vin)}.")
    illegal = sorted({char for char in vin if not _LEGAL.fullmatch(char)})
    if illegal:
        shown = ", ".join(repr(char) for char in illegal)
        errors.append(f"A VIN cannot contain {shown}: only digits and letters other than I, O, Q.")
    return errors


def _check_digit_problem(vin: str, required: bool) -> tuple[list[str], list[str]]:
    expected, given = check_digit(vin), vin[8]
    if given == expected:
        return [], []
    if required:
        return [f"Check digit (position 9) is {given!r} but the VIN computes to {expected!r}."], []
    return [], [
        f"Check digit (position 9) is {given!r}, not {expected!r}: this maker may not use a "
        "check digit; confirm to override."
    ]


def _year_problem(vin: str, years: tuple[int, ...]) -> tuple[list[str], list[str]]:
    if years:
        return [], []
    message = f"Position 10 ({vin[9]!r}) is not a model-year code."
    if is_north_american(vin):
        return [message], []
    return [], [f"{message} Confirm to override."]


def check_vin(raw: str | None) -> VinCheck:
    """Check a VIN as typed (case, spaces and dashes do not matter) under the module's policy."""
    vin = normalize_vin(raw)
    errors = _structure_errors(vin)
    warnings: list[str] = []
    years: tuple[int, ...] = ()
    required = check_digit_required(vin)
    if not errors:
        years = year_candidates(vin[9])
        for problem in (_check_digit_problem(vin, required), _year_problem(vin, years)):
            errors += problem[0]
            warnings += problem[1]
    return VinCheck(
        vin=vin,
        valid=not errors,
        errors=errors,
        warnings=warnings,
        model_years=years,
        wmi=vin[:3],
        maker=maker_for(vin[:3]),
        check_digit_applies=required,
    )
