"""The board (advisor and supervisor), booking from the lead page, one-tap marks, roles, CSRF."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from appointments.helpers import begun, local, next_weekday

from dealer_leads.appointments import services
from dealer_leads.appointments.models import Appointment
from dealer_leads.database import now_utc
from dealer_leads.extensions import db


def _book_today_or_soon(lead, advisor, mail, hour=11):
    """A visit on the next open day, so the board's week view shows it."""
    day = next_weekday(days=1)
    booking = services.Booking(advisor.id, local(day, hour), 60, "test_drive", vehicle_ids=[])
    return services.book_appointment(None, lead.id, booking, mailer=mail), day


def _sign_in(client, user):
    from support import login

    login(client, user)


def test_advisor_board_shows_the_card_with_tap_links(client, lead, advisor, vehicle, mail):
    lead.vehicles[0].vehicle_id = vehicle.id
    db.session.commit()
    appointment, day = _book_today_or_soon(lead, advisor, mail)
    _sign_in(client, advisor)
    page = client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True)
    assert f'id="appointment-{appointment.id}"' in page
    assert (
        f'href="tel:{lead.customer.phone}"' in page and f'href="sms:{lead.customer.phone}"' in page
    )
    assert f'href="mailto:{lead.customer.email}"' in page
    assert "Stock H2519" in page and "available" in page
    assert "Appointment booked" in page  # the lead's history
    assert 'name="viewport"' in page


def test_board_says_plainly_when_the_vehicle_sold(client, lead, advisor, vehicle, mail):
    day = next_weekday(days=1)
    booking = services.Booking(
        advisor.id, local(day, 11), 60, "test_drive", vehicle_ids=[vehicle.id]
    )
    services.book_appointment(None, lead.id, booking, mailer=mail)
    vehicle.status = "sold"
    db.session.commit()
    _sign_in(client, advisor)
    page = client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True)
    assert "H2519 has SOLD since the booking" in page and 'role="alert"' in page


def test_advisor_sees_only_their_own_visits(client, lead, advisor, make_user, mail):
    appointment, day = _book_today_or_soon(lead, advisor, mail)
    other = make_user("advisor")
    _sign_in(client, other)
    page = client.get(f"/appointments?day={day.isoformat()}&span=week").get_data(as_text=True)
    assert f"appointment-{appointment.id}" not in page
    refused = client.post(f"/appointments/{appointment.id}/mark", data={"status": "shown"})
    assert refused.status_code == 404
    assert db.session.get(Appointment, appointment.id).status == "booked"


def test_one_tap_marks_shown(client, lead, advisor, mail):
    appointment, _ = _book_today_or_soon(lead, advisor, mail)
    day = begun(appointment)
    _sign_in(client, advisor)
    response = client.post(
        f"/appointments/{appointment.id}/mark",
        data={"status": "shown", "next": f"/appointments?day={day.isoformat()}"},
    )
    assert response.status_code == 303 and response.location.endswith(f"day={day.isoformat()}")
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "shown"
    bad = client.post(f"/appointments/{appointment.id}/mark", data={"status": "teleported"})
    assert bad.status_code == 303
    assert "Not done" in client.get(bad.location).get_data(as_text=True)
    offsite = client.post(
        f"/appointments/{appointment.id}/note",
        data={"text": "<script>x</script>", "next": "//evil.example/"},
    )
    assert offsite.location == "/appointments"
    page = client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True)
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_supervisor_sees_advisors_side_by_side_and_moves_a_visit(
    client, lead, advisor, make_user, mail
):
    appointment, day = _book_today_or_soon(lead, advisor, mail)
    other = make_user("advisor", name="Ben Other")
    boss = make_user("supervisor")
    _sign_in(client, boss)
    page = client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True)
    assert f'data-advisor="{advisor.id}"' in page and f'data-advisor="{other.id}"' in page
    response = client.post(
        f"/appointments/{appointment.id}/reassign", data={"advisor_id": other.id}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).advisor_id == other.id


def test_advisor_cannot_reassign(client, lead, advisor, make_user, mail):
    appointment, _ = _book_today_or_soon(lead, advisor, mail)
    other = make_user("advisor")
    _sign_in(client, advisor)
    assert (
        client.post(
            f"/appointments/{appointment.id}/reassign", data={"advisor_id": other.id}
        ).status_code
        == 403
    )


def test_book_from_the_lead_page(client, lead, advisor, vehicle):
    lead.vehicles[0].vehicle_id = vehicle.id
    db.session.commit()
    _sign_in(client, advisor)
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Book an appointment" in page and f'value="{vehicle.id}"' in page
    day = next_weekday(days=2)
    form = {
        "advisor_id": advisor.id,
        "day": day.isoformat(),
        "clock": "14:30",
        "duration": 45,
        "kind": "appraisal",
        "vehicle_ids": [vehicle.id],
        "other_vehicles": "",
        "notes": "Trade",
    }
    response = client.post(f"/leads/{lead.id}/appointments", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    made = db.session.scalar(db.select(Appointment))
    assert made.starts_at == local(day, 14, 30) and made.kind == "appraisal"
    assert [v.vehicle_id for v in made.vehicles] == [vehicle.id]
    again = client.post(f"/leads/{lead.id}/appointments", data=form)
    assert again.status_code == 303
    assert "already has a visit at 14:30" in client.get(again.location).get_data(as_text=True)


def test_booking_form_refusals_are_clear(client, lead, advisor):
    _sign_in(client, advisor)
    url = f"/leads/{lead.id}/appointments"
    missing = client.post(url, data={"advisor_id": advisor.id, "day": "", "clock": "x"})
    assert "Date" in client.get(missing.location).get_data(as_text=True)
    yesterday = (now_utc() - timedelta(days=2)).date().isoformat()
    past = client.post(
        url,
        data={
            "advisor_id": advisor.id,
            "day": yesterday,
            "clock": "10:00",
            "duration": 60,
            "kind": "general",
        },
    )
    assert "in the past" in client.get(past.location).get_data(as_text=True)


@pytest.mark.parametrize(
    "role, status",
    [(None, 302), ("webmaster", 403), ("advisor", 200), ("supervisor", 200), ("admin", 200)],
)
def test_board_roles(client, make_user, dealership, role, status):
    if role:
        _sign_in(client, make_user(role))
    assert client.get("/appointments").status_code == status


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_forms_need_csrf(app_factory, lead, advisor, mail):
    appointment, day = _book_today_or_soon(lead, advisor, mail)
    begun(appointment)
    email = advisor.email
    db.session.commit()  # end this session's SQLite transaction: the other app's session writes
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login", data={"email": email, "password": "password123", "csrf_token": token}
    )
    assert signed_in.status_code == 302
    url = f"/appointments/{appointment.id}/mark"
    refused = client.post(url, data={"status": "shown"})
    assert refused.status_code == 400 and "form expired" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "booked"
    token = _csrf_token(client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True))
    assert client.post(url, data={"status": "shown", "csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "shown"


def test_bad_board_filters_are_400(client, login_as, dealership):
    login_as("advisor")
    assert client.get("/appointments?day=someday").status_code == 400


def test_lead_page_counts_reminders_from_the_visit_not_from_arrival(client, lead, advisor, mail):
    from dealer_leads.cadence.models import Touch

    _book_today_or_soon(lead, advisor, mail)
    reminders = db.session.scalars(
        db.select(Touch).where(
            Touch.lead_id == lead.id, Touch.template_key == "appointment_reminder"
        )
    ).all()
    assert reminders
    _sign_in(client, advisor)
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    for touch in reminders:
        item = re.search(rf'data-touch="{touch.id}">(.*?)</li>', page, re.S).group(1)
        assert "after arrival" not in item


def _card(page: str, appointment_id: int) -> str:
    return re.search(rf'id="appointment-{appointment_id}".*?</article>', page, re.S).group(0)


def test_no_show_and_shown_appear_only_when_the_visit_is_due(client, lead, advisor, mail):
    appointment, day = _book_today_or_soon(lead, advisor, mail)
    _sign_in(client, advisor)
    card = _card(
        client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True), appointment.id
    )
    assert 'value="confirmed"' in card
    assert 'value="no_show"' not in card and 'value="shown"' not in card
    early = client.post(f"/appointments/{appointment.id}/mark", data={"status": "no_show"})
    assert "has not started yet" in client.get(early.location).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "booked"

    started = begun(appointment)
    page = client.get(f"/appointments?day={started.isoformat()}").get_data(as_text=True)
    card = _card(page, appointment.id)
    assert 'value="no_show"' in card and 'value="shown"' in card
    late = client.post(f"/appointments/{appointment.id}/mark", data={"status": "no_show"})
    assert late.status_code == 303
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).status == "no_show"


def test_a_deactivated_advisor_keeps_a_column_while_visits_remain(
    client, lead, advisor, make_user, mail
):
    appointment, day = _book_today_or_soon(lead, advisor, mail)
    other = make_user("advisor", name="Ben Other")
    advisor.active = False
    db.session.commit()
    _sign_in(client, make_user("supervisor"))
    page = client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True)
    column = re.search(rf'<section[^>]*data-advisor="{advisor.id}".*?</section>', page, re.S)
    assert column is not None and "data-inactive" in column.group(0)
    assert "inactive" in column.group(0) and f'id="appointment-{appointment.id}"' in column.group(0)
    assert "has 1 to come" in column.group(0)
    other_day = (day + timedelta(days=14)).isoformat()
    elsewhere = client.get(f"/appointments?day={other_day}").get_data(as_text=True)
    assert f'data-advisor="{advisor.id}"' in elsewhere  # seen from any day, with a way to it

    moved = client.post(f"/appointments/{appointment.id}/reassign", data={"advisor_id": other.id})
    assert moved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Appointment, appointment.id).advisor_id == other.id
    page = client.get(f"/appointments?day={day.isoformat()}").get_data(as_text=True)
    assert f'data-advisor="{advisor.id}"' not in page  # nothing left to move: no column
