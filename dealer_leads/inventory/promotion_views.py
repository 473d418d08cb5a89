"""Time-boxed promotions applied to vehicles by a filter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.models import STOCK_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.inventory.feed_models import Promotion
from dealer_leads.inventory.models import CONDITIONS
from dealer_leads.inventory.promotions import (
    InvalidPromotion,
    PromotionNotFound,
    create_promotion,
    end_promotion,
    get_promotion,
    list_promotions,
    matching_stock,
    update_promotion,
)

bp = Blueprint("promotions", __name__)

TEXT_FIELDS = ("name", "text", "discount_amount", "discount_percent", "make", "model")
TEXT_FIELDS += ("year_from", "year_to", "condition")


def _moment(name: str, errors: dict[str, str]) -> datetime | None:
    """A datetime-local field, read in the dealership's time zone, as UTC."""
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = "is not a date and time (e.g. 2026-11-30T09:00)"
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dealership_zone())
    return moment.astimezone(UTC)


def _form_values() -> tuple[dict, dict[str, str]]:
    """The promotion's values from the posted form, and the errors found reading the times."""
    values: dict = {name: request.form.get(name, "")[:2000] for name in TEXT_FIELDS}
    errors: dict[str, str] = {}
    values["starts_at"] = _moment("starts_at", errors)
    values["ends_at"] = _moment("ends_at", errors)
    return values, errors


def _shown(values: dict) -> dict:
    """The values as the form shows them again: the times as they were typed."""
    return {**values, **{k: request.form.get(k, "") for k in ("starts_at", "ends_at")}}


def _field_values(promotion: Promotion) -> dict:
    """A saved promotion as the form's fields (times in the dealership's zone)."""
    zone = dealership_zone()
    values = {name: getattr(promotion, name) for name in TEXT_FIELDS}
    for name in ("discount_amount", "discount_percent"):
        if isinstance(values[name], Decimal):
            values[name] = f"{values[name].normalize():f}"
    for name in ("starts_at", "ends_at"):
        values[name] = getattr(promotion, name).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    return values


def _render(
    status: int = 200,
    values: dict | None = None,
    errors: dict | None = None,
    editing: Promotion | None = None,
):
    now = now_utc()
    groups = list_promotions(now)
    counts = {p.id: matching_stock(p) for p in (*groups["running"], *groups["upcoming"])}
    body = render_template(
        "feeds/promotions.html",
        groups=groups,
        counts=counts,
        conditions=CONDITIONS,
        values=values or {},
        errors=errors or {},
        zone=dealership_zone(),
        editing=editing,
    )
    return body, status


@bp.get("/inventory/promotions")
@role_required(*STOCK_ROLES)
def index():
    """Running, upcoming and ended promotions, and a form for a new one."""
    return _render()


@bp.post("/inventory/promotions")
@role_required(*STOCK_ROLES)
def create():
    values, errors = _form_values()
    try:
        if errors:
            raise InvalidPromotion("The promotion has problems: see the fields.", errors)
        promotion = create_promotion(values, current_user.id)
    except InvalidPromotion as error:
        return _render(400, _shown(values), {**error.fields, **errors})
    flash(f"Promotion “{promotion.name}” saved; the feeds show it from their next build.", "info")
    return redirect(url_for("promotions.index"))


def _promotion_or_404(promotion_id: int) -> Promotion:
    try:
        return get_promotion(promotion_id)
    except PromotionNotFound:
        abort(404, f"There is no promotion #{promotion_id}.")


@bp.get("/inventory/promotions/<int:promotion_id>/edit")
@role_required(*STOCK_ROLES)
def edit(promotion_id: int):
    """The promotions page with this promotion's form to change it."""
    promotion = _promotion_or_404(promotion_id)
    return _render(values=_field_values(promotion), editing=promotion)


@bp.post("/inventory/promotions/<int:promotion_id>")
@role_required(*STOCK_ROLES)
def update(promotion_id: int):
    promotion = _promotion_or_404(promotion_id)
    values, errors = _form_values()
    try:
        if errors:
            raise InvalidPromotion("The promotion has problems: see the fields.", errors)
        promotion = update_promotion(promotion_id, values)
    except InvalidPromotion as error:
        return _render(400, _shown(values), {**error.fields, **errors}, editing=promotion)
    flash(f"Promotion “{promotion.name}” saved; the feeds show it from their next build.", "info")
    return redirect(url_for("promotions.index"))


@bp.post("/inventory/promotions/<int:promotion_id>/end")
@role_required(*STOCK_ROLES)
def end(promotion_id: int):
    try:
        promotion = end_promotion(promotion_id, now_utc())
    except PromotionNotFound:
        abort(404, f"There is no promotion #{promotion_id}.")
    flash(f"Promotion “{promotion.name}” ended.", "info")
    return redirect(url_for("promotions.index"))
