"""Time-boxed promotions applied to vehicles by a filter."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dealer_leads.admin.services import dealership_zone
from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.inventory.models import CONDITIONS
from dealer_leads.inventory.promotions import (
    InvalidPromotion,
    PromotionNotFound,
    create_promotion,
    end_promotion,
    list_promotions,
    matching_stock,
)

bp = Blueprint("promotions", __name__)

EDITORS = ("webmaster", "supervisor", "admin")
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


def _render(status: int = 200, values: dict | None = None, errors: dict | None = None):
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
    )
    return body, status


@bp.get("/inventory/promotions")
@role_required(*EDITORS)
def index():
    """Running, upcoming and ended promotions, and a form for a new one."""
    return _render()


@bp.post("/inventory/promotions")
@role_required(*EDITORS)
def create():
    values: dict = {name: request.form.get(name, "")[:2000] for name in TEXT_FIELDS}
    errors: dict[str, str] = {}
    values["starts_at"] = _moment("starts_at", errors)
    values["ends_at"] = _moment("ends_at", errors)
    try:
        if errors:
            raise InvalidPromotion("The promotion has problems: see the fields.", errors)
        promotion = create_promotion(values, current_user.id)
    except InvalidPromotion as error:
        shown = {**values, **{k: request.form.get(k, "") for k in ("starts_at", "ends_at")}}
        return _render(400, shown, {**error.fields, **errors})
    flash(f"Promotion “{promotion.name}” saved; the feeds show it from their next build.", "info")
    return redirect(url_for("promotions.index"))


@bp.post("/inventory/promotions/<int:promotion_id>/end")
@role_required(*EDITORS)
def end(promotion_id: int):
    try:
        promotion = end_promotion(promotion_id, now_utc())
    except PromotionNotFound:
        abort(404, f"There is no promotion #{promotion_id}.")
    flash(f"Promotion “{promotion.name}” ended.", "info")
    return redirect(url_for("promotions.index"))
