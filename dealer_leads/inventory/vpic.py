"""Decode a VIN through NHTSA vPIC (DecodeVinValues), falling back to what the VIN itself tells.

Entry is never blocked: when vPIC cannot be reached, times out, fails or answers something
that is not its JSON, the result comes from `check_vin` (model year, maker from the WMI) with
`pending=True`, and the caller retries later. Successful answers are cached in-process, keyed
by (base URL, VIN); pending ones never are.

Config keys (read with defaults): VPIC_BASE_URL, VPIC_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from flask import current_app, has_app_context

from dealer_leads.inventory.vin import VinCheck, check_vin, is_well_formed

DEFAULT_BASE_URL = "https://vpic.nhtsa.dot.gov/api"
DEFAULT_TIMEOUT_SECONDS = 3.0
CACHE_SIZE = 512

# vPIC's upper-case words written as the brands write them; other words are title-cased.
_KEEP_UPPER = ("AMC", "BMW", "BYD", "GMC", "MG", "MINI", "SRT")
_MAKE_SPELLINGS = {word: word for word in _KEEP_UPPER} | {
    "DELOREAN": "DeLorean",
    "MCLAREN": "McLaren",
    "SMART": "smart",
}
_WORD = re.compile(r"[A-Za-z0-9']+")


@dataclass
class VinDecode:
    """What the form can pre-fill from a VIN, and where it came from."""

    vin: str
    source: str  # "vpic" or "offline"
    pending: bool = False  # vPIC could not answer: decode again later
    year: int | None = None
    make: str = ""
    model: str = ""
    trim: str = ""
    body_style: str = ""
    drivetrain: str = ""
    fuel: str = ""
    transmission: str = ""
    doors: int | None = None
    raw: dict[str, str] = field(default_factory=dict)  # vPIC's non-empty fields
    messages: list[str] = field(default_factory=list)


class VpicUnavailable(Exception):
    """vPIC could not be reached, failed, or answered something other than its JSON."""


class _Cache:
    """A small thread-safe LRU of successful decodes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], VinDecode] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> VinDecode | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return _copy(self._items[key])

    def put(self, key: tuple[str, str], value: VinDecode) -> None:
        with self._lock:
            self._items[key] = _copy(value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _Cache(CACHE_SIZE)


def clear_cache() -> None:
    """Forget every cached decode (tests, or after vPIC corrected its data)."""
    _cache.clear()


def _copy(decode: VinDecode) -> VinDecode:
    return replace(decode, raw=dict(decode.raw), messages=list(decode.messages))


def title_make(name: str) -> str:
    """vPIC's upper-case make as people write it: 'MERCEDES-BENZ' -> 'Mercedes-Benz'."""
    return _WORD.sub(
        lambda m: _MAKE_SPELLINGS.get(m.group().upper(), m.group().capitalize()), name.strip()
    )


def _setting(name: str, default: Any) -> Any:
    return current_app.config.get(name, default) if has_app_context() else default


def decode_vin(
    vin: str,
    *,
    base_url: str | None = None,
    timeout: float | None = None,
    session: requests.Session | None = None,
) -> VinDecode:
    """Decode a VIN through vPIC, or offline with `pending=True`; never raises for the network."""
    check = check_vin(vin)
    if not is_well_formed(check.vin):
        # vPIC cannot decode it either, and asking again later will not help.
        return offline_decode(check, pending=False, reason="not decoded: " + " ".join(check.errors))
    base = (base_url or _setting("VPIC_BASE_URL", DEFAULT_BASE_URL)).rstrip("/")
    key = (base, check.vin)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    seconds = float(timeout or _setting("VPIC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
    try:
        payload = fetch_decode(base, check.vin, seconds, session)
        result = parse_decode(check, payload)
    except VpicUnavailable as exc:
        return offline_decode(check, pending=True, reason=f"decode pending: {exc}")
    _cache.put(key, result)
    return result


def fetch_decode(
    base: str, vin: str, timeout: float, session: requests.Session | None = None
) -> Any:
    """GET vPIC's DecodeVinValues for one VIN and return its JSON; the only I/O here."""
    url = f"{base}/vehicles/DecodeVinValues/{vin}"
    http = session or requests
    try:
        response = http.get(url, params={"format": "json"}, timeout=timeout)
        response.raise_for_status()
        return response.json()
    except requests.JSONDecodeError as exc:
        raise VpicUnavailable("vPIC answered something that is not JSON") from exc
    except requests.Timeout as exc:
        raise VpicUnavailable(f"vPIC did not answer within {timeout:g} s") from exc
    except requests.HTTPError as exc:
        raise VpicUnavailable(f"vPIC answered HTTP {exc.response.status_code}") from exc
    except requests.RequestException as exc:
        raise VpicUnavailable(f"vPIC could not be reached ({type(exc).__name__})") from exc


def _first_result(payload: Any) -> dict[str, str]:
    results = payload.get("Results") if isinstance(payload, dict) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise VpicUnavailable("vPIC answered without a decode result")
    return {
        str(name): str(value).strip()
        for name, value in results[0].items()
        if value is not None and str(value).strip()
    }


def _to_int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() else None


def parse_decode(check: VinCheck, payload: Any) -> VinDecode:
    """Turn vPIC's JSON into a VinDecode; what vPIC leaves empty comes from the VIN itself."""
    raw = _first_result(payload)
    codes = {code.strip() for code in raw.get("ErrorCode", "0").split(",")}
    messages = [] if codes <= {"0"} else [f"vPIC: {raw.get('ErrorText', 'VIN has errors')}"]
    if raw.get("AdditionalErrorText") and messages:
        messages.append(f"vPIC: {raw['AdditionalErrorText']}")
    return VinDecode(
        vin=check.vin,
        source="vpic",
        year=_to_int(raw.get("ModelYear", "")) or check.model_year,
        make=title_make(raw.get("Make", "")) or (check.maker or ""),
        model=raw.get("Model", ""),
        trim=raw.get("Trim", ""),
        body_style=raw.get("BodyClass", ""),
        drivetrain=raw.get("DriveType", ""),
        fuel=raw.get("FuelTypePrimary", ""),
        transmission=raw.get("TransmissionStyle", ""),
        doors=_to_int(raw.get("Doors", "")),
        raw=raw,
        messages=messages,
    )


def offline_decode(check: VinCheck, *, pending: bool, reason: str) -> VinDecode:
    """What the VIN itself tells: the model year and the maker from the WMI."""
    return VinDecode(
        vin=check.vin,
        source="offline",
        pending=pending,
        year=check.model_year,
        make=check.maker or "",
        messages=[reason],
    )
