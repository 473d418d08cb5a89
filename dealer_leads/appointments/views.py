"""The advisor's board, the supervisor's side-by-side view, booking from the lead page, and
the one-tap actions (confirmed, shown, no-show, sold), notes, moves and cancellations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from dealer_leads.admin.services import dealership_zone
from dealer_leads.appointments import board as boards
from dealer_leads.appointments import marks, services
from dealer_leads.appointments.forms import (
    BoardFilterForm,
    BookForm,
    CancelForm,
    MarkForm,
    NoteForm,
    ReassignForm,
    RescheduleForm,
)
from dealer_leads.appointments.models import APPOINTMENT_KINDS
from dealer_leads.appointments.slots import SlotProblem, local_instant
from dealer_leads.auth.models import LEAD_ROLES, SUPERVISING_ROLES
from dealer_leads.auth.services import role_required
from dealer_leads.database import now_utc
from dealer_leads.extensions import db

bp = Blueprint("appointments", __name__)


def _today() -> date:
    return now_utc().astimezone(dealership_zone()).date()


def _advisor_choices() -> dict[int, str]:
    return {u.id: u.name for u in services.list_bookable_advisors()}


@bp.get("/appointments")
@role_required(*LEAD_ROLES)
def board():
    """Today (or a chosen day or week): the advisor's own visits, or everyone's side by side."""
    filters = BoardFilterForm(request.args)
    if not filters.validate():
        abort(400, "The day must look like 2026-03-14 and the advisor be a number.")
    day = filters.day.data or _today()
    span = filters.span.data if filters.span.data in ("day", "week") else "day"
    start, end = boards.week_bounds(day) if span == "week" else boards.day_bounds(day)
    supervising = current_user.supervises
    now = now_utc()
    advisors = services.list_bookable_advisors() if supervising else [current_user]
    departed = {d.advisor.id: d for d in boards.list_departed_advisors(now)} if supervising else {}
    advisors += [d.advisor for d in departed.values()]
    if supervising and filters.advisor.data:
        advisors = [a for a in advisors if a.id == filters.advisor.data]
    cards = boards.board_cards([a.id for a in advisors], start, end)
    by_advisor = {a.id: [] for a in advisors}
    for card in cards:
        by_advisor.setdefault(card.appointment.advisor_id, []).append(card)
    reassign = ReassignForm()
    reassign.advisor_id.choices = _advisor_choices()
    return render_template(
        "appointments/board.html",
        **_card_strings(),
        day=day,
        span=span,
        start=start,
        advisors=advisors,
        by_advisor=by_advisor,
        cards=cards,
        supervising=supervising,
        kinds=APPOINTMENT_KINDS,
        mark=MarkForm(),
        note=NoteForm(),
        cancel=CancelForm(),
        reassign=reassign,
        reschedule=RescheduleForm(),
        previous_day=day - timedelta(days=7 if span == "week" else 1),
        next_day=day + timedelta(days=7 if span == "week" else 1),
        today=_today(),
        now=now,
        departed=departed,
        shown_from=now + marks.SHOWN_EARLIEST,  # a visit starting by then may be marked shown
    )


def _card_strings() -> dict:
    """What every card repeats, computed once per page (fifty cards, five forms each)."""
    hidden = (
        f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">'
        f'<input type="hidden" name="next" value="{escape(request.full_path.rstrip("?"))}">'
    )
    return {
        "base": url_for("appointments.board"),
        "lead_base": url_for("leads.detail", lead_id=0).removesuffix("0"),
        "hidden": Markup(hidden),
    }


def _back(default: str) -> str:
    """Where to go after an action: a local path from the form, or the default."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def _act(action: Callable, success: str, default: str):
    """Run one service call; a refusal is shown on the page it came from with its status."""
    try:
        action()
    except services.AppointmentNotFound as error:
        abort(404, str(error))
    except services.AppointmentError as error:
        db.session.rollback()
        flash(f"Not done: {error}", "error")
        return redirect(_back(default), 303)
    flash(success, "success")
    return redirect(_back(default), 303)


def _form_problem(form) -> str:
    return "; ".join(
        f"{getattr(form, name).label.text}: {', '.join(map(str, errors))}"
        for name, errors in form.errors.items()
    )


def _refuse_form(form, default: str):
    flash(f"Not done: {_form_problem(form)}", "error")
    return redirect(_back(default), 303)


def _local_start(day: date, clock) -> datetime:
    try:
        return local_instant(day, clock.replace(second=0, microsecond=0), dealership_zone())
    except SlotProblem as problem:
        raise services.AppointmentError(str(problem), problem.code) from None


@bp.post("/leads/<int:lead_id>/appointments")
@role_required(*LEAD_ROLES)
def book(lead_id: int):
    """Book a visit from the lead page."""
    form = BookForm()
    form.advisor_id.choices = _advisor_choices()
    lead_page = url_for("leads.detail", lead_id=lead_id)
    if not form.validate():
        return _refuse_form(form, lead_page)
    refs = [p for p in (form.other_vehicles.data or "").replace(";", ",").split(",") if p.strip()]

    def action():
        booking = services.Booking(
            advisor_id=form.advisor_id.data,
            starts_at=_local_start(form.day.data, form.clock.data),
            duration_minutes=form.duration.data,
            kind=form.kind.data,
            vehicle_refs=refs,
            vehicle_ids=list(form.vehicle_ids.data or []),
            notes=form.notes.data or "",
        )
        services.book_appointment(current_user, lead_id, booking)

    return _act(action, "Appointment booked; the customer gets the invitation.", lead_page)


def _board_url() -> str:
    return url_for("appointments.board")


@bp.post("/appointments/<int:appointment_id>/mark")
@role_required(*LEAD_ROLES)
def mark(appointment_id: int):
    """One tap: confirmed, shown, no-show or sold."""
    form = MarkForm()
    if not form.validate():
        return _refuse_form(form, _board_url())
    label = form.status.choices[form.status.data]
    return _act(
        lambda: marks.mark_appointment(current_user, appointment_id, form.status.data),
        f"Marked {label.lower()}.",
        _board_url(),
    )


@bp.post("/appointments/<int:appointment_id>/note")
@role_required(*LEAD_ROLES)
def note(appointment_id: int):
    form = NoteForm()
    if not form.validate():
        return _refuse_form(form, _board_url())
    return _act(
        lambda: marks.add_appointment_note(current_user, appointment_id, form.text.data),
        "Note added.",
        _board_url(),
    )


@bp.post("/appointments/<int:appointment_id>/cancel")
@role_required(*LEAD_ROLES)
def cancel(appointment_id: int):
    form = CancelForm()
    if not form.validate():
        return _refuse_form(form, _board_url())
    return _act(
        lambda: services.cancel_appointment(current_user, appointment_id, form.reason.data or ""),
        "Appointment cancelled; the customer is told.",
        _board_url(),
    )


@bp.post("/appointments/<int:appointment_id>/reschedule")
@role_required(*LEAD_ROLES)
def reschedule(appointment_id: int):
    form = RescheduleForm()
    if not form.validate():
        return _refuse_form(form, _board_url())
    return _act(
        lambda: services.reschedule_appointment(
            current_user,
            appointment_id,
            starts_at=_local_start(form.day.data, form.clock.data),
            duration_minutes=form.duration.data,
        ),
        "Appointment moved; the customer gets the update.",
        _board_url(),
    )


@bp.post("/appointments/<int:appointment_id>/reassign")
@role_required(*SUPERVISING_ROLES)
def reassign(appointment_id: int):
    """The supervisor hands a visit to another advisor."""
    form = ReassignForm()
    form.advisor_id.choices = _advisor_choices()
    if not form.validate():
        return _refuse_form(form, _board_url())
    return _act(
        lambda: services.reschedule_appointment(
            current_user, appointment_id, advisor_id=form.advisor_id.data
        ),
        "Appointment moved to another advisor.",
        _board_url(),
    )


@bp.get("/appointments/calendar")
@role_required(*LEAD_ROLES)
def calendar():
    """My calendar subscription address."""
    url = None
    if current_user.calendar_token:
        url = _calendar_url(current_user.calendar_token)
    return render_template("appointments/calendar.html", url=url)


@bp.post("/appointments/calendar")
@role_required(*LEAD_ROLES)
def reset_calendar():
    """Make a new calendar address; the old one stops working at once."""
    boards.calendar_token(current_user, reset=True)
    flash("New calendar address made: the old one no longer works.", "success")
    return redirect(url_for("appointments.calendar"), 303)


def _calendar_url(token: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}{url_for('booking.calendar_feed', token=token)}"


def lead_panel_context(lead) -> dict:
    """What appointments/_lead_panel.html needs on the lead page."""
    form = BookForm(advisor_id=lead.assigned_to_id or 0, day=_today() + timedelta(days=1))
    form.advisor_id.choices = _advisor_choices()
    stock = {v.vehicle.id: _vehicle_label(v.vehicle) for v in lead.vehicles if v.vehicle}
    form.vehicle_ids.choices = stock
    form.vehicle_ids.data = list(stock)
    return {
        "appointment_form": form,
        "appointments": boards.list_lead_appointments(lead.id),
        "appointment_kinds": APPOINTMENT_KINDS,
    }


def _vehicle_label(vehicle) -> str:
    title = " ".join(str(p) for p in (vehicle.year, vehicle.make, vehicle.model) if p)
    return f"{title} · stock {vehicle.stock_number}" if vehicle.stock_number else title
