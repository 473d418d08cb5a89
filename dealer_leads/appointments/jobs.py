"""The appointment sweep the worker runs every APPOINTMENT_SWEEP_SECONDS."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dealer_leads.appointments.board import describe_changes
from dealer_leads.appointments.marks import apply_mark
from dealer_leads.appointments.models import ACTIVE_STATUSES, Appointment, AppointmentVehicle
from dealer_leads.appointments.notify import local, uid_domain
from dealer_leads.cadence.services import open_task
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.timeline import record_event
from dealer_leads.messaging.email import MAIL_POLICY
from dealer_leads.messaging.senders import mail_sender_from_config

log = logging.getLogger(__name__)
BATCH = 200


@dataclass
class SweepReport:
    """What one sweep did."""

    no_shows: int = 0
    notices: int = 0


def sweep_appointments(now: datetime | None = None, mailer=None) -> SweepReport:
    """Mark no-shows and tell advisors when a booked vehicle sold or changed price."""
    now = now or now_utc()
    report = SweepReport(no_shows=mark_no_shows(now), notices=notice_vehicle_changes(now, mailer))
    if report.no_shows or report.notices:
        log.info("appointments: %s no-shows, %s vehicle notices", report.no_shows, report.notices)
    return report


def mark_no_shows(now: datetime) -> int:
    """Visits not checked in NO_SHOW_AFTER_MINUTES after their start become no-shows, and the
    lead goes to the rebook plan; one commit per visit, so one failure stops nothing else."""
    late = now - timedelta(minutes=current_app.config["NO_SHOW_AFTER_MINUTES"])
    query = (
        select(Appointment.id)
        .where(Appointment.status.in_(ACTIVE_STATUSES), Appointment.starts_at <= late)
        .order_by(Appointment.starts_at)
        .limit(BATCH)
    )
    marked = 0
    for appointment_id in list(db.session.scalars(query)):
        appointment = db.session.get(Appointment, appointment_id, with_for_update=_lock())
        # Checked again under the lock: the advisor may have tapped "shown" meanwhile.
        if appointment is None or appointment.status not in ACTIVE_STATUSES:
            db.session.rollback()
            continue
        apply_mark(appointment, "no_show", now, None)
        db.session.commit()
        marked += 1
    return marked


def _lock() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def notice_vehicle_changes(now: datetime, mailer=None) -> int:
    """A vehicle booked for an upcoming visit sold, left the lot or changed price: the advisor
    gets a task and an e-mail (once per change) and the lead's timeline says so."""
    query = (
        select(AppointmentVehicle)
        .join(Appointment, Appointment.id == AppointmentVehicle.appointment_id)
        .where(Appointment.status.in_(ACTIVE_STATUSES), Appointment.ends_at >= now)
        .options(joinedload(AppointmentVehicle.vehicle), joinedload(AppointmentVehicle.appointment))
    )
    told, letters = 0, []
    for booked in db.session.scalars(query):
        changes = describe_changes(booked)
        signature = _signature(booked)
        if not changes or booked.change_noticed == signature:
            continue
        appointment = booked.appointment
        summary = "; ".join(changes)
        record_event(
            appointment.lead,
            "vehicle_changed",
            summary,
            at=now,
            appointment_id=appointment.id,
            vehicle_id=booked.vehicle_id,
        )
        open_task(
            appointment.lead,
            f"Before the visit: {summary}",
            now,
            assignee_id=appointment.advisor_id,
        )
        booked.change_noticed = signature
        letters.append(_letter(appointment, summary))
        told += 1
    db.session.commit()  # the notice is recorded before any e-mail: never told twice
    _send(letters, mailer)
    return told


def _letter(appointment: Appointment, summary: str) -> EmailMessage:
    """A short note to the advisor: which visit, what changed."""
    starts = local(appointment.starts_at)
    customer = appointment.lead.customer.name
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = f"Before your {starts:%a %H:%M} visit with {customer}: {summary}"[:200]
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = appointment.advisor.email
    message["Message-ID"] = make_msgid(domain=uid_domain())
    message.set_content(
        f"{summary}.\n\nVisit: {starts:%A %B %d at %H:%M}, {customer}, lead "
        f"#{appointment.lead_id}.\nCall the customer before they come in.\n"
    )
    return message


def _send(letters: list[EmailMessage], mailer) -> None:
    if not letters:
        return
    sender = mailer or mail_sender_from_config(current_app.config)
    for letter in letters:
        try:
            sender.send(letter)
        except Exception:  # the task on the advisor's list stands; the log keeps the error
            log.exception("could not e-mail %s about a vehicle change", letter["To"])


def _signature(booked: AppointmentVehicle) -> str:
    vehicle = booked.vehicle
    return f"{vehicle.status} {vehicle.price or ''}"[:40]
