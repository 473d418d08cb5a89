"""Merging leads and customers field by field, the timeline it leaves, and undoing it exactly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from builders import ingest, lead_json
from support import login

from dealer_leads.appointments.models import Appointment
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.leads.merge import (
    CUSTOMER_SNAPSHOT_FIELDS,
    LEAD_SNAPSHOT_FIELDS,
    MergeRefused,
    merge_customers,
    merge_leads,
)
from dealer_leads.leads.merge_queries import compare_leads, list_merge_candidates, list_merges
from dealer_leads.leads.merge_undo import undo_merge
from dealer_leads.leads.models import Customer, Lead, LeadEvent, LeadSource, LeadVehicle, Merge
from dealer_leads.leads.services import change_status, log_call

CIVIC = {"interest": "buy", "year": 2024, "make": "Honda", "model": "Civic"}
ACCORD = {"interest": "buy", "year": 2025, "make": "Honda", "model": "Accord"}
TRADE = {"interest": "trade-in", "year": 2016, "make": "Mazda", "model": "3"}


def _new_lead(*, now=None, **overrides) -> Lead:
    return db.session.get(Lead, ingest(lead_json(**overrides), now=now).lead_id)


def _lead_state(lead_id: int) -> dict:
    """Every field a merge may touch, and the ids of the rows hanging off the lead."""
    db.session.expire_all()
    lead = db.session.get(Lead, lead_id)
    fields = {f: getattr(lead, f) for f in LEAD_SNAPSHOT_FIELDS}
    rows = {
        name: set(db.session.scalars(db.select(model.id).where(model.lead_id == lead_id)))
        for name, model in (
            ("vehicles", LeadVehicle),
            ("sources", LeadSource),
            ("events", LeadEvent),
        )
    }
    return {"fields": fields, **rows}


def _customer_state(customer_id: int) -> dict:
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    leads = set(db.session.scalars(db.select(Lead.id).where(Lead.customer_id == customer_id)))
    return {"fields": {f: getattr(customer, f) for f in CUSTOMER_SNAPSHOT_FIELDS}, "leads": leads}


def _event_ids(lead_id: int, kind: str) -> set[int]:
    return set(
        db.session.scalars(
            db.select(LeadEvent.id).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == kind)
        )
    )


@pytest.fixture
def pair(app, make_user):
    """A supervisor, two advisors, and two leads of different customers, each with history."""
    supervisor = make_user("supervisor", name="Sam Supervisor")
    first, second = make_user("advisor", name="Ana"), make_user("advisor", name="Ben")
    start = now_utc() - timedelta(days=2)
    older = _new_lead(
        now=start, source="CarGurus", comments="Trade my Mazda?", vehicles=[ACCORD, TRADE]
    )
    newer = _new_lead(
        now=start + timedelta(hours=3),
        source="Autotrader",
        comments="Is the Civic available?",
        vehicles=[CIVIC],
    )
    log_call(supervisor, older.id, "reached", now=start + timedelta(minutes=20))
    return supervisor, (first, second), newer.id, older.id


def test_merge_takes_chosen_fields_and_moves_rows(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    merged_before = _lead_state(merged_id)
    survivor_before = _lead_state(survivor_id)

    merge = merge_leads(
        supervisor,
        survivor_id,
        merged_id,
        {"status": "merged", "assigned_to_id": "merged", "comments": "both"},
    )

    survivor, merged = db.session.get(Lead, survivor_id), db.session.get(Lead, merged_id)
    old, new = merged_before["fields"], survivor_before["fields"]
    assert survivor.status == "contacted" == old["status"]
    assert survivor.assigned_to_id == old["assigned_to_id"] != new["assigned_to_id"]
    assert survivor.comments == "Is the Civic available?\n\nTrade my Mazda?"
    assert (survivor.source, survivor.customer_id) == ("Autotrader", new["customer_id"])
    assert survivor.received_at == old["received_at"] < new["received_at"]
    assert survivor.first_response_at == old["first_response_at"] is not None
    assert sorted(v.model for v in survivor.vehicles) == ["3", "Accord", "Civic"]
    assert {s.source for s in survivor.sources} == {"Autotrader", "CarGurus"}
    assert merged_before["events"] <= {e.id for e in survivor.events}
    assert merged.merged_into_id == survivor_id and merged.status == "contacted"
    assert merged.vehicles == [] and merged.sources == []
    assert merge.choices["source"] == "survivor" and merge.choices["comments"] == "both"
    assert merge.snapshot["moved"]["vehicles"] == sorted(merged_before["vehicles"])


def _repeat_inquiry(lead_id: int, source: str, at) -> None:
    """A later inquiry from the lead's customer through `source`, added to the open lead."""
    customer = db.session.get(Lead, lead_id).customer
    person = {"first_name": customer.first_name, "last_name": customer.last_name}
    body = lead_json(source=source, customer={**person, "email": customer.email})
    assert ingest(body, now=at).lead_id == lead_id


def test_last_touch_is_the_source_of_the_latest_inquiry_of_both_leads(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    # The older (merged) lead came back through TrueCar after the survivor's Autotrader inquiry.
    latest_inquiry = db.session.get(Lead, survivor_id).received_at + timedelta(hours=1)
    _repeat_inquiry(merged_id, "TrueCar", latest_inquiry)
    merge = merge_leads(supervisor, survivor_id, merged_id, {})
    survivor = db.session.get(Lead, survivor_id)
    assert survivor.latest_source == "TrueCar"
    assert survivor.source == "Autotrader"  # first touch: as chosen (the survivor's by default)
    event = db.session.get(LeadEvent, max(_event_ids(survivor_id, "merge")))
    assert event.data["rules"]["latest_source"] == "source of the latest inquiry of the two leads"
    undo_merge(supervisor, merge.id)
    db.session.expire_all()
    assert db.session.get(Lead, survivor_id).latest_source == "Autotrader"
    assert db.session.get(Lead, merged_id).latest_source == "TrueCar"


def test_last_touch_follows_the_newer_lead_when_the_older_one_survives(pair):
    supervisor, _advisors, newer_id, older_id = pair
    merge_leads(supervisor, older_id, newer_id, {})
    older = db.session.get(Lead, older_id)
    assert (older.source, older.latest_source) == ("CarGurus", "Autotrader")


def test_last_touch_stays_when_the_survivor_had_the_latest_inquiry(pair):
    supervisor, _advisors, newer_id, older_id = pair
    latest_inquiry = db.session.get(Lead, newer_id).received_at + timedelta(hours=1)
    _repeat_inquiry(older_id, "Edmunds", latest_inquiry)
    merge_leads(supervisor, older_id, newer_id, {"source": "merged"})
    older = db.session.get(Lead, older_id)
    assert (older.source, older.latest_source) == ("Autotrader", "Edmunds")


def test_merge_records_who_which_fields_and_rules_on_both_timelines(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    merge = merge_leads(supervisor, survivor_id, merged_id, {"source": "merged"})
    for lead_id in (survivor_id, merged_id):
        [event] = db.session.scalars(
            db.select(LeadEvent).where(LeadEvent.lead_id == lead_id, LeadEvent.kind == "merge")
        ).all()
        assert event.user_id == supervisor.id and "Sam Supervisor" in event.summary
        assert f"from #{merged_id}: source" in event.summary
        assert event.data["merge_id"] == merge.id
        assert event.data["choices"]["source"] == "merged"
        assert event.data["rules"]["received_at"] == "earliest received of the two leads"
        assert event.data["rules"]["vehicles"].startswith("all 2 moved")


def test_a_lost_lead_keeps_the_reason_given_with_its_status(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    change_status(supervisor, merged_id, "lost", "bought elsewhere")
    merge_leads(supervisor, survivor_id, merged_id, {"status": "merged"})
    survivor = db.session.get(Lead, survivor_id)
    assert (survivor.status, survivor.lost_reason) == ("lost", "bought elsewhere")
    event = db.session.get(LeadEvent, max(_event_ids(survivor_id, "merge")))
    assert "keeps the reason" in event.data["rules"]["lost_reason"]


def test_undo_restores_every_field_and_row_exactly(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    before = {lead_id: _lead_state(lead_id) for lead_id in (survivor_id, merged_id)}
    merge = merge_leads(
        supervisor,
        survivor_id,
        merged_id,
        {
            "status": "merged",
            "assigned_to_id": "merged",
            "source": "merged",
            "comments": "both",
            "customer_id": "merged",
            "sales_kind": "merged",
            "department": "merged",
        },
    )

    undone = undo_merge(supervisor, merge.id)

    assert undone.undone_at is not None
    for lead_id, state in before.items():
        after = _lead_state(lead_id)
        assert after["fields"] == state["fields"]
        assert after["vehicles"] == state["vehicles"] and after["sources"] == state["sources"]
        added = _event_ids(lead_id, "merge") | _event_ids(lead_id, "merge_undone")
        assert after["events"] == state["events"] | added and len(added) == 2
    event = db.session.get(LeadEvent, max(_event_ids(merged_id, "merge_undone")))
    assert event.user_id == supervisor.id and event.data["merge_id"] == merge.id


def test_appointments_follow_the_merged_lead_and_come_back_on_undo(pair):
    supervisor, (advisor, _other), survivor_id, merged_id = pair
    start = now_utc() + timedelta(days=1)
    visit = Appointment(
        lead_id=merged_id,
        advisor_id=advisor.id,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        uid="merge-test@dealer",
    )
    db.session.add(visit)
    db.session.commit()

    merge = merge_leads(supervisor, survivor_id, merged_id, {})
    assert db.session.get(Appointment, visit.id).lead_id == survivor_id
    assert merge.snapshot["moved"]["appointments"] == [visit.id]

    undo_merge(supervisor, merge.id)
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).lead_id == merged_id


def test_undo_twice_is_refused(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    merge = merge_leads(supervisor, survivor_id, merged_id, {})
    undo_merge(supervisor, merge.id)
    with pytest.raises(MergeRefused, match="undone already"):
        undo_merge(supervisor, merge.id)
    with pytest.raises(MergeRefused, match="no merge"):
        undo_merge(supervisor, merge.id + 100)


def test_merging_a_merged_lead_is_refused(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    merge_leads(supervisor, survivor_id, merged_id, {})
    third = _new_lead().id
    for survivor, merged in ((third, merged_id), (merged_id, third)):
        with pytest.raises(MergeRefused, match=f"lead #{merged_id} was merged into lead"):
            merge_leads(supervisor, survivor, merged, {})


@pytest.mark.parametrize(
    "survivor, merged, choices, message",
    [
        ("a", "a", {}, "with itself"),
        ("a", 999_999, {}, "no lead #999999"),
        ("a", "b", {"vin": "merged"}, "cannot merge field"),
        ("a", "b", {"status": "both"}, "choose the survivor's or the merged value"),
    ],
)
def test_bad_requests_are_refused(pair, survivor, merged, choices, message):
    supervisor, _advisors, survivor_id, merged_id = pair
    ids = {"a": survivor_id, "b": merged_id}
    with pytest.raises(MergeRefused, match=message):
        merge_leads(supervisor, ids.get(survivor, survivor), ids.get(merged, merged), choices)
    assert db.session.scalar(db.select(db.func.count(Merge.id))) == 0


def test_undo_refused_while_a_later_merge_of_the_same_lead_stands(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    third = _new_lead().id
    first = merge_leads(supervisor, survivor_id, merged_id, {})
    second = merge_leads(supervisor, survivor_id, third, {})
    with pytest.raises(MergeRefused, match=f"undo merge #{second.id} "):
        undo_merge(supervisor, first.id)
    undo_merge(supervisor, second.id)
    undo_merge(supervisor, first.id)
    assert db.session.get(Lead, merged_id).merged_into_id is None


def test_undo_of_lead_merge_refused_while_a_later_customer_merge_moved_it(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    lead_merge = merge_leads(supervisor, survivor_id, merged_id, {})
    customers = [db.session.get(Lead, i).customer_id for i in (survivor_id, merged_id)]
    customer_merge = merge_customers(supervisor, customers[0], customers[1], {})
    with pytest.raises(MergeRefused, match=f"merge #{customer_merge.id} \\(customer"):
        undo_merge(supervisor, lead_merge.id)


def test_advisor_may_not_merge_or_undo(pair):
    supervisor, (advisor, _other), survivor_id, merged_id = pair
    with pytest.raises(MergeRefused, match="only the supervisor"):
        merge_leads(advisor, survivor_id, merged_id, {})
    merge = merge_leads(supervisor, survivor_id, merged_id, {})
    with pytest.raises(MergeRefused, match="only the supervisor"):
        undo_merge(advisor, merge.id)
    with pytest.raises(MergeRefused):
        merge_customers(advisor, 1, 2, {})


def test_customer_merge_moves_leads_and_undo_restores_them(pair):
    supervisor, _advisors, survivor_lead, merged_lead = pair
    keep = db.session.get(Lead, survivor_lead).customer_id
    gone = db.session.get(Lead, merged_lead).customer_id
    before = {keep: _customer_state(keep), gone: _customer_state(gone)}
    gone_email = before[gone]["fields"]["email"]

    merge = merge_customers(supervisor, keep, gone, {"email": "merged", "last_name": "merged"})

    survivor, merged = db.session.get(Customer, keep), db.session.get(Customer, gone)
    assert survivor.email == gone_email and survivor.last_name == merged.last_name
    assert survivor.first_name == before[keep]["fields"]["first_name"]
    assert survivor.phone == before[keep]["fields"]["phone"]
    assert merged.merged_into_id == keep
    assert {lead.id for lead in survivor.leads} == {survivor_lead, merged_lead}
    assert merge.snapshot["moved"]["leads"] == [merged_lead]
    for lead_id in (survivor_lead, merged_lead):
        [event] = _event_ids(lead_id, "merge")
        assert db.session.get(LeadEvent, event).data["merge_id"] == merge.id

    undo_merge(supervisor, merge.id)
    assert _customer_state(keep) == before[keep] and _customer_state(gone) == before[gone]
    assert _event_ids(merged_lead, "merge_undone")


def test_candidates_are_open_leads_of_the_same_customer_email_or_phone(app):
    sales = _new_lead(customer={"first_name": "Lea", "email": "lea@example.com"})
    service = _new_lead(
        customer={"first_name": "Lea", "email": "lea@example.com"},
        vehicles=[],
        comments="Oil change and brakes service please",
    )
    by_phone = _new_lead(
        customer={"first_name": "L", "email": "other@example.com", "phone": "416-555-2671"}
    )
    stranger = _new_lead()
    assert service.customer_id == sales.customer_id and service.department == "service"
    db.session.get(Customer, sales.customer_id).phone = "+14165552671"
    db.session.commit()
    ids = {lead.id for lead in list_merge_candidates(sales.id)}
    assert ids == {service.id, by_phone.id}
    assert stranger.id not in ids


def test_compare_rows_and_merge_list(pair):
    supervisor, _advisors, survivor_id, merged_id = pair
    rows = {row.field: row for row in compare_leads(survivor_id, merged_id)}
    assert rows["source"].value_a == "Autotrader" and rows["source"].value_b == "CarGurus"
    assert rows["assigned_to_id"].value_a == "Ben" and rows["assigned_to_id"].differs
    merge = merge_leads(supervisor, survivor_id, merged_id, {"source": "merged"})
    [entry] = list_merges(10)
    assert entry.merge.id == merge.id and entry.by == "Sam Supervisor"
    assert entry.taken == ["Source"]


# --- pages ------------------------------------------------------------------------------------


def test_pages_render_and_merge_through_http(pair, client):
    supervisor, _advisors, survivor_id, merged_id = pair
    login(client, supervisor)
    page = client.get(f"/leads/{survivor_id}/merge")
    assert page.status_code == 200
    compare = client.get(f"/leads/merge?survivor={survivor_id}&merged={merged_id}")
    assert compare.status_code == 200
    assert 'name="choice-comments" value="both"' in compare.get_data(as_text=True)

    response = client.post(
        "/leads/merge",
        data={
            "survivor": survivor_id,
            "merged": merged_id,
            "choice-source": "merged",
            "choice-status": "survivor",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/leads/{survivor_id}")
    db.session.expire_all()
    assert db.session.get(Lead, survivor_id).source == "CarGurus"

    merge_id = db.session.scalar(db.select(Merge.id))
    listing = client.get("/merges")
    assert listing.status_code == 200 and f"/merges/{merge_id}/undo" in listing.get_data(True)
    assert client.post(f"/merges/{merge_id}/undo").status_code == 302
    db.session.expire_all()
    assert db.session.get(Merge, merge_id).undone_at is not None
    again = client.post(f"/merges/{merge_id}/undo", follow_redirects=True)
    assert again.status_code == 200 and "undone already" in again.get_data(as_text=True)


def test_customer_pages(pair, client):
    supervisor, _advisors, survivor_lead, merged_lead = pair
    keep = db.session.get(Lead, survivor_lead).customer_id
    gone = db.session.get(Lead, merged_lead).customer_id
    login(client, supervisor)
    url = f"/customers/merge?survivor={keep}&merged={gone}&lead={survivor_lead}"
    page = client.get(url)
    assert page.status_code == 200 and 'name="choice-email"' in page.get_data(as_text=True)
    response = client.post(
        "/customers/merge",
        data={
            "survivor": keep,
            "merged": gone,
            "choice-phone": "merged",
            "back_to_lead": survivor_lead,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/leads/{survivor_lead}")
    db.session.expire_all()
    assert db.session.get(Customer, gone).merged_into_id == keep


def test_refusals_are_4xx_pages(pair, client):
    supervisor, _advisors, survivor_id, merged_id = pair
    login(client, supervisor)
    assert (
        client.get(f"/leads/merge?survivor={survivor_id}&merged={survivor_id}").status_code == 409
    )
    assert client.get("/leads/merge?survivor=abc").status_code == 400
    assert client.get("/leads/999999/merge").status_code == 404
    assert client.get("/customers/merge?survivor=1&merged=999999").status_code == 409
    assert client.post("/leads/merge", data={"survivor": survivor_id}).status_code == 400
    bad = client.post(
        "/leads/merge",
        data={"survivor": survivor_id, "merged": merged_id, "choice-status": "nonsense"},
    )
    assert bad.status_code == 409 and "Status" in bad.get_data(as_text=True)


def test_values_are_escaped(app, make_user, client):
    supervisor = make_user("supervisor")
    one = _new_lead(comments="<script>alert(1)</script>")
    two = _new_lead()
    login(client, supervisor)
    body = client.get(f"/leads/merge?survivor={one.id}&merged={two.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


@pytest.mark.parametrize(
    "role, expected",
    [(None, 302), ("advisor", 403), ("webmaster", 403), ("supervisor", 200), ("admin", 200)],
)
def test_who_may_open_the_merge_pages(pair, client, make_user, role, expected):
    _supervisor, _advisors, survivor_id, merged_id = pair
    customer_a, customer_b = (db.session.get(Lead, i).customer_id for i in pair[2:])
    if role:
        login(client, make_user(role))
    for url in (
        f"/leads/{survivor_id}/merge",
        f"/leads/merge?survivor={survivor_id}&merged={merged_id}",
        f"/customers/merge?survivor={customer_a}&merged={customer_b}",
        "/merges",
    ):
        assert client.get(url).status_code == expected, url


def test_advisor_posts_are_forbidden(pair, client):
    _supervisor, (advisor, _other), survivor_id, merged_id = pair
    login(client, advisor)
    data = {"survivor": survivor_id, "merged": merged_id}
    assert client.post("/leads/merge", data=data).status_code == 403
    assert client.post("/customers/merge", data=data).status_code == 403
    assert client.post("/merges/1/undo").status_code == 403
    assert db.session.scalar(db.select(db.func.count(Merge.id))) == 0


def test_post_without_csrf_token_is_refused(pair, app_factory):
    supervisor, _advisors, survivor_id, merged_id = pair
    email = supervisor.email
    db.session.commit()  # end this session's SQLite transaction: the other app's session writes
    csrf_app = app_factory(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login", data={"email": email, "password": "password123", "csrf_token": token}
    )
    assert signed_in.status_code == 302
    data = {"survivor": survivor_id, "merged": merged_id}
    assert client.post("/leads/merge", data=data).status_code == 400
    assert client.post("/customers/merge", data=data).status_code == 400
    assert client.post("/merges/1/undo").status_code == 400
    page = client.get(f"/leads/merge?survivor={survivor_id}&merged={merged_id}")
    token = _csrf_token(page.get_data(as_text=True))
    assert client.post("/leads/merge", data={**data, "csrf_token": token}).status_code == 302


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
