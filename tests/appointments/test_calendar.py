"""The .ics output: parsed by icalendar and by vobject, checked field by field; the private
feed URL, its reset, and `flask users calendar-url`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import vobject
from appointments.helpers import local, next_weekday

from dealer_leads.appointments import board, services
from dealer_leads.appointments.calendar import (
    CalendarEvent,
    Party,
    escape_text,
    feed,
    fold,
    invitation,
)
from dealer_leads.extensions import db

NOW = datetime(2026, 6, 2, 14, tzinfo=UTC)
TRICKY = "Dana O'Brien; test, drive \\ café\nline two " + "long " * 30


def _event(**changes) -> CalendarEvent:
    values = {
        "uid": "3f1c@dealer.example",
        "sequence": 2,
        "starts_at": datetime(2026, 6, 4, 14, 30, tzinfo=UTC),
        "ends_at": datetime(2026, 6, 4, 15, 30, tzinfo=UTC),
        "stamp": NOW,
        "summary": TRICKY,
        "description": "Phone +14165550123\n2025 Honda CR-V (stock H2519)",
        "location": "Maple Ridge Motors, 1200 Lakeshore Blvd W, Toronto, ON M6K 1A1",
        "status": "confirmed",
    }
    values.update(changes)
    return CalendarEvent(**values)


def test_feed_reads_the_same_in_icalendar_and_vobject():
    events = [_event(), _event(uid="second@dealer.example", sequence=0, status="cancelled")]
    body = feed("Ana Advisor · Maple Ridge", events)
    assert all(len(line.encode()) <= 75 for line in body.decode().split("\r\n"))
    parsed = icalendar.Calendar.from_ical(body)
    assert (
        str(parsed["version"]) == "2.0"
        and str(parsed["x-wr-calname"]) == "Ana Advisor · Maple Ridge"
    )
    first, second = parsed.walk("VEVENT")
    assert str(first["uid"]) == "3f1c@dealer.example"
    assert first["sequence"] == 2
    assert first["dtstart"].dt == datetime(2026, 6, 4, 14, 30, tzinfo=UTC)
    assert first["dtend"].dt == datetime(2026, 6, 4, 15, 30, tzinfo=UTC)
    assert first["dtstamp"].dt == NOW
    assert str(first["summary"]) == TRICKY
    assert str(first["location"]).startswith("Maple Ridge Motors, 1200 Lakeshore")
    assert str(first["status"]) == "CONFIRMED" and str(second["status"]) == "CANCELLED"
    card = vobject.readOne(body.decode())
    v_first, v_second = card.vevent_list
    assert v_first.uid.value == "3f1c@dealer.example"
    assert int(v_first.sequence.value) == 2
    assert v_first.dtstart.value == datetime(2026, 6, 4, 14, 30, tzinfo=UTC)
    assert v_first.dtend.value == datetime(2026, 6, 4, 15, 30, tzinfo=UTC)
    assert v_first.dtstamp.value == NOW
    assert v_first.summary.value == TRICKY
    assert v_first.description.value == "Phone +14165550123\n2025 Honda CR-V (stock H2519)"
    assert v_second.status.value == "CANCELLED"


def test_feed_matches_what_icalendar_itself_writes():
    """The fast writer and icalendar's own serialiser say the same thing, property by property."""
    event = _event()
    ours = icalendar.Calendar.from_ical(feed("x", [event])).walk("VEVENT")[0]
    theirs = icalendar.Calendar.from_ical(
        invitation(event, Party("a@x.example"), Party("c@y.example"), now=NOW)[0]
    ).walk("VEVENT")[0]
    for name in ("uid", "sequence", "summary", "description", "location", "status"):
        assert str(ours[name]) == str(theirs[name]), name
    for name in ("dtstart", "dtend", "dtstamp"):
        assert ours[name].dt == theirs[name].dt, name


def test_invitation_is_a_request_with_organizer_and_attendee_and_cancel_when_cancelled():
    body, method = invitation(
        _event(), Party("ana@dealer.example", "Ana"), Party("dana@example.com", "Dana"), now=NOW
    )
    parsed = icalendar.Calendar.from_ical(body)
    assert method == "REQUEST" and str(parsed["method"]) == "REQUEST"
    event = parsed.walk("VEVENT")[0]
    assert str(event["organizer"]) == "mailto:ana@dealer.example"
    assert str(event["attendee"]) == "mailto:dana@example.com"
    card = vobject.readOne(body.decode())
    assert (
        card.method.value == "REQUEST"
        and card.vevent.organizer.value == "mailto:ana@dealer.example"
    )
    body, method = invitation(
        _event(status="cancelled", sequence=3), Party("a@x.example"), Party("c@y.example"), now=NOW
    )
    assert method == "CANCEL"
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["status"]) == "CANCELLED" and event["sequence"] == 3


def test_escaping_and_folding():
    assert escape_text("a,b;c\\d\ne\x00") == "a\\,b\\;c\\\\d\\ne"
    folded = fold("SUMMARY:" + "é" * 80)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "é" * 80
    for text in ("a" * 74 + "🚗" * 30, "x" * 150, "日本語" * 40):
        folded = fold(text)
        assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
        assert folded.replace("\r\n ", "") == text


# --- the feed over HTTP -----------------------------------------------------------------------


def _book(lead, advisor, mail, hour=10):
    day = next_weekday(days=2)
    booking = services.Booking(advisor.id, local(day, hour), 45, "test_drive")
    return services.book_appointment(None, lead.id, booking, mailer=mail)


def _feed_events(client, token) -> dict:
    response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    parsed = icalendar.Calendar.from_ical(response.data)
    vobject.readOne(response.get_data(as_text=True))  # the other parser reads it too
    return {str(e["uid"]): e for e in parsed.walk("VEVENT")}


def test_feed_updates_keep_the_uid_and_raise_the_sequence(client, lead, advisor, mail, dealership):
    appointment = _book(lead, advisor, mail)
    token = board.calendar_token(advisor)
    events = _feed_events(client, token)
    event = events[appointment.uid]
    assert event["sequence"] == 0 and str(event["status"]) == "TENTATIVE"
    assert "1200 Lakeshore Blvd W" in str(event["location"])
    assert lead.customer.phone in str(event["description"])
    services.reschedule_appointment(
        None, appointment.id, starts_at=appointment.starts_at + timedelta(hours=2), mailer=mail
    )
    event = _feed_events(client, token)[appointment.uid]
    assert event["sequence"] == 1 and event["dtstart"].dt == appointment.starts_at
    services.cancel_appointment(None, appointment.id, mailer=mail)
    event = _feed_events(client, token)[appointment.uid]
    assert event["sequence"] == 2 and str(event["status"]) == "CANCELLED"


def test_feed_token_reset_and_unknown_tokens(client, advisor, dealership):
    old = board.calendar_token(advisor)
    assert client.get(f"/calendar/{old}.ics").status_code == 200
    new = board.calendar_token(advisor, reset=True)
    assert new != old
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    assert client.get("/calendar/nope.ics").status_code == 404
    assert client.get(f"/calendar/{'x' * 300}.ics").status_code == 404


def test_feed_of_a_disabled_user_is_gone(client, advisor, dealership):
    token = board.calendar_token(advisor)
    advisor.active = False
    db.session.commit()
    assert client.get(f"/calendar/{token}.ics").status_code == 404


def test_cli_prints_the_url_alone_on_the_last_line(runner, advisor, dealership):
    result = runner.invoke(args=["users", "calendar-url", advisor.email])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith("http") and url.endswith(".ics") and advisor.calendar_token in url
    again = runner.invoke(args=["users", "calendar-url", advisor.email]).output.strip()
    assert again.splitlines()[-1] == url  # stable until reset
    reset = runner.invoke(args=["users", "calendar-url", advisor.email, "--reset"]).output
    assert reset.strip().splitlines()[-1] != url
    missing = runner.invoke(args=["users", "calendar-url", "nobody@example.com"])
    assert missing.exit_code != 0 and "no user" in missing.output


def test_calendar_page_shows_and_resets_the_address(client, login_as, dealership):
    user = login_as("advisor")
    page = client.get("/appointments/calendar").get_data(as_text=True)
    assert "no calendar address yet" in page
    assert client.post("/appointments/calendar").status_code == 303
    db.session.refresh(user)
    assert user.calendar_token and user.calendar_token in client.get(
        "/appointments/calendar"
    ).get_data(as_text=True)
