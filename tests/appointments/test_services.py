"""Booking, refusals, rescheduling, cancelling and marking, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from appointments.helpers import TORONTO, FakeMail, local

from dealer_leads.appointments import marks, services
from dealer_leads.appointments.models import Appointment
from dealer_leads.cadence.models import LeadCadence, Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import LeadEvent

NOW = datetime(2026, 6, 2, 10, 0, tzinfo=TORONTO).astimezone(UTC)  # a Tuesday
THURSDAY = date(2026, 6, 4)


def _book(lead, advisor, starts, mail, minutes=60, **extra):
    booking = services.Booking(
        advisor_id=advisor.id,
        starts_at=starts,
        duration_minutes=minutes,
        kind="test_drive",
        **extra,
    )
    return services.book_appointment(None, lead.id, booking, now=NOW, mailer=mail)


def _events(lead_id: int, kind: str = "appointment") -> list[str]:
    query = db.select(LeadEvent.summary).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == kind)
    return list(db.session.scalars(query.order_by(LeadEvent.at, LeadEvent.id)))


def test_booking_stores_the_visit_and_moves_the_lead(lead, advisor, vehicle, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 30), mail, vehicle_refs=["h2519"])
    assert appointment.status == "booked" and appointment.sequence == 0
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=60)
    assert appointment.uid.endswith("@localhost") or "@" in appointment.uid
    assert [
        (v.vehicle.stock_number, v.price_at_booking, v.status_at_booking)
        for v in appointment.vehicles
    ] == [("H2519", vehicle.price, "available")]
    assert lead.status == "appointment"
    assert _events(lead.id) == [
        "Appointment booked: Test drive Thu Jun 4 at 10:30 (60 min) with Ana Advisor"
    ]


def test_booking_switches_to_the_confirmation_plan_counted_from_the_visit(lead, advisor, mail):
    starts = local(THURSDAY, 10, 30)
    _book(lead, advisor, starts, mail)
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.plan.key == "appointment_confirmation" and cadence.state == "active"
    pending = db.session.scalars(
        db.select(Touch)
        .where(Touch.lead_id == lead.id, Touch.status == "scheduled")
        .order_by(Touch.due_at, Touch.id)
    ).all()
    plan = [(t.channel, t.template_key, t.due_at) for t in pending]
    assert plan[0] == ("auto_sms", "appointment_confirmation_sms", NOW)  # at once
    assert ("auto_email", "appointment_reminder", starts - timedelta(days=1)) in plan
    assert ("auto_sms", "appointment_reminder_sms", starts - timedelta(days=1)) in plan
    assert ("auto_email", "appointment_reminder", starts - timedelta(hours=2)) in plan
    assert ("auto_sms", "appointment_reminder_sms", starts - timedelta(hours=2)) in plan


def test_the_customer_gets_the_invitation_with_its_ics(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 30), mail)
    (message,) = mail.sent
    assert message["To"].endswith(f"{lead.customer.email}>") or lead.customer.email in message["To"]
    assert "Thursday, June 4 at 10:30 AM" in message["Subject"]
    calendar = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert calendar and calendar[0].get_param("method") == "REQUEST"
    assert appointment.uid in calendar[0].get_content()
    text = message.get_body(("plain",)).get_content()
    assert "/appointments/confirm/" in text


@pytest.mark.parametrize(
    "starts, code",
    [
        (NOW - timedelta(hours=1), "in_the_past"),
        (local(THURSDAY, 8, 0), "outside_hours"),
        (local(THURSDAY, 20, 30), "outside_hours"),  # ends after closing
        (local(date(2026, 6, 7), 11, 0), "outside_hours"),  # a Sunday
    ],
)
def test_refusals_name_the_problem(lead, advisor, mail, starts, code):
    with pytest.raises(services.AppointmentError) as refused:
        _book(lead, advisor, starts, mail)
    assert refused.value.code == code and refused.value.status == 422
    assert "starts_at" in refused.value.fields
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 0


def test_an_overlap_with_the_same_advisor_is_refused(lead, advisor, make_user, mail):
    _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    with pytest.raises(services.SlotTaken) as refused:
        _book(lead, advisor, local(THURSDAY, 10, 30), mail)
    assert refused.value.status == 409 and "10:00" in str(refused.value)
    _book(lead, advisor, local(THURSDAY, 11, 0), mail)  # back to back is fine
    other = make_user("advisor")
    _book(lead, other, local(THURSDAY, 10, 30), mail)  # another advisor is free


def test_reschedule_keeps_the_uid_raises_the_sequence_and_sends_the_update(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    uid = appointment.uid
    moved = services.reschedule_appointment(
        None, appointment.id, starts_at=local(THURSDAY, 15, 0), now=NOW, mailer=mail
    )
    assert moved.uid == uid and moved.sequence == 1
    assert moved.starts_at == local(THURSDAY, 15, 0)
    assert mail.sent[-1]["Subject"].startswith("Updated: ")
    assert "moved from Test drive Thu Jun 4 at 10:00" in _events(lead.id)[-1]


def test_cancel_tells_the_customer_and_stops_reminders(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    services.cancel_appointment(None, appointment.id, "car trouble", now=NOW, mailer=mail)
    assert appointment.status == "cancelled" and appointment.sequence == 1
    parts = [p for p in mail.sent[-1].walk() if p.get_content_type() == "text/calendar"]
    assert parts[0].get_param("method") == "CANCEL"
    assert "STATUS:CANCELLED" in parts[0].get_content()
    pending = db.session.scalars(
        db.select(Touch).where(Touch.lead_id == lead.id, Touch.status == "scheduled")
    ).all()
    assert pending == []
    task = db.session.scalar(
        db.select(Touch).where(Touch.lead_id == lead.id, Touch.status == "open")
    )
    assert task.title.startswith("Appointment cancelled") and task.assigned_to_id == advisor.id
    assert lead.status == "engaged"
    assert _events(lead.id)[-1].endswith("(car trouble)")
    with pytest.raises(services.AppointmentError, match="cancelled"):
        services.cancel_appointment(None, appointment.id, now=NOW, mailer=mail)


def test_marks_move_the_lead_along(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    later = local(THURSDAY, 10, 5)
    marks.mark_appointment(None, appointment.id, "confirmed", now=later)
    assert appointment.confirmed_at == later
    marks.mark_appointment(None, appointment.id, "shown", now=later)
    assert lead.status == "shown" and appointment.shown_at == later
    marks.mark_appointment(None, appointment.id, "sold", now=later)
    assert lead.status == "sold" and appointment.status == "sold"
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.plan.key == "owner_loyalty"
    assert appointment.sequence == 3


def test_no_show_switches_to_the_rebook_plan(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    marks.mark_appointment(None, appointment.id, "no_show", now=local(THURSDAY, 10, 45))
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.plan.key == "noshow_rebook"
    assert lead.status == "engaged"


def test_impossible_marks_are_refused(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    marks.mark_appointment(None, appointment.id, "shown", now=local(THURSDAY, 9, 50))
    with pytest.raises(services.AppointmentError, match="cannot be marked no-show"):
        marks.mark_appointment(None, appointment.id, "no_show", now=local(THURSDAY, 11, 0))
    with pytest.raises(services.AppointmentError, match="status must be one of"):
        marks.mark_appointment(None, appointment.id, "maybe", now=NOW)


def test_an_advisor_sees_only_their_own(lead, advisor, make_user, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    stranger = make_user("advisor")
    with pytest.raises(services.AppointmentNotFound):
        marks.mark_appointment(stranger, appointment.id, "shown", now=NOW)
    with pytest.raises(services.AppointmentError, match="only the supervisor"):
        services.reschedule_appointment(advisor, appointment.id, advisor_id=stranger.id, now=NOW)


def test_a_supervisor_moves_a_visit_to_another_advisor(lead, advisor, make_user, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    boss, other = make_user("supervisor"), make_user("advisor", name="Ben Other")
    services.reschedule_appointment(boss, appointment.id, advisor_id=other.id, now=NOW, mailer=mail)
    assert appointment.advisor_id == other.id and appointment.sequence == 1
    assert "handed from Ana Advisor to Ben Other" in _events(lead.id)[-1]


def test_reminders_keep_the_wall_clock_across_the_spring_dst_change(lead, advisor, mail):
    """Monday March 9 2026 at 10:00 follows the Sunday the clocks go forward: the day-before
    reminder is Sunday at 10:00 EDT (14:00 UTC), not 9:00; the two-hour one 8:00 EDT."""
    booked_at = datetime(2026, 3, 6, 12, 0, tzinfo=TORONTO).astimezone(UTC)
    starts = datetime(2026, 3, 9, 10, 0, tzinfo=TORONTO).astimezone(UTC)
    booking = services.Booking(advisor.id, starts, 60, "test_drive")
    services.book_appointment(None, lead.id, booking, now=booked_at, mailer=mail)
    due = {
        (t.channel, t.due_at)
        for t in db.session.scalars(
            db.select(Touch).where(Touch.lead_id == lead.id, Touch.status == "scheduled")
        )
    }
    assert ("auto_email", datetime(2026, 3, 8, 14, 0, tzinfo=UTC)) in due
    assert ("auto_sms", datetime(2026, 3, 8, 14, 0, tzinfo=UTC)) in due
    assert ("auto_email", datetime(2026, 3, 9, 12, 0, tzinfo=UTC)) in due


def test_a_booking_at_short_notice_skips_reminders_already_past(lead, advisor, mail):
    starts = NOW + timedelta(hours=3)
    booking = services.Booking(advisor.id, starts, 60, "general")
    services.book_appointment(None, lead.id, booking, now=NOW, mailer=mail)
    due = sorted(
        t.due_at
        for t in db.session.scalars(
            db.select(Touch).where(Touch.lead_id == lead.id, Touch.status == "scheduled")
        )
    )
    assert due[0] == NOW and all(d >= NOW for d in due)
    assert starts - timedelta(days=1) not in due


def test_a_nonexistent_wall_time_from_the_form_is_refused(client, login_as, lead, dealership):
    user = login_as("supervisor")
    form = {
        "advisor_id": user.id,
        "day": "2030-03-10",
        "clock": "02:30",
        "duration": 60,
        "kind": "general",
    }
    response = client.post(f"/leads/{lead.id}/appointments", data=form)
    assert "does not exist" in client.get(response.location).get_data(as_text=True)


def _open_tasks(lead_id: int) -> list[Touch]:
    query = db.select(Touch).where(Touch.lead_id == lead_id, Touch.status == "open")
    return list(db.session.scalars(query.order_by(Touch.id)))


def test_handing_a_visit_over_hands_over_the_lead_and_tells_both(lead, advisor, make_user, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    boss, other = make_user("supervisor"), make_user("advisor", name="Ben Other")
    services.reschedule_appointment(boss, appointment.id, advisor_id=other.id, now=NOW, mailer=mail)
    assert lead.assigned_to_id == other.id
    assert "Reassigned from Ana Advisor to Ben Other" in _events(lead.id, "assigned")
    (task,) = _open_tasks(lead.id)
    assert task.assigned_to_id == other.id
    assert task.title.startswith("Visit handed to you by Ana Advisor") and "Jun 4" in task.title
    assert len(mail.sent) == 2  # the invitation, then the update naming the new advisor
    update = mail.sent[-1]
    assert update["Subject"].startswith("Updated: ")
    assert "Your visit is now with Ben Other." in update.get_body(("plain",)).get_content()
    (calendar,) = [p for p in update.walk() if p.get_content_type() == "text/calendar"]
    ics = calendar.get_content()
    assert calendar.get_param("method") == "REQUEST"
    assert appointment.uid in ics and "SEQUENCE:1" in ics and other.email in ics
    assert appointment.status == "booked" and appointment.starts_at == local(THURSDAY, 10, 0)


def test_handing_over_leaves_a_lead_someone_else_owns(lead, advisor, make_user, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    owner, other = make_user("advisor", name="Cleo Owner"), make_user("advisor", name="Ben Other")
    lead.assigned_to_id = owner.id
    db.session.commit()
    services.reschedule_appointment(None, appointment.id, advisor_id=other.id, now=NOW, mailer=mail)
    assert lead.assigned_to_id == owner.id
    assert not any("Ben Other" in line for line in _events(lead.id, "assigned"))
    assert [t.assigned_to_id for t in _open_tasks(lead.id)] == [other.id]


def test_a_visit_booked_without_vehicles_takes_the_stock_vehicles_asked_about(
    lead, advisor, vehicle, mail
):
    from decimal import Decimal

    from dealer_leads.appointments.jobs import notice_vehicle_changes
    from dealer_leads.inventory.models import Vehicle
    from dealer_leads.leads.models import LeadVehicle

    trade = Vehicle(vin="2HGFC2F59JH000001", stock_number="T100", year=2018, make="Honda")
    db.session.add(trade)
    lead.vehicles[0].vehicle = vehicle
    lead.vehicles.append(LeadVehicle(interest="trade-in", make="Honda", vehicle=trade))
    db.session.commit()
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    assert [(v.vehicle_id, v.price_at_booking) for v in appointment.vehicles] == [
        (vehicle.id, Decimal("44995.00"))
    ]
    vehicle.status = "sold"
    db.session.commit()
    advisor_mail = FakeMail()
    assert notice_vehicle_changes(NOW, advisor_mail) == 1
    assert "H2519 has SOLD since the booking" in advisor_mail.sent[0]["Subject"]


def test_no_show_waits_for_the_start_and_shown_for_an_hour_before(lead, advisor, mail):
    appointment = _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    with pytest.raises(services.AppointmentError, match="has not started yet") as early:
        marks.mark_appointment(None, appointment.id, "no_show", now=local(THURSDAY, 9, 59))
    assert early.value.code == "too_early" and "status" in early.value.fields
    with pytest.raises(services.AppointmentError, match="marked shown from 09:00"):
        marks.mark_appointment(None, appointment.id, "shown", now=local(THURSDAY, 8, 59))
    assert appointment.status == "booked"
    marks.mark_appointment(None, appointment.id, "no_show", now=local(THURSDAY, 10, 0))
    assert appointment.status == "no_show"
    marks.mark_appointment(None, appointment.id, "shown", now=local(THURSDAY, 10, 20))
    assert appointment.status == "shown"  # a late arrival after all

    walk_in = _book(lead, advisor, local(THURSDAY, 14, 0), mail)
    marks.mark_appointment(None, walk_in.id, "shown", now=local(THURSDAY, 13, 0))
    assert walk_in.status == "shown"  # an hour early is fine


def test_the_invitation_keeps_its_reply_token_and_a_reply_to_it_finds_the_lead(lead, advisor, mail):
    from email.message import EmailMessage

    from dealer_leads.messaging.email import token_from_address
    from dealer_leads.messaging.mailbox_services import receive_email
    from dealer_leads.messaging.models import OutboundMessage

    _book(lead, advisor, local(THURSDAY, 10, 0), mail)
    (message,) = mail.sent
    token = token_from_address(message["Reply-To"])
    stored = db.session.scalar(db.select(OutboundMessage).where(OutboundMessage.lead_id == lead.id))
    assert token and stored.reply_token == token
    reply = EmailMessage()
    reply["From"] = "someone.else@example.com"  # not the customer's address: only the token tells
    reply["To"] = message["Reply-To"]
    reply["Subject"] = "Can I come at 11 instead?"
    reply["Message-ID"] = "<reply.1@example.com>"
    reply.set_content("Can I come at 11 instead?")
    outcome = receive_email(reply.as_bytes(), NOW + timedelta(hours=1))
    assert (outcome.kind, outcome.lead_ids) == ("reply", [lead.id])


@pytest.mark.parametrize(("via", "stops"), [("staff", True), ("api", False), ("customer", False)])
def test_a_booking_by_staff_stops_the_response_clock(lead, advisor, mail, via, stops):
    """Staff book with the customer: the first human contact. A self-booking is not one."""
    assert lead.first_response_at is None
    booking = services.Booking(
        advisor_id=advisor.id,
        starts_at=local(THURSDAY, 11),
        duration_minutes=30,
        kind="test_drive",
    )
    services.book_appointment(None, lead.id, booking, via=via, now=NOW, mailer=mail)
    db.session.refresh(lead)
    assert (lead.first_response_at == NOW) is stops
