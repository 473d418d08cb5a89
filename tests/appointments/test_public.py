"""Pages without a log-in: confirmation links and self-scheduling, including forged links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from appointments.helpers import local, next_weekday

from dealer_leads.appointments import notify, services
from dealer_leads.appointments.models import Appointment
from dealer_leads.appointments.self_schedule import free_slots
from dealer_leads.database import now_utc
from dealer_leads.extensions import db


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _book(lead, advisor, mail, hour=11):
    booking = services.Booking(advisor.id, local(next_weekday(days=2), hour), 60, "test_drive")
    return services.book_appointment(None, lead.id, booking, mailer=mail)


def test_confirmation_link_shows_then_confirms_on_the_button(client, lead, advisor, mail):
    appointment = _book(lead, advisor, mail)
    link = _path(notify.confirm_url(appointment))
    page = client.get(link)
    assert page.status_code == 200 and "I'll be there" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "booked"  # a GET changes nothing
    done = client.post(link)
    assert done.status_code == 200 and "your visit is confirmed" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "confirmed"
    assert client.post(link).status_code == 200  # a second click is harmless


def test_a_tampered_or_foreign_confirmation_link_is_refused(client, lead, advisor, mail):
    appointment = _book(lead, advisor, mail)
    link = _path(notify.confirm_url(appointment))
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = client.get(tampered)
    assert response.status_code == 404 and "not valid" in response.get_data(as_text=True)
    assert client.post(tampered).status_code == 404
    assert client.get("/appointments/confirm/" + "x" * 600).status_code == 404


def test_customer_chooses_a_slot_and_gets_it(client, lead, advisor, mail):
    link = _path(notify.booking_url(lead.id, now_utc()))
    page = client.get(link)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ana Advisor" in html
    first = re.search(r'data-slot="([^"]+)"', html).group(1)
    booked = client.post(link, data={"starts_at": first, "kind": "test_drive"})
    assert booked.status_code == 200 and "You're booked" in booked.get_data(as_text=True)
    made = db.session.scalar(db.select(Appointment))
    assert made.advisor_id == advisor.id and made.booked_via == "customer"
    assert made.starts_at.isoformat() == first


def test_second_customer_on_the_same_slot_gets_a_message_and_fresh_slots(
    client, lead, advisor, mail
):
    from builders import ingest

    other_lead = db.session.get(type(lead), ingest().lead_id)
    other_lead.assigned_to_id = advisor.id
    db.session.commit()
    first_link = _path(notify.booking_url(lead.id, now_utc()))
    second_link = _path(notify.booking_url(other_lead.id, now_utc()))
    slot = re.search(r'data-slot="([^"]+)"', client.get(first_link).get_data(as_text=True)).group(1)
    assert client.post(first_link, data={"starts_at": slot}).status_code == 200
    late = client.post(second_link, data={"starts_at": slot})
    html = late.get_data(as_text=True)
    assert late.status_code == 409 and "no longer available" in html
    assert f'data-slot="{slot}"' not in html and "data-slot=" in html  # fresh times offered
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 1


def test_without_an_assigned_advisor_any_advisor_is_offered(client, lead, advisor, make_user):
    second = make_user("advisor", name="Ben Other")
    lead.assigned_to_id = None
    db.session.commit()
    slots = free_slots([advisor, second], now_utc())
    assert any(len(who) == 2 for who in slots.values())
    page = client.get(_path(notify.booking_url(lead.id, now_utc()))).get_data(as_text=True)
    assert "the first available advisor" in page


@pytest.mark.parametrize(
    "choice", ["", "nonsense", "2020-01-01T10:00:00+00:00", "2030-01-01T03:00"]
)
def test_impossible_choices_are_refused_clearly(client, lead, advisor, choice):
    link = _path(notify.booking_url(lead.id, now_utc()))
    response = client.post(link, data={"starts_at": choice})
    assert response.status_code in (400, 409, 422)
    assert "data-slot=" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 0


def test_expired_forged_and_closed_links(client, app, lead, advisor):
    old = _path(notify.booking_url(lead.id, now_utc() - timedelta(days=400)))
    expired = client.get(old)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    link = _path(notify.booking_url(lead.id, now_utc()))
    forged = link.replace(link.split("/")[-1], link.split("/")[-1][::-1])
    assert client.get(forged).status_code == 404
    lead.status = "sold"
    db.session.commit()
    assert client.get(link).status_code == 410


def test_an_unassigned_lead_goes_to_the_advisor_of_the_chosen_slot(
    client, lead, advisor, make_user
):
    from dealer_leads.leads.models import LeadEvent

    def assignments() -> list[str]:
        query = db.select(LeadEvent.summary).where(
            LeadEvent.lead_id == lead.id, LeadEvent.kind == "assigned"
        )
        return list(db.session.scalars(query.order_by(LeadEvent.id)))

    make_user("advisor", name="Ben Other")
    lead.assigned_to_id = None
    db.session.commit()
    before = assignments()
    link = _path(notify.booking_url(lead.id, now_utc()))
    slot = re.search(r'data-slot="([^"]+)"', client.get(link).get_data(as_text=True)).group(1)
    assert client.post(link, data={"starts_at": slot}).status_code == 200
    db.session.expire_all()
    made = db.session.scalar(db.select(Appointment))
    assert made.lead.assigned_to_id == made.advisor_id
    assert assignments() == [*before, f"Assigned to {made.advisor.name}"]


def test_choosing_again_through_the_link_moves_the_visit(client, lead, advisor):
    link = _path(notify.booking_url(lead.id, now_utc()))
    slots = re.findall(r'data-slot="([^"]+)"', client.get(link).get_data(as_text=True))
    first, second = slots[0], slots[3]
    assert "You're booked" in client.post(link, data={"starts_at": first}).get_data(as_text=True)
    page = client.get(link).get_data(as_text=True)
    assert 'id="current"' in page and "Choosing another time below moves that visit" in page
    assert f'data-slot="{first}"' not in page  # the time they have is not offered again
    moved = client.post(link, data={"starts_at": second})
    html = moved.get_data(as_text=True)
    assert moved.status_code == 200 and "Your visit has moved" in html and 'id="moved"' in html
    db.session.expire_all()
    (visit,) = db.session.scalars(db.select(Appointment)).all()
    assert visit.starts_at.isoformat() == second and visit.sequence == 1
    assert visit.status == "booked" and visit.advisor_id == advisor.id


def test_a_second_choice_moves_a_visit_the_staff_booked(lead, advisor, mail):
    from dealer_leads.appointments.self_schedule import book_chosen_slot, offer
    from dealer_leads.appointments.tokens import schedule_token

    staff_visit = _book(lead, advisor, mail)
    now = now_utc()
    token = schedule_token(app_secret(), lead.id, now, timedelta(days=7))
    chosen_start = offer(lead, now).days[0][1][0]
    chosen = book_chosen_slot(token, chosen_start.isoformat(), "appraisal", now, mail)
    assert chosen.appointment.id == staff_visit.id and chosen.moved_from == local(
        next_weekday(days=2), 11
    )
    assert db.session.scalar(db.select(db.func.count(Appointment.id))) == 1
    assert staff_visit.starts_at == chosen_start
    assert mail.sent[-1]["Subject"].startswith("Updated: ")
    assert "Your visit has moved." in mail.sent[-1].get_body(("plain",)).get_content()


def app_secret() -> str:
    from flask import current_app

    return current_app.config["SECRET_KEY"]
