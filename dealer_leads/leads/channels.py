"""Turn what each channel received (JSON, form post, ADF) into `LeadIn` values. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs

from dealer_leads.leads.adf import InvalidAdf, parse_adf
from dealer_leads.leads.normalize import (
    DEPARTMENTS,
    INTERESTS,
    ContactIn,
    LeadIn,
    VehicleIn,
    clean_text,
    normalize_vin,
)

RERUNNABLE_CHANNELS = ("form", "api", "adf", "manual", "email")  # the ones parse_payload reads
ADF_CONTENT_TYPES = ("application/xml", "text/xml", "application/x-adf+xml")
MAX_COMMENTS = 10_000


class InvalidPayload(ValueError):
    """A payload we cannot make a lead from; `fields` maps field paths to problems."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def parse_payload(channel: str, raw: bytes) -> list[LeadIn]:
    """Dispatch on the channel the payload came through."""
    if channel == "adf":
        try:
            return parse_adf(raw)
        except InvalidAdf as error:
            raise InvalidPayload(f"ADF document refused: {error}") from error
    if channel == "api":
        return [parse_json_lead(raw)]
    if channel in ("form", "manual"):
        return [parse_form_lead(decode_form(raw))]
    if channel == "email":
        from dealer_leads.messaging.mail_leads import leads_from_email  # it reads this module

        return leads_from_email(raw)
    raise InvalidPayload(f"no parser for channel {channel!r}")


def decode_form(raw: bytes) -> dict[str, str]:
    """An url-encoded form body as a dict of first values."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidPayload("the form was not sent as UTF-8 text") from error
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _load_json(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidPayload(f"the body is not UTF-8 (byte {error.start})") from error
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise InvalidPayload(
            f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error
    except RecursionError as error:
        raise InvalidPayload("the JSON is nested too deeply") from error
    if not isinstance(data, dict):
        raise InvalidPayload("the body must be a JSON object describing one lead")
    return data


class _Fields:
    """Reads typed values out of JSON objects, collecting every problem by path."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def text(self, data: Mapping, key: str, path: str, limit: int = 200) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.errors[path] = "must be a string"
            return ""
        if len(value) > limit:
            self.errors[path] = f"at most {limit} characters"
            return ""
        return value

    def obj(self, data: Mapping, key: str, path: str) -> Mapping:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.errors[path] = "must be an object"
            return {}
        return value

    def items(self, data: Mapping, key: str, path: str, limit: int = 20) -> list:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > limit:
            self.errors[path] = f"must be a list of at most {limit} objects"
            return []
        return value

    def integer(self, data: Mapping, key: str, path: str, low: int, high: int) -> int | None:
        value = data.get(key)
        if value in (None, ""):
            return None
        try:
            number = int(str(value).replace(",", "").strip())
        except ValueError:
            number = None
        if number is None or not low <= number <= high or isinstance(value, bool):
            self.errors[path] = f"must be a whole number from {low} to {high}"
            return None
        return number

    def money(self, data: Mapping, key: str, path: str) -> Decimal | None:
        value = data.get(key)
        if value in (None, ""):
            return None
        try:
            amount = Decimal(str(value).replace(",", "").replace("$", "").strip())
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or not 0 <= amount < 10_000_000:
            self.errors[path] = "must be an amount from 0 to 9,999,999.99"
            return None
        return amount.quantize(Decimal("0.01"))

    def choice(self, data: Mapping, key: str, path: str, choices, default: str) -> str:
        value = self.text(data, key, path, 20).strip().lower()
        if not value:
            return default
        if value not in choices:
            self.errors[path] = f"must be one of {', '.join(c for c in choices if c)}"
            return default
        return value

    def moment(self, data: Mapping, key: str, path: str) -> datetime | None:
        value = self.text(data, key, path, 40)
        if not value:
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.errors[path] = "must be an ISO 8601 date and time"
            return None


def _vehicle(fields: _Fields, data, path: str) -> VehicleIn | None:
    if not isinstance(data, dict):
        fields.errors[path] = "must be an object"
        return None
    return VehicleIn(
        interest=fields.choice(data, "interest", f"{path}.interest", INTERESTS, "buy"),
        status=fields.choice(data, "status", f"{path}.status", ("new", "used", ""), ""),
        year=fields.integer(data, "year", f"{path}.year", 1900, 2100),
        make=clean_text(fields.text(data, "make", f"{path}.make", 50)),
        model=clean_text(fields.text(data, "model", f"{path}.model", 50)),
        trim=clean_text(fields.text(data, "trim", f"{path}.trim", 80)),
        vin=normalize_vin(fields.text(data, "vin", f"{path}.vin", 40)),
        stock=clean_text(fields.text(data, "stock", f"{path}.stock", 30)),
        odometer=fields.integer(data, "odometer", f"{path}.odometer", 0, 2_000_000),
        price=fields.money(data, "price", f"{path}.price"),
        color=clean_text(fields.text(data, "color", f"{path}.color", 50)),
        comments=fields.text(data, "comments", f"{path}.comments", 2000).strip(),
    )


def _contact(fields: _Fields, data: Mapping) -> ContactIn:
    address = fields.obj(data, "address", "customer.address")
    phones = [("voice", fields.text(data, "phone", "customer.phone", 40))]
    for i, item in enumerate(fields.items(data, "phones", "customer.phones", 5)):
        if isinstance(item, dict):
            phones.append(
                (
                    fields.text(item, "type", f"customer.phones[{i}].type", 20) or "voice",
                    fields.text(item, "number", f"customer.phones[{i}].number", 40),
                )
            )
    return ContactIn(
        first_name=fields.text(data, "first_name", "customer.first_name", 100),
        last_name=fields.text(data, "last_name", "customer.last_name", 100),
        full_name=fields.text(data, "name", "customer.name", 200),
        email=fields.text(data, "email", "customer.email", 254),
        phones=[(kind, number) for kind, number in phones if number.strip()],
        street=clean_text(fields.text(address, "street", "customer.address.street")),
        city=clean_text(fields.text(address, "city", "customer.address.city", 100)),
        region=clean_text(fields.text(address, "region", "customer.address.region", 50)),
        postal_code=clean_text(
            fields.text(address, "postal_code", "customer.address.postal_code", 20)
        ),
        country=clean_text(fields.text(address, "country", "customer.address.country", 60)),
    )


def require_contact(contact: ContactIn, prefix: str = "customer.") -> None:
    """Refuse a lead nobody could answer: it needs an e-mail address or a phone number."""
    if not contact.email.strip() and not contact.phones:
        raise InvalidPayload(
            "the lead has no way to reach the customer",
            {
                f"{prefix}email": "give an e-mail address or a phone number",
                f"{prefix}phone": "give an e-mail address or a phone number",
            },
        )


def parse_json_lead(raw: bytes) -> LeadIn:
    """The API's JSON lead (see the OpenAPI document) as a `LeadIn`."""
    data = _load_json(raw)
    fields = _Fields()
    if "customer" not in data:
        fields.errors["customer"] = "required"
    contact = _contact(fields, fields.obj(data, "customer", "customer"))
    vehicles = [
        _vehicle(fields, item, f"vehicles[{i}]")
        for i, item in enumerate(fields.items(data, "vehicles", "vehicles"))
    ]
    lead = LeadIn(
        contact=contact,
        vehicles=[v for v in vehicles if v is not None],
        comments=fields.text(data, "comments", "comments", MAX_COMMENTS).strip(),
        source=clean_text(fields.text(data, "source", "source", 100)),
        provider_lead_id=clean_text(fields.text(data, "provider_lead_id", "provider_lead_id")),
        requested_at=fields.moment(data, "requested_at", "requested_at"),
        department=fields.choice(data, "department", "department", DEPARTMENTS, ""),
    )
    if fields.errors:
        raise InvalidPayload("some fields are not valid", fields.errors)
    require_contact(contact)
    return lead


def parse_form_lead(form: Mapping[str, str]) -> LeadIn:
    """The web-site inquiry form (and staff's manual entry) as a `LeadIn`."""
    fields = _Fields()
    wanted = VehicleIn(
        interest=fields.choice(form, "interest", "interest", INTERESTS, "buy"),
        status=fields.choice(form, "condition", "condition", ("new", "used", ""), ""),
        year=fields.integer(form, "year", "year", 1900, 2100),
        make=clean_text(fields.text(form, "make", "make", 50)),
        model=clean_text(fields.text(form, "model", "model", 50)),
        vin=normalize_vin(fields.text(form, "vin", "vin", 40)),
        stock=clean_text(fields.text(form, "stock", "stock", 30)),
    )
    trade = VehicleIn(
        interest="trade-in",
        year=fields.integer(form, "trade_year", "trade_year", 1900, 2100),
        make=clean_text(fields.text(form, "trade_make", "trade_make", 50)),
        model=clean_text(fields.text(form, "trade_model", "trade_model", 50)),
        odometer=fields.integer(form, "trade_odometer", "trade_odometer", 0, 2_000_000),
    )
    contact = ContactIn(
        first_name=fields.text(form, "first_name", "first_name", 100),
        last_name=fields.text(form, "last_name", "last_name", 100),
        full_name=fields.text(form, "name", "name", 200),
        email=fields.text(form, "email", "email", 254),
        phones=[("voice", p) for p in [fields.text(form, "phone", "phone", 40)] if p.strip()],
    )
    if not (contact.first_name or contact.last_name or contact.full_name).strip():
        fields.errors["first_name"] = "please tell us your name"
    if fields.errors:
        raise InvalidPayload("some fields are not valid", fields.errors)
    require_contact(contact, prefix="")
    vehicles = [v for v in (wanted, trade) if v.year or v.make or v.model or v.vin or v.stock]
    return LeadIn(
        contact=contact,
        vehicles=vehicles,
        comments=fields.text(form, "comments", "comments", MAX_COMMENTS).strip(),
        source=clean_text(fields.text(form, "source", "source", 100)),
        department=fields.choice(form, "department", "department", DEPARTMENTS, ""),
    )
