"""What an appointment change means elsewhere: the lead's status and follow-up plan, the
customer's invitation e-mail with its .ics, and the links in messages (confirm, self-schedule).

Helpers here add and flush; `send_invitation` runs after the booking's commit and commits the
record of what it sent (or why it could not), so a failed e-mail never undoes a booking.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from dealer_leads.admin.services import dealership_zone, get_dealership
from dealer_leads.appointments.calendar import CalendarEvent, Party, invitation
from dealer_leads.appointments.models import ACTIVE_STATUSES, APPOINTMENT_KINDS, Appointment
from dealer_leads.appointments.tokens import confirm_token, schedule_token
from dealer_leads.auth.models import User
from dealer_leads.cadence import services as cadence
from dealer_leads.cadence.models import CONFIRMATION_PLAN, Touch
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.models import Lead
from dealer_leads.leads.timeline import record_event, set_assignee
from dealer_leads.messaging import consent
from dealer_leads.messaging.compliance import Hours, hours_from_settings
from dealer_leads.messaging.email import (
    build_email,
    dealership_footer,
    reply_address,
    reply_token,
    sender_domain,
)
from dealer_leads.messaging.merge_fields import build_context
from dealer_leads.messaging.models import OutboundMessage
from dealer_leads.messaging.senders import mail_sender_from_config
from dealer_leads.messaging.template_services import UnknownTemplate, get_template
from dealer_leads.messaging.templates import render_template
from dealer_leads.messaging.unsubscribe import unsubscribe_url

log = logging.getLogger(__name__)
REBOOK_PLAN = "noshow_rebook"
CONFIRMATION_TEXT = "appointment_confirmation_sms"
CONFIRM_LINK_GRACE = timedelta(days=1)


def showroom_hours() -> Hours:
    """The dealership's business hours: when visits may be booked."""
    dealership = get_dealership()
    return hours_from_settings(
        dealership.timezone, dealership.business_hours or {}, dealership.holidays or []
    )


def local(moment: datetime) -> datetime:
    """A UTC moment on the dealership's wall clock."""
    return moment.astimezone(dealership_zone())


def uid_domain() -> str:
    """The right-hand side of calendar UIDs: the sending domain, stable per installation."""
    return sender_domain(current_app.config["MAIL_DEFAULT_SENDER"]) or "dealer-leads.invalid"


def set_lead_status(lead: Lead, status: str, viewer: User | None, now: datetime, why: str) -> None:
    """Move the lead through the triage service's own status step (timeline, plans, consent)."""
    from dealer_leads.leads.services import _set_status  # the one place statuses change

    _set_status(lead, status, viewer, now, why if status == "lost" else "")


def give_lead(lead: Lead, advisor: User, viewer: User | None, now: datetime, rule: str) -> None:
    """The advisor who has the visit owns the lead too (its open tasks go along); leads are
    owned by advisors only, so a visit with a supervisor leaves the lead where it is."""
    if advisor.role == "advisor" and advisor.active:
        set_assignee(lead, advisor, by=viewer, rule=rule, at=now)


def after_hand_over(appointment: Appointment, previous: User, now: datetime, viewer) -> None:
    """The lead follows the visit when the previous advisor owned it; the new advisor gets a
    task naming the visit, so the hand-over does not go unnoticed until the day itself."""
    lead, advisor = appointment.lead, appointment.advisor
    if lead.assigned_to_id == previous.id:
        give_lead(lead, advisor, viewer, now, f"took over the visit from {previous.name}")
    when = local(appointment.starts_at)
    cadence.open_task(
        lead,
        f"Visit handed to you by {previous.name}: {lead.customer.name}, "
        f"{when:%a %b} {when.day} at {when:%H:%M}",
        now,
        assignee_id=advisor.id,
    )


# --- the follow-up plan -------------------------------------------------------------------------


def start_confirmation(lead: Lead, appointment: Appointment, now: datetime, viewer) -> None:
    """Put the lead on the confirmation plan counted from the visit (reminders before it),
    and queue the confirming text at once (quiet hours may hold it)."""
    try:
        cadence_row = cadence.switch_plan(
            lead,
            CONFIRMATION_PLAN,
            f"appointment {local(appointment.starts_at):%a %b %d %H:%M}",
            now,
            anchor=appointment.starts_at,
            by=viewer,
        )
    except cadence.CadenceError as missing:  # the plan was deleted: the booking still stands
        log.warning("no confirmation plan: %s", missing)
        return
    db.session.add(
        Touch(
            lead_id=lead.id,
            plan_id=cadence_row.plan_id,
            position=-1,
            channel="auto_sms",
            template_key=CONFIRMATION_TEXT,
            title="Appointment confirmation (text)",
            due_at=now,
            status="scheduled",
        )
    )


def after_cancel(appointment: Appointment, now: datetime, viewer) -> None:
    """Reminders stop; whoever owns the lead calls to find another time."""
    lead = appointment.lead
    cadence.stop(lead, "appointment cancelled", now, by=viewer)
    if lead.status == "appointment" and not _other_active(appointment):
        set_lead_status(lead, "engaged", viewer, now, "")
    cadence.open_task(
        lead,
        "Appointment cancelled: call to find another time",
        now,
        assignee_id=lead.assigned_to_id or appointment.advisor_id,
        channel="call_task",
    )


def after_mark(appointment: Appointment, status: str, now: datetime, viewer) -> None:
    """Shown stops the reminders; no-show starts the rebook plan; sold closes the lead."""
    lead = appointment.lead
    if status in ("shown", "sold") and lead.status in (
        "new",
        "contacted",
        "engaged",
        "appointment",
    ):
        set_lead_status(lead, "shown", viewer, now, "")
    if status == "shown":
        cadence.stop(lead, "customer came in", now, by=viewer)
    elif status == "sold" and lead.status != "sold":
        set_lead_status(lead, "sold", viewer, now, "")
    elif status == "no_show":
        if lead.status == "appointment" and not _other_active(appointment):
            set_lead_status(lead, "engaged", viewer, now, "")
        try:
            cadence.switch_plan(lead, REBOOK_PLAN, "no-show", now, by=viewer)
        except cadence.CadenceError as missing:
            log.warning("no rebook plan: %s", missing)


def _other_active(appointment: Appointment) -> bool:
    query = select(Appointment.id).where(
        Appointment.lead_id == appointment.lead_id,
        Appointment.id != appointment.id,
        Appointment.status.in_(ACTIVE_STATUSES),
    )
    return db.session.scalar(query.limit(1)) is not None


# --- links in messages --------------------------------------------------------------------------


def _external(endpoint: str, **values) -> str:
    """An absolute public URL; built from the URL map, so the worker (no request) can too."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + current_app.url_map.bind("localhost").build(endpoint, values)


def confirm_url(appointment: Appointment) -> str:
    """The customer's link to confirm; good until a day after the visit."""
    token = confirm_token(
        current_app.config["SECRET_KEY"],
        appointment.id,
        appointment.uid,
        appointment.starts_at + CONFIRM_LINK_GRACE,
    )
    return _external("booking.confirm", token=token)


def booking_url(lead_id: int, now: datetime) -> str:
    """The customer's self-scheduling link for one lead."""
    valid = timedelta(days=current_app.config["SELF_SCHEDULE_LINK_DAYS"])
    token = schedule_token(current_app.config["SECRET_KEY"], lead_id, now, valid)
    return _external("booking.choose", token=token)


def next_appointment(lead_id: int) -> Appointment | None:
    """The lead's next active visit, or its latest one."""
    query = select(Appointment).where(Appointment.lead_id == lead_id)
    active = query.where(Appointment.status.in_(ACTIVE_STATUSES)).order_by(Appointment.starts_at)
    found = db.session.scalar(active.limit(1))
    return found or db.session.scalar(query.order_by(Appointment.starts_at.desc()).limit(1))


def message_fields(lead: Lead, now: datetime | None = None) -> dict:
    """Merge fields for any message about the lead: its appointment and the booking link."""
    return {
        "appointment": next_appointment(lead.id),
        "booking_url": booking_url(lead.id, now or now_utc()),
    }


# --- the invitation e-mail ----------------------------------------------------------------------


def calendar_event(appointment: Appointment, *, for_customer: bool) -> CalendarEvent:
    """The visit as a calendar shows it: the customer's copy names the advisor, the advisor's
    the customer, phone and vehicles."""
    dealership = get_dealership()
    kind = APPOINTMENT_KINDS.get(appointment.kind, appointment.kind)
    vehicles = ", ".join(_vehicle_label(av.vehicle) for av in appointment.vehicles)
    customer = appointment.lead.customer
    if for_customer:
        summary = f"{kind} at {dealership.name}"
        lines = [f"With {appointment.advisor.name}", vehicles]
    else:
        summary = f"{kind}: {customer.name}"
        lines = [
            customer.phone,
            customer.email,
            vehicles,
            appointment.notes,
            f"Lead #{appointment.lead_id}",
        ]
    return CalendarEvent(
        uid=appointment.uid,
        sequence=appointment.sequence,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        stamp=appointment.updated_at,
        summary=summary,
        description="\n".join(line for line in lines if line),
        location=feed_location(),
        status=appointment.status,
    )


def feed_location() -> str:
    """LOCATION of every visit: the dealership's name and address."""
    dealership = get_dealership()
    return ", ".join(p for p in (dealership.name, dealership.address_line) if p)


def _vehicle_label(vehicle) -> str:
    title = " ".join(str(p) for p in (vehicle.year, vehicle.make, vehicle.model) if p)
    return f"{title} (stock {vehicle.stock_number})" if vehicle.stock_number else title


def send_invitation(
    appointment: Appointment, now: datetime, mailer=None, *, headline: str = ""
) -> bool:
    """E-mail the customer the invitation, update or cancellation with its .ics (commits what
    happened on the timeline); False when it could not or may not go. `headline` says what
    changed in an update (default: that the visit moved)."""
    lead = appointment.lead
    customer = lead.customer
    decision = consent.may_contact(customer, "email", now=now, responding_to_inquiry=True)
    if not decision.allowed or not customer.email_valid:
        reason = decision.reason if not decision.allowed else "the e-mail address bounced"
        return _note(lead, appointment, f"Invitation not e-mailed: {reason}", now)
    try:
        token = reply_token()
        message = _invitation_email(appointment, now, headline, token)
        sender = mailer or mail_sender_from_config(current_app.config)
        message_id = sender.send(message)
    except (UnknownTemplate, OSError, ValueError) as error:
        log.exception("invitation for appointment #%s", appointment.id)
        return _note(lead, appointment, f"Invitation e-mail failed: {error}", now)
    except Exception as error:  # a sender's own errors: the booking stands, a person sees it
        log.exception("invitation for appointment #%s", appointment.id)
        return _note(lead, appointment, f"Invitation e-mail failed: {error}", now)
    _record_sent(lead, appointment, message, message_id, token, now)
    return True


def _record_sent(lead: Lead, appointment: Appointment, message, message_id, token, now) -> None:
    db.session.add(
        OutboundMessage(
            lead_id=lead.id,
            channel="email",
            to_address=lead.customer.email,
            subject=str(message["Subject"])[:250],
            body=message.get_body(("plain",)).get_content(),
            message_id=str(message_id)[:250],
            # A reply that lost its In-Reply-To still reaches the lead through Reply-To.
            reply_token=token,
            status="sent",
            sent_at=now,
        )
    )
    record_event(
        lead,
        "email",
        f"E-mail sent: {message['Subject']}",
        at=now,
        appointment_id=appointment.id,
        message_id=str(message_id)[:250],
    )
    try:
        db.session.commit()
    except SQLAlchemyError:  # the e-mail went; only its record failed: say so, do not raise
        db.session.rollback()
        log.exception("recording the invitation for appointment #%s", appointment.id)


def _note(lead: Lead, appointment: Appointment, summary: str, now: datetime) -> bool:
    record_event(lead, "appointment_email", summary, at=now, appointment_id=appointment.id)
    db.session.commit()
    return False


def _invitation_email(
    appointment: Appointment, now: datetime, headline: str, token: str
) -> EmailMessage:
    lead, dealership = appointment.lead, get_dealership()
    customer = lead.customer
    context = build_context(
        lead,
        advisor=appointment.advisor,
        dealership=dealership,
        similar_vehicles=[],
        unsubscribe_url=unsubscribe_url(customer.email),
        booking_url=booking_url(lead.id, now),
        appointment=appointment,
    )
    rendered = render_template(get_template("appointment_confirmation"), context)
    rendered = _with_status(rendered, appointment, headline)
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    footer_text, footer_html = dealership_footer(dealership)
    message = build_email(
        rendered=rendered,
        to=customer.email,
        from_addr=sender,
        reply_to=reply_address(sender, token),
        message_id_domain=sender_domain(sender),
        unsubscribe_url=unsubscribe_url(customer.email),
        dealership_footer_text=footer_text,
        dealership_footer_html=footer_html,
        now=now,
    )
    ics, method = invitation(
        calendar_event(appointment, for_customer=True),
        Party(appointment.advisor.email, appointment.advisor.name),
        Party(customer.email, customer.name),
        now=now,
    )
    # Calendar clients look for text/calendar beside the text and HTML; some only for a file.
    message.add_alternative(ics.decode(), subtype="calendar", params={"method": method})
    message.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return message


def _with_status(rendered, appointment: Appointment, headline: str = ""):
    """The confirmation copy, headed by what changed: cancelled, moved, or a new visit; with
    the link to confirm while the visit is still to come."""
    from dealer_leads.messaging.templates import Rendered

    when = local(appointment.starts_at)
    when_text = f"{when:%A, %B} {when.day} at {when.hour % 12 or 12}:{when:%M %p}"
    if appointment.status == "cancelled":
        subject = f"Cancelled: {when_text} at {get_dealership().name}"
        text = f"Your visit on {when_text} is cancelled. Reply to find another time."
        return Rendered(subject=subject, text=text, html=f"<p>{text}</p>")
    link = confirm_url(appointment)
    moved = (headline or "Your visit has moved.") if appointment.sequence else ""
    text = "\n\n".join(
        p for p in (moved, rendered.text, f"Please confirm you are coming: {link}") if p
    )
    html = ""
    if rendered.html:
        # The link is ours (a signed token, URL-safe characters only); the headline may name
        # the advisor, so it is escaped.
        html = (f"<p><b>{escape(moved)}</b></p>" if moved else "") + rendered.html
        html += f'<p><a href="{link}">Confirm my visit</a></p>'

    subject = ("Updated: " if appointment.sequence else "") + rendered.subject
    return Rendered(subject=subject, text=text, html=html)
