"""Mail from a member of staff in the leads mailbox: a customer's message they forwarded is taken
in for that customer; anything else waits for review. Staff never become customers and never
get the automatic first response."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import mail_corpus as corpus
import pytest
from builders import ingest, lead_json
from sqlalchemy import func, select

from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.models import Touch
from dealer_leads.extensions import db
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import process_inbound
from dealer_leads.leads.models import Customer, InboundPayload, Lead, LeadEvent
from dealer_leads.leads.services import list_needs_review
from dealer_leads.messaging.mail_in import read_mail
from dealer_leads.messaging.mail_leads import forwarded_inquiry
from dealer_leads.messaging.mailbox_forwards import forwarded_original
from dealer_leads.messaging.mailbox_services import receive_email

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
STAFF = "sam@dealer.example"
SIGNATURE = "Sam Advisor\nMaple Ridge Motors\nPhone: 416-555-0199\n"
GMAIL_FORWARD = (
    "Dana wrote to me directly, can you log her?\n\n"
    + SIGNATURE
    + "\n---------- Forwarded message ---------\n"
    "From: Dana Tremblay <dana.t@example.com>\n"
    "Date: Tue, Mar 10, 2026 at 9:00 AM\n"
    "Subject: Question about the CR-V\n"
    f"To: Sam Advisor <{STAFF}>\n\n\n"
    "Hi Sam, is the grey CR-V still on the lot?\n\nDana\n"
)
OUTLOOK_FORWARD = (
    "Please take this one.\r\n\r\n"
    "________________________________\r\n"
    "From: Tremblay, Dana [mailto:Dana.T@Example.com]\r\n"
    "Sent: Tuesday, March 10, 2026 9:00 AM\r\n"
    f"To: Sam Advisor <{STAFF}>\r\n"
    "Subject: CR-V\r\n\r\n"
    "Is the grey CR-V still on the lot?\r\n"
)


@pytest.fixture
def staff(app, make_user):
    ensure_default_plans()
    return make_user("advisor", name="Sam Advisor", email=STAFF)


def staff_mail(subject: str, text: str, sender: str = f"Sam Advisor <{STAFF}>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = corpus.DEALER
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="dealer.example")
    message.set_content(text)
    return message


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def events(lead_id: int, kind: str) -> list[LeadEvent]:
    query = select(LeadEvent).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == kind)
    return list(db.session.scalars(query))


def first_responses(lead_id: int) -> list[Touch]:
    query = select(Touch).where(Touch.lead_id == lead_id, Touch.channel == "auto_email")
    return [t for t in db.session.scalars(query) if t.due_at == NOW]


@pytest.mark.parametrize("role", ["advisor", "supervisor", "webmaster", "admin"])
def test_mail_from_staff_of_any_role_waits_for_review(app, make_user, role):
    ensure_default_plans()
    make_user(role, name="Kim Staff", email="kim@dealer.example")
    raw = bytes(staff_mail("Lunch order", "Who wants pizza?", "Kim <KIM@Dealer.Example>"))
    outcome = receive_email(raw, NOW)
    assert outcome.kind == "needs_review" and outcome.detail == "sent by staff (Kim Staff)"
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    assert (inbound.status, inbound.error) == ("failed", "sent by staff (Kim Staff)")
    assert [p.id for p in list_needs_review()] == [inbound.id]
    assert count(Lead) == count(Customer) == count(Touch) == 0


def test_staff_reply_to_address_is_staff_too(staff):
    message = staff_mail("Call me", "About the car", "Website <noreply@site.example>")
    message["Reply-To"] = STAFF
    outcome = receive_email(bytes(message), NOW)
    assert outcome.detail == "sent by staff (Sam Advisor)" and count(Lead) == 0


def test_inline_forward_is_a_lead_for_the_original_sender(staff):
    outcome = receive_email(bytes(staff_mail("Fwd: Question about the CR-V", GMAIL_FORWARD)), NOW)
    assert outcome.kind == "inquiry" and len(outcome.lead_ids) == 1
    lead = db.session.get(Lead, outcome.lead_ids[0])
    customer = lead.customer
    assert (customer.first_name, customer.last_name) == ("Dana", "Tremblay")
    assert customer.email == "dana.t@example.com"
    assert customer.phone == ""  # the signature's number is the advisor's, not hers
    assert "can you log her?" in lead.comments and "still on the lot?" in lead.comments
    (note,) = events(lead.id, "staff_forward")
    assert note.user_id == staff.id and note.data["sender"] == "dana.t@example.com"
    assert len(first_responses(lead.id)) == 1  # the first response goes to Dana
    assert db.session.scalar(select(func.count()).where(Customer.email == STAFF)) == 0


def test_forward_as_attachment_uses_the_originals_reply_to(staff):
    original = EmailMessage()
    original["From"] = "Pat Lee <pat@work.example>"
    original["Reply-To"] = "pat.home@example.com"
    original["Subject"] = "Tacoma"
    original.set_content("Do you still have the grey 2021 Tacoma?\n")
    message = staff_mail("FW: Tacoma", "See attached.\n")
    message.add_attachment(original)
    outcome = receive_email(bytes(message), NOW)
    assert outcome.kind == "inquiry"
    lead = db.session.get(Lead, outcome.lead_ids[0])
    assert lead.customer.email == "pat.home@example.com" and lead.customer.first_name == "Pat"
    assert "See attached." in lead.comments and "grey 2021 Tacoma" in lead.comments
    assert len(first_responses(lead.id)) == 1


def test_outlook_forward_with_a_mailto_address(staff):
    outcome = receive_email(bytes(staff_mail("FW: CR-V", OUTLOOK_FORWARD)), NOW)
    assert outcome.kind == "inquiry"
    assert db.session.get(Lead, outcome.lead_ids[0]).customer.email == "dana.t@example.com"


def test_forward_of_a_customer_with_an_open_lead_lands_on_that_lead(staff):
    customer = {"first_name": "Dana", "last_name": "Tremblay", "email": "dana.t@example.com"}
    open_lead = ingest(lead_json(customer=customer), now=NOW).lead_id
    outcome = receive_email(bytes(staff_mail("Fwd: Question", GMAIL_FORWARD)), NOW)
    assert outcome.lead_ids == [open_lead] and count(Lead) == 1
    assert events(open_lead, "repeat_inquiry") and events(open_lead, "staff_forward")


@pytest.mark.parametrize(
    ("subject", "text", "why"),
    [
        ("RE: CR-V", OUTLOOK_FORWARD, "a reply quoting a message is no forward"),
        ("Fwd: CR-V", GMAIL_FORWARD.replace(" <dana.t@example.com>", ""), "no address"),
        ("Fwd: x", GMAIL_FORWARD.replace("dana.t@example.com", "lee@dealer.example"), "staff"),
        ("Fwd: x", GMAIL_FORWARD.replace("dana.t@example.com", corpus.DEALER), "ours"),
    ],
)
def test_forwards_without_a_customer_to_answer_wait_for_review(
    app, staff, make_user, subject, text, why
):
    app.config["MAIL_DEFAULT_SENDER"] = f"Maple Ridge Motors <{corpus.DEALER}>"
    make_user("supervisor", email="lee@dealer.example")
    outcome = receive_email(bytes(staff_mail(subject, text)), NOW)
    assert outcome.kind == "needs_review", why
    assert outcome.detail.startswith("sent by staff (Sam Advisor)")
    assert count(Lead) == count(Customer) == 0


def rerun(client, inbound_id: int, raw: str):
    """Send the payload again from the review page, as the supervisor does."""
    response = client.post(f"/leads/review/{inbound_id}", data={"raw": raw})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def test_staff_mail_run_again_unchanged_stays_in_review(staff, client, login_as):
    outcome = receive_email(bytes(staff_mail("Lunch order", "Who wants pizza?")), NOW)
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    login_as("supervisor")
    response = rerun(client, inbound.id, inbound.text)
    assert response.location.endswith(f"/leads/review/{inbound.id}")
    page = client.get(response.location).get_data(as_text=True)
    assert "Still not readable: sent by staff (Sam Advisor)" in page
    db.session.refresh(inbound)
    assert (inbound.status, inbound.error) == ("failed", "sent by staff (Sam Advisor)")
    assert [p.id for p in list_needs_review()] == [inbound.id]
    assert count(Lead) == count(Customer) == count(Touch) == 0


def test_staff_forward_of_our_own_mail_run_again_stays_in_review(app, staff):
    app.config["MAIL_DEFAULT_SENDER"] = f"Maple Ridge Motors <{corpus.DEALER}>"
    text = GMAIL_FORWARD.replace("dana.t@example.com", corpus.DEALER)
    outcome = receive_email(bytes(staff_mail("Fwd: x", text)), NOW)
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    with pytest.raises(InvalidPayload, match=r"^sent by staff \(Sam Advisor\); the original"):
        process_inbound(inbound.id, raw=inbound.raw)
    assert db.session.get(InboundPayload, inbound.id).status == "failed"
    assert count(Lead) == count(Customer) == 0


def test_staff_forward_corrected_in_review_is_a_lead_for_the_original_sender(
    staff, client, login_as
):
    nameless = GMAIL_FORWARD.replace(" <dana.t@example.com>", "")
    outcome = receive_email(bytes(staff_mail("Fwd: CR-V", nameless)), NOW)
    assert outcome.kind == "needs_review"
    inbound = db.session.get(InboundPayload, outcome.inbound_id)
    login_as("supervisor")
    address = "From: Dana Tremblay <dana.t@example.com>"
    corrected = inbound.text.replace("From: Dana Tremblay", address)
    rerun(client, inbound.id, corrected)
    lead = db.session.scalar(select(Lead))
    assert lead.customer.email == "dana.t@example.com" and lead.customer.first_name == "Dana"
    assert db.session.scalar(select(func.count()).where(Customer.email == STAFF)) == 0


def test_staff_out_of_office_is_not_a_lead(staff):
    outcome = receive_email(corpus.out_of_office(corpus.DEALER, sender=STAFF), NOW)
    assert outcome.kind == "auto_reply" and count(Lead) == 0


# --- reading the original (pure) --------------------------------------------------------------


def test_apple_mail_forward_gives_name_reply_to_and_text():
    text = (
        "FYI\n\nBegin forwarded message:\n\n"
        "From: Robin Martin <robin@example.com>\nSubject: Trade-in\n"
        "Date: March 10, 2026 at 9:00 AM EDT\nTo: sam@dealer.example\n"
        "Reply-To: robin.m@example.com\n\nWhat is my 2015 Civic worth?\n"
    )
    raw = bytes(staff_mail("Fwd: Trade-in", text))
    original = forwarded_original(raw, read_mail(raw))
    assert (original.from_name, original.from_address) == ("Robin Martin", "robin@example.com")
    assert original.reply_to == "robin.m@example.com" and original.subject == "Trade-in"
    assert original.text == "What is my 2015 Civic worth?" and not original.attached
    lead = forwarded_inquiry(read_mail(raw), original)
    assert lead.contact.email == "robin.m@example.com" and lead.contact.full_name == "Robin Martin"


def test_forwarded_web_form_takes_the_customer_from_its_fields():
    text = (
        "New web lead below.\nPhone: 416-555-0199\n\n"
        "-------- Forwarded Message --------\nSubject: Website contact form\n"
        "From: Website <noreply@dealer-site.example>\n\n"
        "Name: Robin Martin\nEmail: robin@example.com\nPhone: 416-555-0123\n"
    )
    raw = bytes(staff_mail("Fwd: Website contact form", text))
    mail = read_mail(raw)
    lead = forwarded_inquiry(mail, forwarded_original(raw, mail))
    assert lead.contact.email == "robin@example.com"
    assert lead.contact.phones == [("voice", "416-555-0123")]


def test_plain_mail_and_broken_mail_have_no_original():
    for raw in (corpus.plain_inquiry(), b"From: <<<\r\nContent-Type: multipart/mixed\r\n\r\n--"):
        assert forwarded_original(raw, read_mail(raw)) is None
