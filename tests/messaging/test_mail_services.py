"""The leads mailbox service: what each received e-mail becomes, through the real intake, the
API, the CLI and the mailbox pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import mail_corpus as corpus
import pytest
from builders import ingest, lead_json
from sqlalchemy import func, select
from support import login

from dealer_leads.api.services import create_api_key
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.services import get_cadence, pause_automatic, stop
from dealer_leads.cadence.task_services import count_overdue_tasks, list_tasks
from dealer_leads.extensions import db
from dealer_leads.leads.contact_services import update_contact
from dealer_leads.leads.models import InboundPayload, Lead, LeadEvent
from dealer_leads.leads.services import assign_lead, list_needs_review
from dealer_leads.messaging.email import reply_address
from dealer_leads.messaging.mail_in import header_block
from dealer_leads.messaging.mailbox_services import receive_email
from dealer_leads.messaging.models import OutboundMessage, Suppression

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
EMAIL = "dana@example.com"
OUR_ID = "<out.1@dealer.example>"
TOKEN = "abcdefgh234567ab"


@pytest.fixture
def app(app_factory):
    app = app_factory(MAX_INBOUND_EMAIL_BYTES=64 * 1024)
    with app.app_context():
        yield app


@pytest.fixture
def lead(app, make_user) -> Lead:
    """A lead from the real intake, assigned, its plan running, with one e-mail we sent."""
    make_user("advisor", name="Sam Advisor")
    ensure_default_plans()
    customer = {"first_name": "Dana", "last_name": "Tremblay", "email": EMAIL}
    result = ingest(lead_json(customer=customer), now=NOW)
    lead = db.session.get(Lead, result.lead_id)
    db.session.add(
        OutboundMessage(
            lead_id=lead.id,
            channel="email",
            to_address=EMAIL,
            subject="Your inquiry",
            message_id=OUR_ID,
            reply_token=TOKEN,
            sent_at=NOW,
        )
    )
    db.session.commit()
    assert get_cadence(lead.id)[0].state == "active" and lead.assigned_to is not None
    return lead


def events(lead: Lead, kind: str) -> list[LeadEvent]:
    query = select(LeadEvent).where(LeadEvent.lead_id == lead.id, LeadEvent.kind == kind)
    return list(db.session.scalars(query))


def open_tasks(lead: Lead) -> list[Touch]:
    query = select(Touch).where(
        Touch.lead_id == lead.id, Touch.channel == "task", Touch.status == "open"
    )
    return list(db.session.scalars(query))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "build", [corpus.adf_as_text, corpus.adf_as_html, corpus.adf_as_attachment]
)
def test_adf_mail_becomes_a_lead_and_is_kept_raw(app, build):
    raw = build(first="John", last="Doe", email="john.doe@example.com")
    outcome = receive_email(raw, NOW)
    assert outcome.kind == "adf" and len(outcome.lead_ids) == 1
    lead = db.session.get(Lead, outcome.lead_ids[0])
    assert lead.customer.email == "john.doe@example.com" and lead.source == "Autotrader"
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    assert inbound.raw == raw and inbound.channel == "email" and inbound.status == "processed"


def test_latin1_quoted_printable_adf(app):
    outcome = receive_email(corpus.adf_quoted_printable_latin1(), NOW)
    assert db.session.get(Lead, outcome.lead_ids[0]).customer.first_name == "Hélène"


def test_the_same_message_twice_is_acted_on_once(app):
    raw = corpus.adf_as_text()
    first, second = receive_email(raw, NOW), receive_email(raw, NOW)
    assert second.kind == "duplicate" and second.inbound_id == first.inbound_id
    assert count(Lead) == 1 and count(InboundPayload) == 1


def without_message_id(raw: bytes) -> bytes:
    """The message as some form mailers send it: no Message-ID header."""
    stripped = re.sub(rb"(?mi)^Message-ID:.*\r?\n", b"", raw)
    assert b"message-id" not in stripped.lower()
    return stripped


def test_a_message_without_message_id_twice_is_acted_on_once(app):
    raw = without_message_id(corpus.plain_inquiry())
    first, second = receive_email(raw, NOW), receive_email(raw, NOW)
    assert first.kind == "inquiry"
    assert (second.kind, second.inbound_id) == ("duplicate", first.inbound_id)
    assert second.detail == "the same message seen"
    other = receive_email(without_message_id(corpus.form_mailer()), NOW)  # another message
    assert other.kind == "inquiry"
    assert count(Lead) == 2 and count(InboundPayload) == 2


def test_a_too_large_message_without_message_id_is_known_by_its_headers(app):
    big = corpus.plain_inquiry().replace(b"Hello,", b"Hello," + b"x" * 70_000)
    big = without_message_id(big)
    first = receive_email(big, NOW)  # posted whole
    # The IMAP poll fetches only the headers of a message that large.
    again = receive_email(header_block(big), NOW, full_size=len(big))
    assert (first.kind, again.kind) == ("too_large", "duplicate")
    assert count(InboundPayload) == 1


def test_gmail_reply_pauses_the_plan_and_alerts_the_assignee(lead):
    outcome = receive_email(corpus.gmail_reply(corpus.DEALER, OUR_ID), NOW)
    assert (outcome.kind, outcome.lead_ids) == ("reply", [lead.id])
    (reply,) = events(lead, "reply")
    assert reply.data["body"] == "Yes, Saturday at 10 works for me.\n\nDana"
    assert (
        reply.data["quoted"].startswith("On Tue") and reply.data["rule"] == "names our Message-ID"
    )
    assert get_cadence(lead.id)[0].state == "paused"
    assert [t.assigned_to_id for t in open_tasks(lead)] == [lead.assigned_to_id]


@pytest.fixture
def unassigned_lead(app) -> Lead:
    """A lead nobody owns (no advisor to give it to), its plan running."""
    ensure_default_plans()
    customer = {"first_name": "Dana", "last_name": "Tremblay", "email": EMAIL}
    lead = db.session.get(Lead, ingest(lead_json(customer=customer), now=NOW).lead_id)
    assert lead.assigned_to_id is None and get_cadence(lead.id)[0].state == "active"
    return lead


def test_reply_on_an_unassigned_lead_waits_for_the_supervisor(unassigned_lead, make_user, client):
    lead, boss = unassigned_lead, make_user("supervisor")
    overdue = count_overdue_tasks(boss)  # the plan's own call tasks, due since March
    outcome = receive_email(corpus.plain_inquiry(sender=f"Dana <{EMAIL}>"), NOW)
    assert (outcome.kind, outcome.lead_ids) == ("reply", [lead.id])
    assert get_cadence(lead.id)[0].state == "paused"
    (task,) = open_tasks(lead)
    assert task.title == "Respond: customer replied by e-mail"
    assert (task.assigned_to_id, task.due_at) == (None, NOW)
    assert count_overdue_tasks(boss) == overdue + 1
    assert task.id in [t.id for t in list_tasks(boss, scope="all", advisor_id=0)]
    login(client, boss)
    assert f"{overdue + 1} overdue tasks" in client.get("/leads/").text
    assert "Respond: customer replied by e-mail" in client.get("/tasks?advisor=none").text
    advisor = make_user("advisor")
    assign_lead(boss, lead.id, advisor.id)  # whoever takes the lead takes its task
    assert task.id in [t.id for t in list_tasks(advisor)]


def test_each_reply_on_an_unassigned_lead_is_a_task(unassigned_lead):
    receive_email(corpus.plain_inquiry(sender=f"Dana <{EMAIL}>"), NOW)
    receive_email(corpus.gmail_reply(corpus.DEALER, sender=EMAIL), NOW)
    assert get_cadence(unassigned_lead.id)[0].state == "paused"
    assert len(open_tasks(unassigned_lead)) == 2


def test_outlook_reply_to_our_plus_address_is_a_reply(lead):
    to = reply_address(corpus.DEALER, TOKEN)
    outcome = receive_email(corpus.outlook_reply(to, sender="someone.else@example.com"), NOW)
    assert (outcome.kind, outcome.lead_ids) == ("reply", [lead.id])
    assert events(lead, "reply")[0].data["body"] == "Can you send me the price with winter tires?"
    assert get_cadence(lead.id)[0].state == "paused"


def test_mail_from_a_customer_with_an_open_lead_is_a_reply(lead):
    outcome = receive_email(corpus.plain_inquiry(sender=f"Dana <{EMAIL}>"), NOW)
    assert (outcome.kind, outcome.lead_ids) == ("reply", [lead.id])
    assert count(Lead) == 1


def test_reply_shows_on_the_lead_page_with_its_quote_folded(lead, client, login_as):
    receive_email(corpus.gmail_reply(corpus.DEALER, OUR_ID), NOW)
    db.session.commit()
    login_as("supervisor")
    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)
    assert "Yes, Saturday at 10 works for me." in page
    assert "<summary>Quoted text</summary>" in page


def test_bounce_marks_the_address_and_stops_emails(lead):
    pending = [t for t in get_cadence(lead.id)[1] if t.channel == "auto_email"]
    assert pending
    outcome = receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    assert (outcome.kind, outcome.lead_ids) == ("bounce", [lead.id])
    assert db.session.scalar(select(Suppression).filter_by(address=EMAIL)).source == "bounce"
    assert lead.customer.email_valid is False
    statuses = {t.status for t in get_cadence(lead.id)[1] if t.channel == "auto_email"}
    assert statuses <= {"cancelled", "sent", "done"}
    assert any("Find a working contact" in t.title for t in open_tasks(lead))
    assert events(lead, "bounce")[0].data["status"] == "5.1.1"
    assert get_cadence(lead.id)[0].state == "active"  # calls and texts go on


def _emails(lead: Lead, status: str) -> dict[int, datetime]:
    touches = get_cadence(lead.id)[1]
    return {t.id: t.due_at for t in touches if t.channel == "auto_email" and t.status == status}


def test_a_corrected_address_brings_back_the_emails_the_bounce_cancelled(lead, make_user):
    waiting = _emails(lead, "scheduled")
    assert waiting
    receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    db.session.commit()
    assert set(_emails(lead, "cancelled")) == set(waiting)
    two_days_on = NOW + timedelta(days=2)

    update_contact(make_user("supervisor"), lead.id, "dana.t@example.com", "", now=two_days_on)

    back = _emails(lead, "scheduled")
    assert set(back) == set(waiting) and not _emails(lead, "cancelled")
    for touch_id, due in back.items():  # as far after the correction as after the bounce
        assert due >= max(waiting[touch_id] + timedelta(days=2), two_days_on)
    (line,) = events(lead, "emails_restored")
    assert line.summary.startswith(
        f"{len(waiting)} follow-up e-mail(s) the bounce cancelled are back on: the e-mail was "
        "corrected by"
    )
    assert get_cadence(lead.id)[0].state == "active"


def test_a_new_inquiry_with_a_working_address_brings_them_back_too(app, make_user):
    make_user("advisor", name="Sam Advisor")
    ensure_default_plans()
    first = {"first_name": "Noor", "last_name": "Haddad", "email": "noor@example.com"}
    first["phone"] = "416-555-0199"
    lead = db.session.get(Lead, ingest(lead_json(customer=first), now=NOW).lead_id)
    waiting = _emails(lead, "scheduled")
    receive_email(corpus.bounce("noor@example.com", "<first@dealer.example>"), NOW)
    db.session.commit()
    assert waiting and set(_emails(lead, "cancelled")) == set(waiting)

    again = ingest(lead_json(customer={**first, "email": "noor.h@example.com"}), now=NOW)

    assert again.lead_id == lead.id  # matched by phone: the same open lead
    assert lead.customer.email == "noor.h@example.com" and lead.customer.email_valid
    assert set(_emails(lead, "held")) == set(waiting)  # the new inquiry paused the plan
    (line,) = events(lead, "emails_restored")
    assert line.summary.endswith("the inquiry from Cars.com gave a working e-mail")


def test_on_a_paused_plan_they_come_back_held(lead, make_user):
    waiting = _emails(lead, "scheduled")
    receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    pause_automatic(lead, "the customer answered", NOW)
    db.session.commit()

    update_contact(make_user("supervisor"), lead.id, "dana.t@example.com", "", now=NOW)

    assert set(_emails(lead, "held")) == set(waiting)
    assert get_cadence(lead.id)[0].state == "paused"


def test_a_stopped_plan_stays_stopped(lead, make_user):
    receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    stop(lead, "sold", NOW)
    db.session.commit()
    assert _emails(lead, "cancelled")

    update_contact(make_user("supervisor"), lead.id, "dana.t@example.com", "", now=NOW)

    assert not _emails(lead, "scheduled") and not _emails(lead, "held")
    assert get_cadence(lead.id)[0].state == "stopped"


def test_second_bounce_makes_no_second_task(lead):
    receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    assert len([t for t in open_tasks(lead) if "working contact" in t.title]) == 1


def test_delayed_delivery_report_changes_nothing(lead):
    outcome = receive_email(corpus.bounce(EMAIL, OUR_ID, action="delayed"), NOW)
    assert outcome.kind == "notice"
    assert count(Suppression) == 0 and lead.customer.email_valid


def test_out_of_office_is_a_note_and_the_plan_goes_on(lead):
    outcome = receive_email(corpus.out_of_office(corpus.DEALER, OUR_ID), NOW)
    assert (outcome.kind, outcome.lead_ids) == ("auto_reply", [lead.id])
    assert len(events(lead, "auto_reply")) == 1 and not events(lead, "reply")
    assert get_cadence(lead.id)[0].state == "active"


def test_a_loop_of_automatic_replies_is_stored_but_noted_once(lead):
    outcomes = [receive_email(corpus.out_of_office(corpus.DEALER, OUR_ID), NOW) for _ in range(30)]
    assert {o.kind for o in outcomes} == {"auto_reply"}
    assert len({o.inbound_id for o in outcomes}) == 30
    assert len(events(lead, "auto_reply")) == 1
    assert count(OutboundMessage) == 1  # nothing was sent back
    assert get_cadence(lead.id)[0].state == "active"


def test_plain_inquiry_becomes_a_lead_with_the_whole_message(app):
    outcome = receive_email(corpus.plain_inquiry(), NOW)
    assert outcome.kind == "inquiry"
    lead = db.session.get(Lead, outcome.lead_ids[0])
    assert lead.customer.email == "pat.lee@example.com" and lead.channel == "email"
    assert "Subject: Question about a used Tacoma" in lead.comments
    assert "trade in my 2015 Corolla" in lead.comments


def test_form_mailer_inquiry_is_a_lead_for_the_customer_inside(app):
    outcome = receive_email(corpus.form_mailer(), NOW)
    assert outcome.kind == "inquiry"
    assert db.session.get(Lead, outcome.lead_ids[0]).customer.email == "robin@example.com"


def test_anything_else_needs_review_and_is_readable(app, client, login_as):
    raw = b"From: reports@x.example\r\nAuto-Submitted: auto-generated\r\nSubject: Stats\r\n\r\n42"
    outcome = receive_email(raw, NOW)
    assert outcome.kind == "needs_review"
    assert [p.id for p in list_needs_review()] == [outcome.inbound_id]
    db.session.commit()
    login_as("supervisor")
    page = client.get(f"/mailbox/{outcome.inbound_id}").get_data(as_text=True)
    assert "Stats" in page and "automatic message" in page
    assert client.get(f"/leads/review/{outcome.inbound_id}").status_code == 200


def test_too_large_message_keeps_its_headers(app):
    big = corpus.plain_inquiry().replace(b"Hello,", b"Hello," + b"x" * 70_000)
    outcome = receive_email(big, NOW)
    assert outcome.kind == "too_large"
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    assert inbound.status == "failed" and "too large" in inbound.error
    assert inbound.raw.startswith(b"From: Autotrader") or b"Subject: Question" in inbound.raw
    assert b"xxxx" not in inbound.raw


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage without headers",
        b"From: <<<\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nbroken",
        b"From: a@b.example\r\nContent-Type: text/plain; charset=nope\r\n\r\n\xe9\xff",
    ],
)
def test_malformed_messages_are_kept_for_review(app, raw):
    outcome = receive_email(raw, NOW)
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    assert inbound.raw == raw
    assert outcome.kind in ("needs_review", "inquiry")


def test_thousands_of_parts_do_not_break_intake(app):
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {n}\r\n" for n in range(3000))
    raw = (
        "From: Pat <pat@example.com>\r\nSubject: many\r\n"
        f"Content-Type: multipart/mixed; boundary=b\r\n\r\n{parts}--b--\r\n"
    ).encode()
    app.config["MAX_INBOUND_EMAIL_BYTES"] = 1024 * 1024
    outcome = receive_email(raw, NOW)
    assert outcome.kind == "inquiry"


# --- the ways in: API, CLI, pages ------------------------------------------------------------


def test_api_takes_a_raw_message(app, client):
    _, secret = create_api_key("Provider", ["leads"])
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}
    raw = corpus.adf_as_text()
    response = client.post("/api/v1/inbound/email", data=raw, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["kind"] == "adf"
    retry = client.post("/api/v1/inbound/email", data=raw, headers=headers)
    assert retry.status_code == 200 and retry.get_json()["kind"] == "duplicate"
    again = client.post("/api/v1/inbound/email", data=corpus.plain_inquiry(), headers=headers)
    assert again.status_code == 201


def test_api_refusals(app, client):
    _, secret = create_api_key("Provider", ["leads"])
    raw = corpus.plain_inquiry()
    assert client.post("/api/v1/inbound/email", data=raw).status_code == 401
    headers = {"Authorization": f"Bearer {secret}"}
    wrong = client.post(
        "/api/v1/inbound/email", data=raw, headers=headers | {"Content-Type": "application/json"}
    )
    assert (
        wrong.status_code == 415 and wrong.get_json()["error"]["code"] == "unsupported_media_type"
    )
    headers["Content-Type"] = "message/rfc822"
    empty = client.post("/api/v1/inbound/email", data=b"  ", headers=headers)
    assert empty.status_code == 400
    big = raw.replace(b"Hello,", b"Hello," + b"x" * 70_000)
    large = client.post("/api/v1/inbound/email", data=big, headers=headers)
    assert large.status_code == 413 and "headers are kept" in large.get_json()["error"]["message"]
    assert count(InboundPayload) == 1


def test_cli_imports_from_a_file_and_from_stdin(app, runner, tmp_path):
    path = tmp_path / "lead.eml"
    path.write_bytes(corpus.adf_as_text())
    result = runner.invoke(args=["leads", "import-email", str(path)])
    assert result.exit_code == 0, result.output
    assert ": adf (leads: #" in result.output
    result = runner.invoke(args=["leads", "import-email", "-"], input=corpus.plain_inquiry())
    assert result.exit_code == 0 and ": inquiry" in result.output
    assert count(Lead) == 2


def test_cli_refuses_an_empty_message(app, runner):
    result = runner.invoke(args=["leads", "import-email"], input=b"")
    assert result.exit_code != 0 and "empty" in result.output


def test_mailbox_page_lists_what_each_message_became(lead, client, login_as):
    receive_email(corpus.gmail_reply(corpus.DEALER, OUR_ID), NOW)
    receive_email(corpus.bounce("x@example.com", "<nothing@here>"), NOW)
    db.session.commit()
    login_as("supervisor")
    page = client.get("/mailbox").get_data(as_text=True)
    assert "Re: Your inquiry about the CR-V" in page and "kind-reply" in page
    assert "kind-bounce" in page
    only = client.get("/mailbox?kind=bounce").get_data(as_text=True)
    assert "kind-bounce" in only and "kind-reply" not in only
    assert client.get("/mailbox?kind=<script>").status_code == 400
    assert client.get("/mailbox/999999").status_code == 404


def test_our_own_messages_are_never_acted_on(app):
    app.config["MAIL_DEFAULT_SENDER"] = "Maple Ridge Motors <leads@dealer.example>"
    outcome = receive_email(corpus.plain_inquiry(sender="Maple <LEADS@dealer.example>"), NOW)
    assert outcome.kind == "notice" and count(Lead) == 0


def test_too_large_messages_are_listed_for_the_supervisor(app, client, login_as):
    big = corpus.plain_inquiry().replace(b"Hello,", b"Hello," + b"x" * 70_000)
    outcome = receive_email(big, NOW)
    db.session.commit()
    login_as("supervisor")
    page = client.get("/mailbox?kind=too_large").get_data(as_text=True)
    assert f"#{outcome.inbound_id}" in page and "kind-too_large" in page


def test_a_message_needing_review_can_be_corrected_and_run_again(app, client, login_as):
    raw = b"From: reports@x.example\r\nAuto-Submitted: auto-generated\r\nSubject: Stats\r\n\r\nhi"
    outcome = receive_email(raw, NOW)
    assert outcome.kind == "needs_review"
    db.session.commit()
    login_as("supervisor")
    corrected = raw.decode() + "\r\nName: Kim Lo\r\nEmail: kim@example.com\r\n"
    response = client.post(f"/leads/review/{outcome.inbound_id}", data={"raw": corrected})
    assert response.status_code == 303, response.get_data(as_text=True)
    lead = db.session.scalar(select(Lead))
    assert lead.customer.email == "kim@example.com" and lead.channel == "email"


def test_bounce_and_auto_reply_show_on_the_lead_page(lead, client, login_as):
    receive_email(corpus.out_of_office(corpus.DEALER, OUR_ID), NOW)
    receive_email(corpus.bounce(EMAIL, OUR_ID), NOW)
    db.session.commit()
    login_as("supervisor")
    page = client.get(f"/leads/{lead.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"E-mail to {EMAIL} bounced" in text and "Automatic reply from" in text
    assert "Find a working contact" in text
