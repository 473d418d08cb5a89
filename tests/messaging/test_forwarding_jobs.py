"""The forwarding job: service, parts and finance leads of every channel are forwarded once to
the department's address, through a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from urllib.parse import urlencode

import pytest
from builders import lead_json
from flask import g
from sqlalchemy import event, select, text
from support import app_smtp, free_port

from dealer_leads.admin.models import Dealership
from dealer_leads.api.services import create_api_key
from dealer_leads.extensions import db
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.models import Lead, LeadEvent
from dealer_leads.messaging.forwarding import claim_forwards
from dealer_leads.messaging.forwarding_jobs import RETRY_AFTER, forward_department_leads
from dealer_leads.messaging.mailbox_services import receive_email
from dealer_leads.messaging.models import OutboundMessage

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SERVICE = "service@dealer.example"
PARTS = "parts@dealer.example"
BASE_URL = "https://crm.dealer.example"
ADF_PARTS = (
    b'<?xml version="1.0" encoding="UTF-8"?><adf><prospect>'
    b"<requestdate>2026-03-10T10:00:00-04:00</requestdate>"
    b"<customer><contact><name part='full'>Sam Ortiz</name><email>sam@example.com</email>"
    b"</contact><comments>Do you have floor mats for a 2019 Civic?</comments></customer>"
    b"<vendor><vendorname>Maple Ridge Motors</vendorname></vendor></prospect></adf>"
)


def set_addresses(**addresses: str) -> None:
    """The admin's department addresses (the dealership row, created on first use)."""
    dealership = db.session.scalar(select(Dealership))
    if dealership is None:
        dealership = Dealership(name="Maple Ridge Motors")
        db.session.add(dealership)
    dealership.department_emails = addresses
    db.session.commit()
    g.pop("dealership", None)


@pytest.fixture
def smtp(app):
    with app_smtp(app, PUBLIC_BASE_URL=BASE_URL) as handler:
        yield handler


@pytest.fixture
def key(app) -> str:
    return create_api_key("Cars.com", ["leads"])[1]


def post_json(client, key: str, body: dict) -> int:
    response = client.post(
        "/api/v1/leads",
        data=json.dumps(body).encode(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["results"][0]["lead_id"]


def service_body() -> dict:
    return lead_json(
        department="service",
        vehicles=[{"status": "used", "year": 2019, "make": "Honda", "model": "Civic"}],
        comments="Brakes squeak; can I book an oil change on Friday?",
    )


def parsed(envelope) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(envelope.content)


def kinds(lead_id: int) -> list[str]:
    query = select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
    return list(db.session.scalars(query))


def test_an_api_service_lead_is_forwarded_once_with_its_json(client, key, smtp):
    set_addresses(service=SERVICE, parts=PARTS)
    body = service_body()
    lead_id = post_json(client, key, body)

    report = forward_department_leads(NOW)

    assert (report.claimed, report.forwarded, report.failed) == (1, 1, 0)
    (envelope,) = smtp.envelopes
    assert envelope.rcpt_tos == [SERVICE]
    forward = parsed(envelope)
    assert forward["To"] == SERVICE and forward["Auto-Submitted"] == "auto-generated"
    assert forward["Reply-To"] == body["customer"]["email"]
    assert forward["Subject"].startswith("Fwd: Service lead from Dana")
    text_body = forward.get_body(("plain",)).get_content()
    assert f"{BASE_URL}/leads/{lead_id}" in text_body
    assert body["customer"]["email"] in text_body and "Brakes squeak" in text_body
    assert "2019 Honda Civic" in text_body and "+1416" in text_body
    (attached,) = list(forward.iter_attachments())
    assert attached.get_content_type() == "application/json"
    assert attached.get_filename() == f"lead-{lead_id}-api.json"
    assert json.loads(attached.get_content()) == body

    lead = db.session.get(Lead, lead_id)
    assert lead.forwarded_at == NOW
    assert kinds(lead_id).count("forwarded") == 1
    event_row = db.session.scalar(
        select(LeadEvent).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == "forwarded")
    )
    assert event_row.data["to"] == SERVICE
    outbound = db.session.scalar(select(OutboundMessage).filter_by(lead_id=lead_id))
    assert outbound.to_address == SERVICE and outbound.subject == forward["Subject"]

    again = forward_department_leads(NOW + timedelta(hours=1))
    assert again.claimed == 0 and len(smtp.envelopes) == 1
    assert kinds(lead_id).count("forwarded") == 1


def test_adf_and_form_leads_carry_their_payload_as_xml_and_text(client, key, smtp):
    set_addresses(service=SERVICE, parts=PARTS)
    response = client.post(
        "/api/v1/leads/adf",
        data=ADF_PARTS,
        content_type="application/xml",
        headers={"Authorization": f"Bearer {key}"},
    )
    adf_lead = response.get_json()["results"][0]["lead_id"]
    form = urlencode(
        {
            "name": "Ana <b>Lima</b>",
            "email": "ana@example.com",
            "department": "service",
            "comments": "Winter tires swap <script>x</script>",
        }
    ).encode()
    inbound = store_inbound("form", form, content_type="application/x-www-form-urlencoded")
    form_lead = process_inbound(inbound.id, now=NOW)[0].lead_id

    assert forward_department_leads(NOW).forwarded == 2

    by_recipient = {tuple(e.rcpt_tos): parsed(e) for e in smtp.envelopes}
    (xml,) = list(by_recipient[(PARTS,)].iter_attachments())
    assert xml.get_content_type() == "application/xml"
    assert xml.get_content() == ADF_PARTS
    assert f"/leads/{adf_lead}" in by_recipient[(PARTS,)].get_body(("plain",)).get_content()
    service = by_recipient[(SERVICE,)]
    (posted,) = list(service.iter_attachments())
    assert posted.get_content_type() == "text/plain"
    assert posted.get_content() == form.decode()
    assert "Winter tires swap" in service.get_body(("plain",)).get_content()
    assert f"/leads/{form_lead}" in service.get_body(("plain",)).get_content()


def test_without_an_address_nothing_is_sent_until_the_admin_sets_one(client, key, smtp):
    set_addresses(parts=PARTS)
    lead_id = post_json(client, key, service_body())

    report = forward_department_leads(NOW)

    assert report.claimed == 0 and smtp.envelopes == []
    assert db.session.get(Lead, lead_id).forwarded_at is None
    assert "forward_failed" not in kinds(lead_id)
    set_addresses(parts=PARTS, service=SERVICE)
    assert forward_department_leads(NOW).forwarded == 1
    assert [e.rcpt_tos for e in smtp.envelopes] == [[SERVICE]]


def test_no_addresses_at_all_is_quiet(client, key, smtp):
    post_json(client, key, service_body())
    assert forward_department_leads(NOW).claimed == 0
    assert smtp.envelopes == []


def test_smtp_down_is_recorded_and_a_later_run_forwards_it(app, client, key, smtp):
    set_addresses(service=SERVICE)
    lead_id = post_json(client, key, service_body())
    working_port = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=free_port(), MAIL_TIMEOUT=2)  # nothing listens there

    down = forward_department_leads(NOW)

    assert (down.claimed, down.forwarded, down.failed) == (1, 0, 1)
    assert kinds(lead_id).count("forward_failed") == 1 and "forwarded" not in kinds(lead_id)
    assert db.session.get(Lead, lead_id).forwarded_at is None
    # Not hammered while the relay is down: the next try waits for RETRY_AFTER.
    assert forward_department_leads(NOW + timedelta(minutes=1)).claimed == 0

    app.config.update(MAIL_PORT=working_port)
    later = NOW + RETRY_AFTER + timedelta(seconds=1)
    assert forward_department_leads(later).forwarded == 1
    assert len(smtp.envelopes) == 1
    assert kinds(lead_id).count("forwarded") == 1
    assert db.session.get(Lead, lead_id).forwarded_at == later


def test_a_run_stops_at_its_first_failure_and_leaves_the_rest_for_later(app, client, key, smtp):
    set_addresses(service=SERVICE)
    first, second = post_json(client, key, service_body()), post_json(client, key, service_body())
    working_port = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=free_port(), MAIL_TIMEOUT=2)

    down = forward_department_leads(NOW)

    assert (down.claimed, down.failed, down.deferred) == (2, 1, 1)
    assert kinds(first).count("forward_failed") + kinds(second).count("forward_failed") == 1
    assert db.session.get(Lead, first).forwarded_at is None
    assert db.session.get(Lead, second).forwarded_at is None
    app.config.update(MAIL_PORT=working_port)
    assert forward_department_leads(NOW + timedelta(minutes=1)).forwarded == 1
    assert forward_department_leads(NOW + RETRY_AFTER * 2).forwarded == 1
    assert len(smtp.envelopes) == 2


def test_sales_leads_are_never_forwarded(client, key, smtp):
    set_addresses(service=SERVICE, parts=PARTS, finance="finance@dealer.example")
    lead_id = post_json(client, key, lead_json())
    assert db.session.get(Lead, lead_id).department == "sales"
    assert forward_department_leads(NOW).claimed == 0
    assert smtp.envelopes == []


def test_a_lead_rerouted_to_a_department_later_is_forwarded_then(client, key, smtp):
    set_addresses(service=SERVICE)
    lead_id = post_json(client, key, lead_json())
    assert forward_department_leads(NOW).claimed == 0
    lead = db.session.get(Lead, lead_id)
    lead.department = "service"  # staff moved it to the service queue
    db.session.commit()

    assert forward_department_leads(NOW).forwarded == 1
    assert [e.rcpt_tos for e in smtp.envelopes] == [[SERVICE]]


def test_merged_leads_are_not_forwarded(client, key, smtp):
    set_addresses(service=SERVICE)
    survivor = post_json(client, key, service_body())
    merged = post_json(client, key, service_body())
    db.session.get(Lead, merged).merged_into_id = survivor
    db.session.commit()
    assert forward_department_leads(NOW).forwarded == 1
    assert db.session.get(Lead, merged).forwarded_at is None


def test_an_emailed_lead_forwarded_by_the_mailbox_is_not_forwarded_again(smtp):
    set_addresses(service=SERVICE)
    message = EmailMessage()
    message["From"], message["To"] = "Lee Park <lee@example.com>", "leads@dealer.example"
    message["Subject"], message["Message-ID"] = "Oil change", make_msgid(domain="example.com")
    message.set_content("My brakes squeak. Can I book an oil change?\n")
    outcome = receive_email(bytes(message), NOW)
    assert len(smtp.envelopes) == 1
    assert db.session.get(Lead, outcome.lead_ids[0]).forwarded_at == NOW

    assert forward_department_leads(NOW + timedelta(minutes=5)).claimed == 0
    assert len(smtp.envelopes) == 1


def test_an_emailed_lead_whose_forward_failed_is_retried_with_the_original(app, smtp):
    set_addresses(service=SERVICE)
    working_port = app.config["MAIL_PORT"]
    app.config.update(MAIL_PORT=free_port(), MAIL_TIMEOUT=2)
    message = EmailMessage()
    message["From"], message["To"] = "Lee Park <lee@example.com>", "leads@dealer.example"
    message["Subject"], message["Message-ID"] = "Oil change", make_msgid(domain="example.com")
    message.set_content("My brakes squeak. Can I book an oil change?\n")
    lead_id = receive_email(bytes(message), NOW).lead_ids[0]
    assert "forward_failed" in kinds(lead_id)

    app.config.update(MAIL_PORT=working_port)
    assert forward_department_leads(NOW + RETRY_AFTER * 2).forwarded == 1
    (attached,) = list(parsed(smtp.envelopes[0]).iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert attached.get_content()["Subject"] == "Oil change"


def test_a_lead_is_claimed_once(client, key):
    lead_id = post_json(client, key, service_body())
    assert claim_forwards([lead_id], NOW) == [lead_id]
    assert claim_forwards([lead_id], NOW) == []


def test_a_lead_another_worker_holds_is_skipped(app, client, key, smtp):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has one writer at a time")
    set_addresses(service=SERVICE)
    lead_id = post_json(client, key, service_body())
    db.session.commit()
    with db.engine.connect() as other:  # a second worker, mid-claim
        other.execute(text("SELECT id FROM leads WHERE id = :id FOR UPDATE"), {"id": lead_id})
        assert forward_department_leads(NOW).claimed == 0
        other.rollback()
    assert forward_department_leads(NOW).forwarded == 1
    assert len(smtp.envelopes) == 1


# PostgreSQL plans by statistics: a realistic table (mostly sales leads, department leads long
# since forwarded), analysed, shows the plan it would choose at scale.
PAST_LEADS = """
INSERT INTO leads (customer_id, channel, source, latest_source, department, sales_kind,
    routing_rule, status, lost_reason, comments, received_at, last_activity_at, extensions,
    warnings, forwarded_at)
SELECT customer_id, channel, source, latest_source,
    CASE WHEN n % 10 = 0 THEN 'service' WHEN n % 10 = 1 THEN 'parts' ELSE 'sales' END,
    sales_kind, routing_rule, status, lost_reason, comments, received_at - n * interval '1 hour',
    last_activity_at, extensions, warnings,
    CASE WHEN n % 10 IN (0, 1) THEN received_at - n * interval '1 hour' END
FROM leads, generate_series(1, 20000) AS n
"""


def test_the_job_reads_its_partial_index(app, client, key, smtp):
    set_addresses(service=SERVICE, parts=PARTS)
    post_json(client, key, service_body())
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(PAST_LEADS))
        db.session.commit()
        with db.engine.connect() as connection:
            connection.execute(text("ANALYZE leads"))
            connection.commit()
    statements = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("SELECT leads.id") and "forwarded_at IS NULL" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        assert forward_department_leads(NOW).forwarded == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    assert len(statements) == 2  # one query per department with an address
    for statement, parameters in statements:
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()
            else:
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                plan = [row[-1] for row in rows]
            plan = list(plan)
            connection.rollback()
        assert any("ix_leads_unforwarded" in line for line in plan), "\n".join(plan)
