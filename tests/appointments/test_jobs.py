"""The worker's sweep: no-shows after the setting's minutes; sold and re-priced vehicles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from appointments.helpers import TORONTO, FakeMail, local

from dealer_leads.appointments import marks, services
from dealer_leads.appointments.jobs import sweep_appointments
from dealer_leads.cadence.models import LeadCadence, Touch
from dealer_leads.extensions import db
from dealer_leads.leads.models import LeadEvent

NOW = datetime(2026, 6, 2, 9, 0, tzinfo=TORONTO).astimezone(UTC)
THURSDAY = date(2026, 6, 4)


def _book(lead, advisor, mail, starts, **extra):
    booking = services.Booking(advisor.id, starts, 60, "test_drive", **extra)
    return services.book_appointment(None, lead.id, booking, now=NOW, mailer=mail)


def test_not_checked_in_after_the_setting_becomes_a_no_show(app, lead, advisor, mail):
    starts = local(THURSDAY, 10)
    appointment = _book(lead, advisor, mail, starts)
    minutes = app.config["NO_SHOW_AFTER_MINUTES"]
    assert sweep_appointments(starts + timedelta(minutes=minutes - 1)).no_shows == 0
    assert appointment.status == "booked"
    assert sweep_appointments(starts + timedelta(minutes=minutes)).no_shows == 1
    db.session.refresh(appointment)
    assert appointment.status == "no_show"
    cadence = db.session.scalar(db.select(LeadCadence).where(LeadCadence.lead_id == lead.id))
    assert cadence.plan.key == "noshow_rebook"
    summaries = db.session.scalars(db.select(LeadEvent.summary).where(LeadEvent.lead_id == lead.id))
    assert any("no-show (automatic)" in s for s in summaries)
    assert sweep_appointments(starts + timedelta(hours=3)).no_shows == 0  # only once


def test_shown_visits_are_left_alone(lead, advisor, mail):
    starts = local(THURSDAY, 10)
    appointment = _book(lead, advisor, mail, starts)
    marks.mark_appointment(None, appointment.id, "shown", now=starts)
    assert sweep_appointments(starts + timedelta(hours=2)).no_shows == 0
    assert appointment.status == "shown"


def test_a_sold_or_repriced_vehicle_is_told_once(lead, advisor, vehicle, mail):
    _book(lead, advisor, mail, local(THURSDAY, 10), vehicle_ids=[vehicle.id])
    told = FakeMail()
    assert sweep_appointments(NOW, told).notices == 0
    vehicle.price = Decimal("42995.00")
    db.session.commit()
    assert sweep_appointments(NOW, told).notices == 1
    assert sweep_appointments(NOW, told).notices == 0  # the same change is told once
    vehicle.status = "sold"
    db.session.commit()
    assert sweep_appointments(NOW, told).notices == 1
    assert [m["To"] for m in told.sent] == [advisor.email, advisor.email]
    assert "Before your Thu 10:00 visit with" in told.sent[-1]["Subject"]
    assert "H2519 has SOLD" in told.sent[-1]["Subject"]
    tasks = db.session.scalars(
        db.select(Touch).where(Touch.lead_id == lead.id, Touch.channel == "task").order_by(Touch.id)
    ).all()
    assert [t.assigned_to_id for t in tasks] == [advisor.id, advisor.id]
    assert "Price changed from $44,995 to $42,995" in tasks[0].title
    assert "H2519 has SOLD since the booking" in tasks[1].title
