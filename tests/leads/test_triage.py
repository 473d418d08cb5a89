"""The supervisor's queue and the lead page's actions."""

import re
from datetime import timedelta

import pytest
from builders import ingest, lead_json
from support import sql_statements

from dealer_leads.cadence.models import Touch
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads import queue, services
from dealer_leads.leads.models import Lead


def _queue_ids(viewer, **filters):
    return [lead.id for lead in queue.list_queue(viewer, queue.QueueFilters(**filters)).items]


def test_queue_puts_unanswered_first_oldest_first(app, make_user):
    boss = make_user("supervisor")
    now = now_utc()
    answered = ingest(now=now - timedelta(hours=1)).lead_id
    old_waiting = ingest(now=now - timedelta(hours=3)).lead_id
    new_waiting = ingest(now=now - timedelta(minutes=2)).lead_id
    lost = ingest(now=now - timedelta(minutes=1)).lead_id
    services.log_call(boss, answered, "reached", now=now)
    services.change_status(boss, lost, "lost", "bought elsewhere")
    assert _queue_ids(boss) == [old_waiting, new_waiting, lost, answered]


def test_queue_paging_crosses_from_waiting_to_answered(app, make_user):
    boss = make_user("supervisor")
    now = now_utc()
    ids = [ingest(now=now - timedelta(minutes=i)).lead_id for i in range(5)]
    for lead_id in ids[:2]:
        services.log_call(boss, lead_id, "voicemail", now=now)
    pages = [queue.list_queue(boss, queue.QueueFilters(), page=p, per_page=2) for p in (1, 2, 3)]
    seen = [lead.id for page in pages for lead in page.items]
    assert seen == [ids[4], ids[3], ids[2], ids[0], ids[1]]
    assert pages[0].total == 5 and pages[0].awaiting == 3 and pages[0].pages == 3


@pytest.mark.parametrize(
    "term",
    ["dana7@example.com", "Tremblay7", "4163077777", "V12345", "nb012345", "5fnrl6h78nb012345"],
)
def test_search_by_name_email_phone_stock_vin(app, make_user, term):
    boss = make_user("supervisor")
    wanted = ingest(
        lead_json(
            customer={
                "first_name": "Dana",
                "last_name": "Tremblay7",
                "email": "dana7@example.com",
                "phone": "416-307-7777",
            },
            vehicles=[{"stock": "V12345", "vin": "5FNRL6H78NB012345"}],
        )
    ).lead_id
    ingest(lead_json(customer={"first_name": "Other", "email": "o@example.com"}))
    assert _queue_ids(boss, search=term) == [wanted]


def test_filters(app, make_user):
    boss = make_user("supervisor")
    advisor = make_user("advisor")
    a = ingest(lead_json(source="Autotrader")).lead_id  # round robin: the advisor
    advisor.on_shift = False
    db.session.commit()
    b = ingest(lead_json(source="CarGurus")).lead_id
    assert _queue_ids(boss, source="Autotrader") == [a]
    assert _queue_ids(boss, advisor_id=advisor.id) == [a]
    assert _queue_ids(boss, unassigned=True) == [b]
    assert _queue_ids(boss, department="service") == []
    assert _queue_ids(boss, received_from=now_utc() + timedelta(hours=1)) == []


def test_queue_query_count_does_not_grow_with_page_size(client, login_as, make_user):
    login_as("supervisor")
    make_user("advisor")
    late = now_utc() - timedelta(hours=1)
    for _ in range(30):
        lead_id = ingest().lead_id
        db.session.add(Touch(lead_id=lead_id, channel="call_task", due_at=late, status="open"))
    db.session.commit()
    counts = []
    for size in (5, 30):
        db.session.remove()  # each request starts cold, as in production
        with sql_statements() as statements:
            response = client.get(f"/leads/?per_page={size}")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count('name="lead_ids"') == size
        assert response.get_data(as_text=True).count("data-overdue") == size
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_call_stops_clock_and_reached_moves_to_contacted(app, make_user):
    boss = make_user("supervisor")
    received = now_utc() - timedelta(minutes=7)
    lead_id = ingest(now=received).lead_id
    services.log_call(boss, lead_id, "no_answer", now=received + timedelta(minutes=4))
    lead = db.session.get(Lead, lead_id)
    assert lead.first_response_at - lead.received_at == timedelta(minutes=4)
    assert lead.status == "new"
    services.log_call(
        boss, lead_id, "reached", "wants a test drive", now=received + timedelta(minutes=6)
    )
    assert lead.status == "contacted"
    assert lead.first_response_at - lead.received_at == timedelta(minutes=4)
    kinds = [e.kind for e in lead.events]
    assert kinds == ["inquiry", "call", "call", "status"]


@pytest.mark.parametrize("status", ["appointment", "shown", "sold"])
def test_moving_a_new_lead_on_by_hand_stops_the_response_clock(app, make_user, status):
    boss = make_user("supervisor")
    received = now_utc() - timedelta(minutes=30)
    lead_id = ingest(now=received).lead_id
    services.change_status(boss, lead_id, status, now=received + timedelta(minutes=9))
    lead = db.session.get(Lead, lead_id)
    assert lead.first_response_at - lead.received_at == timedelta(minutes=9)


def test_status_changes_and_lost_needs_reason(app, make_user):
    boss = make_user("supervisor")
    lead_id = ingest().lead_id
    with pytest.raises(services.InvalidAction, match="why"):
        services.change_status(boss, lead_id, "lost")
    with pytest.raises(services.InvalidAction, match="unknown status"):
        services.change_status(boss, lead_id, "won")
    for status in ("contacted", "engaged", "appointment", "shown", "sold"):
        services.change_status(boss, lead_id, status)
    lead = db.session.get(Lead, lead_id)
    assert lead.status == "sold" and lead.first_response_at is not None
    services.change_status(boss, lead_id, "lost", "financing fell through")
    assert lead.lost_reason == "financing fell through"


def test_assign_and_bulk_assign_record_the_timeline(app, make_user):
    boss = make_user("supervisor")
    ana, ben = make_user("advisor", name="Ana"), make_user("advisor", name="Ben")
    ana.on_shift = ben.on_shift = False
    db.session.commit()
    ids = [ingest().lead_id for _ in range(3)]
    services.assign_lead(boss, ids[0], ana.id)
    assert services.bulk_assign(boss, ids, ben.id) == 3
    lead = db.session.get(Lead, ids[0])
    summaries = [e.summary for e in lead.events if e.kind == "assigned"]
    assert summaries == ["Assigned to Ana", "Reassigned from Ana to Ben"]
    with pytest.raises(services.InvalidAction):
        services.assign_lead(ana, ids[1], ana.id)
    with pytest.raises(services.InvalidAction, match="active advisor"):
        services.assign_lead(boss, ids[1], boss.id)


def test_lead_page_actions_over_http(client, login_as, make_user):
    login_as("supervisor")
    advisor = make_user("advisor", name="Ana Advisor")
    lead_id = ingest(lead_json(comments="<script>alert('x')</script>")).lead_id
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script>alert(" not in page
    assert (
        client.post(f"/leads/{lead_id}/assign", data={"advisor_id": advisor.id}).status_code == 303
    )
    assert client.post(f"/leads/{lead_id}/call", data={"outcome": "reached"}).status_code == 303
    assert client.post(f"/leads/{lead_id}/note", data={"text": "Prefers texts"}).status_code == 303
    refused = client.post(f"/leads/{lead_id}/status", data={"status": "lost", "reason": ""})
    assert refused.status_code == 422 and "say why the lead was lost" in refused.get_data(
        as_text=True
    )
    assert client.post(f"/leads/{lead_id}/call", data={"outcome": "nope"}).status_code == 400
    page = client.get(f"/leads/{lead_id}").get_data(as_text=True)
    for text in ("Assigned to Ana Advisor", "Reached the customer", "Prefers texts", "contacted"):
        assert text in page
    assert client.post("/leads/999999/note", data={"text": "x"}).status_code == 404


def test_manual_lead_goes_through_intake(client, login_as):
    login_as("advisor")
    response = client.post(
        "/leads/new",
        data={
            "source": "Walk-in",
            "first_name": "Walk",
            "last_name": "In",
            "phone": "416-555-2671",
            "department": "",
            "condition": "used",
            "make": "Ford",
            "model": "F-150",
            "comments": "",
        },
    )
    assert response.status_code == 303
    lead = db.session.scalar(db.select(Lead))
    assert (lead.source, lead.channel, lead.sales_kind) == ("Walk-in", "manual", "used")
    assert lead.events[0].user_id is not None
    missing = client.post(
        "/leads/new",
        data={"source": "Phone", "first_name": "No contact", "department": "", "condition": ""},
    )
    assert missing.status_code == 422
    assert "e-mail address or a phone number" in missing.get_data(as_text=True)


def test_an_advisor_keeps_the_walk_in_they_enter(client, login_as, make_user):
    """Round robin would give it to whoever is next; the advisor with the customer keeps it."""
    make_user("advisor", on_shift=True)  # next in the rotation
    me = login_as("advisor", on_shift=True)
    response = client.post(
        "/leads/new",
        data={
            "source": "Walk-in",
            "first_name": "Walk",
            "phone": "416-555-2671",
            "department": "",
            "condition": "used",
        },
    )
    assert response.status_code == 303
    lead = db.session.scalar(db.select(Lead))
    assert lead.assigned_to_id == me.id
    assert client.get(response.headers["Location"]).status_code == 200
    assigned = [e.summary for e in lead.events if e.kind == "assigned"]
    assert assigned == [f"Assigned to {me.name}"]


def test_a_supervisor_entering_a_walk_in_leaves_it_to_the_rotation(client, login_as, make_user):
    advisor = make_user("advisor", on_shift=True)
    login_as("supervisor")
    client.post(
        "/leads/new",
        data={
            "source": "Phone",
            "first_name": "Call",
            "phone": "416-555-2671",
            "department": "",
            "condition": "",
        },
    )
    assert db.session.scalar(db.select(Lead)).assigned_to_id == advisor.id


def test_needs_review_correct_and_rerun(client, login_as):
    login_as("supervisor")
    from dealer_leads.leads.channels import InvalidPayload
    from dealer_leads.leads.ingest import process_inbound, store_inbound

    inbound = store_inbound("api", b'{"customer": {"email": "fix@example.com"')
    with pytest.raises(InvalidPayload):
        process_inbound(inbound.id)
    listing = client.get("/leads/review").get_data(as_text=True)
    assert f"#{inbound.id}" in listing and "malformed JSON" in listing
    bad = client.post(f"/leads/review/{inbound.id}", data={"raw": "{still broken"})
    assert bad.status_code == 303
    fixed = client.post(
        f"/leads/review/{inbound.id}", data={"raw": '{"customer": {"email": "fix@example.com"}}'}
    )
    assert fixed.status_code == 303 and "/leads/" in fixed.headers["Location"]
    assert db.session.scalar(db.select(Lead)).customer.email == "fix@example.com"
    assert "Nothing waits for review" in client.get("/leads/review").get_data(as_text=True)


def test_discard_keeps_the_payload(client, login_as):
    login_as("supervisor")
    from dealer_leads.leads.ingest import store_inbound
    from dealer_leads.leads.models import InboundPayload

    inbound = store_inbound("api", b"garbage", status="failed", error="malformed JSON")
    assert client.post(f"/leads/review/{inbound.id}/discard").status_code == 303
    kept = db.session.get(InboundPayload, inbound.id)
    assert kept.status == "discarded" and kept.raw == b"garbage"
    again = client.post(f"/leads/review/{inbound.id}/discard", follow_redirects=True)
    assert "not waiting for review" in again.get_data(as_text=True)


def test_payload_left_half_way_shows_in_needs_review(app):
    from dealer_leads.leads.ingest import store_inbound

    stuck = store_inbound("api", b'{"customer": {"email": "late@example.com"}}')
    assert services.count_needs_review() == 0  # still in flight
    later = now_utc() + timedelta(minutes=10)
    assert [p.id for p in services.list_needs_review(now=later)] == [stuck.id]


def test_department_queues_count_open_leads(client, login_as):
    login_as("supervisor")
    ingest(lead_json(vehicles=[], comments="Brakes are squeaking, need service"))
    ingest()
    page = client.get("/leads/?department=service").get_data(as_text=True)
    assert 'Service <span class="badge">1</span>' in page
    assert 'Sales <span class="badge">1</span>' in page
    assert page.count('name="lead_ids"') == 1


def test_a_text_message_in_review_is_set_aside_not_rerun(client, login_as):
    from dealer_leads.leads.ingest import store_inbound

    login_as("supervisor")
    text = store_inbound(
        "sms", b"From=%2B14165550000&Body=hi", status="failed", error="no customer with this number"
    )
    page = client.get(f"/leads/review/{text.id}").get_data(as_text=True)
    assert "cannot be re-run" not in page and "set it aside" in page
    assert client.post(f"/leads/review/{text.id}", data={"raw": "x"}).status_code == 409
    assert client.post(f"/leads/review/{text.id}/discard").status_code == 303


def test_staff_records_an_opt_out_that_applies_at_once(client, login_as):
    from dealer_leads.messaging.consent import is_suppressed

    login_as("advisor")
    lead_id = ingest(
        lead_json(customer={"first_name": "Kim", "email": "kim@example.com", "phone": "4165552671"})
    ).lead_id
    db.session.get(Lead, lead_id).assigned_to_id = db.session.scalar(
        db.select(db.func.max(services.User.id))
    )
    db.session.commit()
    assert client.post(f"/leads/{lead_id}/opt-out", data={"channel": "sms"}).status_code == 303
    assert is_suppressed("+14165552671", "sms") and not is_suppressed("kim@example.com", "email")
    assert client.post(f"/leads/{lead_id}/opt-out", data={"channel": "all"}).status_code == 303
    assert is_suppressed("kim@example.com", "email")
    kinds = [e.kind for e in db.session.get(Lead, lead_id).events]
    assert kinds.count("opt_out") == 2
    assert client.post(f"/leads/{lead_id}/opt-out", data={"channel": "fax"}).status_code == 400


def _overdue_rows(page: str) -> dict[int, bool]:
    """Each queue row's lead id, and whether the row is marked as having an overdue task."""
    rows = re.findall(r"<tr class=\"([^\"]*)\">(.*?)</tr>", page, re.S)
    marked = {}
    for classes, cells in rows:
        lead_id = int(re.search(r'name="lead_ids" value="(\d+)"', cells).group(1))
        assert ("overdue" in classes.split()) == ("data-overdue" in cells)
        marked[lead_id] = "data-overdue" in cells
    return marked


def test_queue_marks_each_lead_with_an_overdue_task(client, login_as):
    boss = login_as("supervisor")
    now = now_utc()
    late, on_time, done, automatic = (ingest().lead_id for _ in range(4))
    hour = timedelta(hours=1)
    db.session.add_all(
        [
            Touch(lead_id=late, channel="call_task", due_at=now - hour, status="open"),
            Touch(lead_id=late, channel="email_task", due_at=now - 2 * hour, status="scheduled"),
            Touch(lead_id=on_time, channel="call_task", due_at=now + hour, status="scheduled"),
            Touch(lead_id=done, channel="call_task", due_at=now - hour, status="done"),
            Touch(lead_id=automatic, channel="auto_sms", due_at=now - hour, status="scheduled"),
        ]
    )
    db.session.commit()
    page = client.get("/leads/").get_data(as_text=True)
    assert _overdue_rows(page) == {late: True, on_time: False, done: False, automatic: False}
    assert queue.list_queue(boss, queue.QueueFilters()).overdue_ids == {late}
