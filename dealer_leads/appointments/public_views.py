"""Pages without a log-in: calendar subscriptions, confirmation links, self-scheduling.

The confirmation link shows a page with a button (POST with CSRF): mail scanners that open
every link must not confirm visits on the customer's behalf.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from dealer_leads.appointments import board as boards
from dealer_leads.appointments import confirmations, self_schedule, services
from dealer_leads.appointments.forms import ChooseSlotForm
from dealer_leads.appointments.models import APPOINTMENT_KINDS
from dealer_leads.appointments.tokens import LinkRefused
from dealer_leads.database import now_utc
from dealer_leads.extensions import db, limiter

bp = Blueprint("booking", __name__)

LINK_STATUS = {"expired": 410, "closed": 410, "invalid": 404}


@bp.get("/calendar/<token>.ics")
@limiter.limit("120 per minute")
def calendar_feed(token: str):
    """The advisor's private subscription feed."""
    advisor = boards.advisor_for_calendar(token)
    if advisor is None:
        abort(404, "There is no calendar at this address (it may have been reset).")
    body = boards.calendar_feed(advisor, now_utc())
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _link_refused(error: LinkRefused):
    return render_template("appointments/link_problem.html", message=str(error)), LINK_STATUS.get(
        error.code, 400
    )


@bp.route("/appointments/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def confirm(token: str):
    """Show the visit; the button confirms it."""
    try:
        if request.method == "POST":  # CSRF checked by the app for every form post
            appointment = confirmations.confirm_by_link(token)
        else:
            appointment = confirmations.appointment_for_link(token)
    except LinkRefused as error:
        return _link_refused(error)
    except services.AppointmentError as error:
        db.session.rollback()
        return render_template("appointments/link_problem.html", message=str(error)), 409
    return render_template(
        "appointments/confirm.html", appointment=appointment, kinds=APPOINTMENT_KINDS
    )


@bp.route("/book/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def choose(token: str):
    """The open times over the coming days; choosing one books it (or moves the visit the
    customer already has)."""
    now = now_utc()
    form = ChooseSlotForm()
    problem, status = "", 200
    try:
        lead = self_schedule.lead_for_link(token, now)
        if request.method == "POST":
            if not form.validate_on_submit():
                problem, status = "Choose one of the times below.", 400
            else:
                chosen = self_schedule.book_chosen_slot(
                    token, form.starts_at.data, form.kind.data, now
                )
                return render_template(
                    "appointments/booked.html",
                    appointment=chosen.appointment,
                    moved_from=chosen.moved_from,
                    kinds=APPOINTMENT_KINDS,
                )
    except LinkRefused as error:
        return _link_refused(error)
    except services.AppointmentError as error:
        db.session.rollback()
        problem, status = str(error), error.status
        lead = self_schedule.lead_for_link(token, now)
    offer = self_schedule.offer(lead, now)
    return render_template(
        "appointments/choose.html", offer=offer, form=form, problem=problem
    ), status
