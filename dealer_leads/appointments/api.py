"""/api/v1 appointments: book for a lead, list by advisor and period, change one.

A lead provider's `leads` key works only with the appointments of the leads it sent (any other
is "not found", as the leads are); a key with `leads:read` reads and works with all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request, url_for

from dealer_leads import error_response
from dealer_leads.api.auth import own_leads_only, require_api_key
from dealer_leads.api.services import lead_sent_with, leads_sent_with
from dealer_leads.appointments import marks, services
from dealer_leads.appointments.board import list_appointments
from dealer_leads.appointments.models import Appointment
from dealer_leads.extensions import db
from dealer_leads.leads.normalize import whole_number

bp = Blueprint("appointments_api", __name__, url_prefix="/api/v1")

MAX_BODY = 16 * 1024
DEFAULT_PER_PAGE, MAX_PER_PAGE = 100, 500
LIST_ARGS = ("advisor_email", "advisor", "from", "to", "per_page")
BOOK_FIELDS = {"advisor_email", "starts_at", "duration_minutes", "kind", "vehicle_vins", "notes"}
PATCH_FIELDS = {"starts_at", "duration_minutes", "advisor_email", "status"}


class BadRequest(ValueError):
    """A body or parameter that cannot be used; `fields` names the inputs."""

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.fields = fields or {}


def appointment_to_dict(appointment: Appointment) -> dict:
    """The appointment as the API shows it."""
    return {
        "id": appointment.id,
        "lead_id": appointment.lead_id,
        "advisor_email": appointment.advisor.email,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "kind": appointment.kind,
        "status": appointment.status,
        "notes": appointment.notes,
        "sequence": appointment.sequence,
        "booked_via": appointment.booked_via,
        "vehicles": [
            {
                "vin": booked.vehicle.vin,
                "stock": booked.vehicle.stock_number,
                "status": booked.vehicle.status,
                "status_at_booking": booked.status_at_booking,
                "price_at_booking": (
                    str(booked.price_at_booking) if booked.price_at_booking is not None else None
                ),
            }
            for booked in appointment.vehicles
        ],
    }


def _json_body(allowed: set[str]) -> dict:
    if request.mimetype != "application/json":
        raise BadRequest("send the body as JSON (Content-Type: application/json)")
    if (request.content_length or 0) > MAX_BODY:
        raise BadRequest(f"the body is over {MAX_BODY} bytes")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}",
            dict.fromkeys(unknown, "not a field of this request"),
        )
    return body


def _moment(value, name: str, *, need_offset: bool = True) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise BadRequest(
            f"{name} must be an ISO 8601 date-time", {name: "e.g. 2026-03-14T10:30:00-04:00"}
        )
    text = value.strip().replace("Z", "+00:00")
    if "T" in text and " " in text:
        text = text.replace(" ", "+")  # an unencoded '+' in a query string arrives as a space
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO 8601 date-time", {name: "e.g. 2026-03-14T10:30:00-04:00"}
        ) from None
    if moment.tzinfo is None:
        if need_offset:
            raise BadRequest(
                f"{name} needs its UTC offset", {name: "e.g. 2026-03-14T10:30:00-04:00"}
            )
        moment = moment.replace(tzinfo=UTC)
    return moment


def _minutes(value, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("duration_minutes must be a whole number", {"duration_minutes": "minutes"})
    return value


def _count(name: str, default: int, highest: int) -> int:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    number = whole_number(value)
    if number is None or not 1 <= number <= highest:
        raise BadRequest(
            f"{name} must be a whole number from 1 to {highest}", {name: f"1 to {highest}"}
        )
    return number


def _key_sent(lead_id: int) -> bool:
    """Whether the calling key may work with this lead's appointments."""
    key_id = own_leads_only()
    return key_id is None or lead_sent_with(lead_id, key_id)


def _appointment(appointment_id: int) -> Appointment:
    """The appointment, when the calling key may see it (AppointmentNotFound otherwise)."""
    appointment = services.get_appointment(None, appointment_id)
    if not _key_sent(appointment.lead_id):
        message = f"there is no appointment #{appointment_id}"
        raise services.AppointmentNotFound(message, "not_found")
    return appointment


def _refusal(error: Exception):
    if isinstance(error, BadRequest):
        return error_response(400, "invalid_request", str(error), error.fields)
    return error_response(error.status, error.code, str(error), error.fields)


@bp.post("/leads/<int:lead_id>/appointments")
@require_api_key("leads")
def book(lead_id: int):
    """Book a visit for a lead: 201, 409 slot_taken, 422 for a time that cannot be booked."""
    try:
        body = _json_body(BOOK_FIELDS)
        vins = body.get("vehicle_vins") or []
        if not isinstance(vins, list) or not all(isinstance(v, str) for v in vins):
            raise BadRequest("vehicle_vins must be a list of VINs", {"vehicle_vins": "a list"})
        notes = body.get("notes") or ""
        if not isinstance(notes, str):
            raise BadRequest("notes must be text", {"notes": "text"})
        if not _key_sent(lead_id):
            raise services.AppointmentNotFound(f"there is no lead #{lead_id}", "not_found")
        advisor = services.advisor_by_email(str(body.get("advisor_email") or ""))
        booking = services.Booking(
            advisor_id=advisor.id,
            starts_at=_moment(body.get("starts_at"), "starts_at"),
            duration_minutes=_minutes(
                body.get("duration_minutes"), current_app.config["APPOINTMENT_MINUTES"]
            ),
            kind=str(body.get("kind") or "general"),
            vehicle_refs=vins,
            notes=notes,
        )
        appointment = services.book_appointment(None, lead_id, booking, via="api")
    except (BadRequest, services.AppointmentError) as error:
        return _refusal(error)
    return jsonify(appointment_to_dict(appointment)), 201


@bp.get("/appointments")
@require_api_key("leads", "leads:read")
def list_all():
    """Appointments of one advisor (or all) starting in [from, to), by start time, paged."""
    try:
        advisor = (request.args.get("advisor_email") or request.args.get("advisor") or "").strip()
        if whole_number(advisor) is not None and len(advisor) < 10:
            advisor_id = whole_number(advisor)  # ?advisor=<user id>
        else:
            advisor_id = services.advisor_by_email(advisor).id if advisor else None
        start = (
            _moment(request.args["from"], "from", need_offset=False)
            if request.args.get("from")
            else None
        )
        end = (
            _moment(request.args["to"], "to", need_offset=False) if request.args.get("to") else None
        )
        page = _count("page", 1, 1_000_000)
        per_page = _count("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    except (BadRequest, services.AppointmentError) as error:
        return _refusal(error)
    key_id = own_leads_only()
    found, total = list_appointments(
        advisor_id,
        start,
        end,
        lead_ids=leads_sent_with(key_id) if key_id is not None else None,
        page=page,
        per_page=per_page,
    )
    kept = {name: request.args[name] for name in LIST_ARGS if request.args.get(name)}
    following = url_for(".list_all", page=page + 1, _external=True, **kept)
    return jsonify(
        items=[appointment_to_dict(a) for a in found],
        total=total,
        next=following if page * per_page < total else None,
    )


@bp.get("/appointments/<int:appointment_id>")
@require_api_key("leads", "leads:read")
def get_one(appointment_id: int):
    """One appointment."""
    try:
        return jsonify(appointment_to_dict(_appointment(appointment_id)))
    except services.AppointmentError as error:
        return _refusal(error)


@bp.patch("/appointments/<int:appointment_id>")
@require_api_key("leads")
def change(appointment_id: int):
    """Move, hand over, or set the status of a visit."""
    try:
        body = _json_body(PATCH_FIELDS)
        if not body:
            raise BadRequest(
                "nothing to change: send starts_at, duration_minutes, advisor_email or status"
            )
        appointment = _apply_patch(appointment_id, body)
    except (BadRequest, services.AppointmentError) as error:
        db.session.rollback()
        return _refusal(error)
    return jsonify(appointment_to_dict(appointment))


def _apply_patch(appointment_id: int, body: dict) -> Appointment:
    appointment = _appointment(appointment_id)
    if {"starts_at", "duration_minutes", "advisor_email"} & set(body):
        advisor = (
            services.advisor_by_email(str(body["advisor_email"]))
            if body.get("advisor_email")
            else None
        )
        appointment = services.reschedule_appointment(
            None,
            appointment_id,
            starts_at=_moment(body["starts_at"], "starts_at") if "starts_at" in body else None,
            duration_minutes=_minutes(body.get("duration_minutes"), 0) or None,
            advisor_id=advisor.id if advisor else None,
        )
    if "status" in body:
        if not isinstance(body["status"], str):
            raise BadRequest("status must be text", {"status": "text"})
        appointment = marks.mark_appointment(None, appointment_id, body["status"])
    return appointment
