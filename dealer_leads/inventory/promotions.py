"""Promotions: time-boxed offers on the vehicles a filter selects, shown as a sale price.

A promotion runs from `starts_at` (inclusive) to `ends_at` (exclusive). Its filter fields
(make, model, year range, condition) each match everything when empty; make and model ignore
case; a "used" filter takes certified pre-owned vehicles too. When several running promotions
match a vehicle, the one giving the lowest price wins (then the one ending first), so a feed,
a vehicle page and a follow-up e-mail all quote the same offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select

from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.inventory.feed_models import Promotion
from dealer_leads.inventory.models import CONDITIONS, IN_STOCK_STATUSES, Vehicle
from dealer_leads.leads.normalize import whole_number

CENT = Decimal("0.01")


class InvalidPromotion(ValueError):
    """A promotion that cannot be saved; `fields` names what to fix."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message, self.fields = message, fields or {}


class PromotionNotFound(LookupError):
    """No promotion with that id."""


@dataclass(frozen=True)
class Offer:
    """The promotion a vehicle gets: its text, and the sale price when it lowers the price."""

    promotion_id: int
    name: str
    text: str
    sale_price: Decimal | None
    starts_at: datetime
    ends_at: datetime


# --- pure rules --------------------------------------------------------------------------------


def matches(promotion: Any, vehicle: Any) -> bool:
    """True when the vehicle passes every filter field the promotion sets."""
    if promotion.make and promotion.make.casefold() != (vehicle.make or "").casefold():
        return False
    if promotion.model and promotion.model.casefold() != (vehicle.model or "").casefold():
        return False
    year = vehicle.year
    if promotion.year_from and (year is None or year < promotion.year_from):
        return False
    if promotion.year_to and (year is None or year > promotion.year_to):
        return False
    if promotion.condition:
        wanted = {"used": {"used", "certified"}}.get(promotion.condition, {promotion.condition})
        return vehicle.condition in wanted
    return True


def discounted(price: Decimal | None, promotion: Any) -> Decimal | None:
    """The price after the promotion's discount (never below zero); None when nothing changes."""
    if price is None or price <= 0:
        return None
    if promotion.discount_amount:
        new = price - Decimal(promotion.discount_amount)
    elif promotion.discount_percent:
        new = price * (Decimal(100) - Decimal(promotion.discount_percent)) / Decimal(100)
    else:
        return None
    return max(new, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


def is_running(promotion: Any, now: datetime) -> bool:
    """True from its start (inclusive) to its end (exclusive)."""
    return promotion.starts_at <= now < promotion.ends_at


def best_offer(vehicle: Any, promotions: Iterable[Any], now: datetime) -> Offer | None:
    """The running promotion that gives this vehicle the lowest price, or None."""
    best: tuple | None = None
    for promotion in promotions:
        if not (is_running(promotion, now) and matches(promotion, vehicle)):
            continue
        sale = discounted(vehicle.price, promotion)
        rank = (sale if sale is not None else Decimal("Infinity"), promotion.ends_at, promotion.id)
        if best is None or rank < best[0]:
            best = (rank, promotion, sale)
    if best is None:
        return None
    _, promotion, sale = best
    text = promotion.text or promotion.name
    return Offer(promotion.id, promotion.name, text, sale, promotion.starts_at, promotion.ends_at)


# --- queries and services ----------------------------------------------------------------------


def running_promotions(now: datetime) -> list[Promotion]:
    """The promotions running at `now`."""
    query = select(Promotion).where(Promotion.starts_at <= now, Promotion.ends_at > now)
    return list(db.session.scalars(query.order_by(Promotion.id)))


def offer_for(vehicle: Any, now: datetime | None = None) -> Offer | None:
    """The offer a stock vehicle gets right now (vehicle pages, e-mails).

    None for a vehicle the feeds do not list (sold or hidden): an e-mail must not quote a sale
    price the web site and the listing sites do not show."""
    if vehicle.status not in IN_STOCK_STATUSES:
        return None
    moment = now or now_utc()
    return best_offer(vehicle, running_promotions(moment), moment)


def list_promotions(now: datetime) -> dict[str, list[Promotion]]:
    """Running, upcoming and recently ended promotions (the last 20)."""
    everything = list(db.session.scalars(select(Promotion).order_by(Promotion.starts_at.desc())))
    return {
        "running": [p for p in everything if is_running(p, now)],
        "upcoming": [p for p in everything if p.starts_at > now],
        "ended": [p for p in everything if p.ends_at <= now][:20],
    }


def matching_stock(promotion: Promotion) -> int:
    """How many vehicles in stock the promotion's filter selects."""
    query = select(func.count(Vehicle.id)).where(Vehicle.status.in_(IN_STOCK_STATUSES))
    if promotion.make:
        query = query.where(func.lower(Vehicle.make) == promotion.make.lower())
    if promotion.model:
        query = query.where(func.lower(Vehicle.model) == promotion.model.lower())
    if promotion.year_from:
        query = query.where(Vehicle.year >= promotion.year_from)
    if promotion.year_to:
        query = query.where(Vehicle.year <= promotion.year_to)
    if promotion.condition == "used":
        query = query.where(or_(Vehicle.condition == "used", Vehicle.condition == "certified"))
    elif promotion.condition:
        query = query.where(Vehicle.condition == promotion.condition)
    return db.session.scalar(query) or 0


def _decimal(values: Mapping[str, Any], name: str, errors: dict[str, str]) -> Decimal | None:
    raw = str(values.get(name) or "").strip().replace(",", "").lstrip("$").rstrip("%")
    if not raw:
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        errors[name] = "is not a number"
        return None
    if not number.is_finite() or number <= 0:
        errors[name] = "must be more than zero"
        return None
    return number


def _year(values: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    raw = str(values.get(name) or "").strip()
    if not raw:
        return None
    year = whole_number(raw)
    if year is None or not 1900 <= year <= 2100:
        errors[name] = "is not a model year (e.g. 2025)"
        return None
    return year


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """The promotion's fields from form or JSON values, or InvalidPromotion naming each problem."""
    errors: dict[str, str] = {}
    name = str(values.get("name") or "").strip()
    if not name:
        errors["name"] = "is required"
    amount = _decimal(values, "discount_amount", errors)
    percent = _decimal(values, "discount_percent", errors)
    if amount and percent:
        errors["discount_percent"] = "give an amount or a percentage, not both"
    if percent is not None and percent >= 100:
        errors["discount_percent"] = "must be under 100"
    starts, ends = values.get("starts_at"), values.get("ends_at")
    for key, moment in (("starts_at", starts), ("ends_at", ends)):
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            errors[key] = "is required (a date and time)"
    if not errors.get("starts_at") and not errors.get("ends_at") and ends <= starts:
        errors["ends_at"] = "must be after the start"
    condition = str(values.get("condition") or "").strip().lower()
    if condition and condition not in CONDITIONS:
        errors["condition"] = f"must be one of {', '.join(CONDITIONS)} (or empty)"
    year_from, year_to = _year(values, "year_from", errors), _year(values, "year_to", errors)
    if year_from and year_to and year_from > year_to:
        errors["year_to"] = "must not be before the first year"
    if errors:
        raise InvalidPromotion("The promotion has problems: see the fields.", errors)
    return {
        "name": name[:120],
        "text": str(values.get("text") or "").strip()[:2000],
        "discount_amount": amount,
        "discount_percent": percent,
        "starts_at": starts,
        "ends_at": ends,
        "make": str(values.get("make") or "").strip()[:50],
        "model": str(values.get("model") or "").strip()[:50],
        "year_from": year_from,
        "year_to": year_to,
        "condition": condition,
    }


def create_promotion(values: Mapping[str, Any], user_id: int | None = None) -> Promotion:
    """Save a new promotion from plain values (see _clean for the rules)."""
    promotion = Promotion(**_clean(values), created_by_id=user_id)
    db.session.add(promotion)
    db.session.commit()
    return promotion


def get_promotion(promotion_id: int) -> Promotion:
    """One promotion, or PromotionNotFound."""
    promotion = db.session.get(Promotion, promotion_id)
    if promotion is None:
        raise PromotionNotFound(f"there is no promotion #{promotion_id}")
    return promotion


def update_promotion(promotion_id: int, values: Mapping[str, Any]) -> Promotion:
    """Change a promotion from plain values, by the same rules as a new one."""
    promotion = get_promotion(promotion_id)
    for name, value in _clean(values).items():
        setattr(promotion, name, value)
    db.session.commit()
    return promotion


def end_promotion(promotion_id: int, now: datetime) -> Promotion:
    """Stop a promotion now (an upcoming one is cancelled: it ends before it starts)."""
    promotion = get_promotion(promotion_id)
    if promotion.ends_at > now:
        promotion.ends_at = max(now, promotion.starts_at)
        db.session.commit()
    return promotion
