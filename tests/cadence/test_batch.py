"""A claimed batch: read in a few queries whatever its size, each customer judged on its own
rows, and every message that went out recorded even when a later touch fails."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from builders import ingest, lead_json
from sqlalchemy import delete, select
from support import sql_statements

from dealer_leads.cadence import outbound
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.engine import COMPOSE_AHEAD, run_due_touches
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.outbound import Senders
from dealer_leads.extensions import db
from dealer_leads.messaging.models import OutboundMessage, Suppression

MONDAY_2PM = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)


class FakeMail:
    def __init__(self):
        self.sent = []

    def send(self, message) -> str:
        self.sent.append(message)
        return message["Message-ID"]


class FakeSms:
    def send(self, to, body, status_callback=None) -> str:
        raise AssertionError("no text is due in these tests")


@pytest.fixture
def senders(app, make_user):
    ensure_default_plans()
    make_user("advisor")
    return Senders(mail=FakeMail(), sms=FakeSms())


def _leads(count: int, at: datetime) -> list[int]:
    return [ingest(lead_json(), now=at).lead_id for _ in range(count)]


def _selects_during(action) -> int:
    """How many SELECT statements `action()` runs."""
    with sql_statements() as seen:
        action()
    return sum(statement.lstrip().upper().startswith("SELECT") for statement in seen)


def test_a_batch_reads_the_same_whatever_its_size(senders):
    reads = {}
    for count, at in ((2, MONDAY_2PM), (6, MONDAY_2PM + timedelta(days=1))):
        _leads(count, at)
        report = None

        def tick(at=at):
            nonlocal report
            report = run_due_touches(at, senders)

        reads[count] = _selects_during(tick)
        assert report.outcomes == {"sent": count}
        # what the plans scheduled later must not be due at the next tick
        db.session.execute(delete(Touch).where(Touch.status != "sent"))
        db.session.commit()
    assert reads[6] == reads[2]


def test_each_customer_in_a_batch_is_judged_on_its_own_opt_outs(senders):
    lead_ids = _leads(3, MONDAY_2PM)
    opted_out = db.session.scalars(
        db.select(Touch).where(Touch.lead_id == lead_ids[1], Touch.position == 0)
    ).one()
    db.session.add(Suppression(channel="all", address=opted_out.lead.customer.email, source="link"))
    db.session.commit()
    report = run_due_touches(MONDAY_2PM, senders)
    assert report.outcomes == {"sent": 2, "skipped": 1}
    assert db.session.get(Touch, opted_out.id).status == "skipped"
    sent_to = {message["To"] for message in senders.mail.sent}
    assert opted_out.lead.customer.email not in sent_to and len(sent_to) == 2


def test_a_touch_that_breaks_fails_alone_and_the_batch_goes_on(senders, monkeypatch):
    lead_ids = _leads(3, MONDAY_2PM)
    calls = []
    compose = outbound.compose

    def compose_then_fail(*args):
        calls.append(args)
        if len(calls) == 2:  # while the first message is on the wire
            raise RuntimeError("template engine exploded")
        return compose(*args)

    monkeypatch.setattr(outbound, "compose", compose_then_fail)
    report = run_due_touches(MONDAY_2PM, senders)
    assert report.outcomes == {"sent": 2, "failed": 1}
    first = db.session.scalars(
        db.select(Touch).where(Touch.lead_id.in_(lead_ids), Touch.position == 0).order_by(Touch.id)
    ).all()
    assert [touch.status for touch in first] == ["sent", "failed", "sent"]
    assert first[1].outcome == "RuntimeError: template engine exploded"
    lines = [e.summary for e in first[1].lead.events if e.kind == "touch_failed"]
    assert lines == [
        "Could not send the automatic e-mail (auto_response): "
        "RuntimeError: template engine exploded"
    ]
    assert db.session.scalar(db.select(db.func.count(OutboundMessage.id))) == 2
    assert len(senders.mail.sent) == 2
    later = run_due_touches(MONDAY_2PM + timedelta(minutes=30), senders)
    assert later.outcomes == {"task": 3}  # the calls; the broken e-mail is never tried again
    db.session.refresh(first[1])
    assert first[1].status == "failed" and len(senders.mail.sent) == 2


class HeldMail(FakeMail):
    """Holds the first message until released; at each send, notes how many touches were
    already recorded as sent, read on a connection of its own (so: committed)."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.committed_before_send = []

    def send(self, message) -> str:
        connection = db.engine.raw_connection()  # no transaction of SQLAlchemy's: no lock
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT count(*) FROM touches WHERE status = 'sent'")
            self.committed_before_send.append(cursor.fetchone()[0])
        finally:
            connection.close()
        if not self.sent:
            assert self.release.wait(10), "the test never released the first message"
        return super().send(message)


def test_touches_are_composed_ahead_while_a_message_is_on_the_wire_and_sent_one_at_a_time(
    senders, monkeypatch
):
    _leads(COMPOSE_AHEAD + 4, MONDAY_2PM)
    mail = HeldMail()
    composed = []
    compose = outbound.compose

    def counted(*args):
        composed.append(args[0].id)
        return compose(*args)

    monkeypatch.setattr(outbound, "compose", counted)
    ahead = 1 + COMPOSE_AHEAD + 1  # the one on the wire, those waiting, the one in hand
    seen = {}

    def watch():
        """While the first message is held, the next ones are composed, up to the limit."""
        deadline = time.monotonic() + 10
        while len(composed) < ahead and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # and no further
        seen.update(composed=len(composed), sent=len(mail.sent))
        mail.release.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        report = run_due_touches(MONDAY_2PM, Senders(mail=mail, sms=FakeSms()))
    finally:
        mail.release.set()
        watcher.join(20)
    assert seen == {"composed": ahead, "sent": 0}
    assert report.outcomes == {"sent": COMPOSE_AHEAD + 4}
    # One message at a time, each handed over after every earlier outcome was committed.
    assert mail.committed_before_send == list(range(COMPOSE_AHEAD + 4))
    sent_ids = db.session.scalars(select(Touch.id).where(Touch.status == "sent")).all()
    assert sorted(sent_ids) == sorted(composed)
