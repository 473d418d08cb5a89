"""Two workers at once, each a thread with its own app context and session, over 1,000 due
e-mails: no touch is claimed or sent twice, and no tick claims more than its batch. On
PostgreSQL the claim skips rows the other worker holds (FOR UPDATE SKIP LOCKED); on SQLite one
writer at a time (BEGIN IMMEDIATE) gives the same guarantee, and it must hold there too."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from bench.cadence_support import insert_due_touches
from dealer_leads.cadence.defaults import ensure_default_plans
from dealer_leads.cadence.engine import TickReport, run_due_touches
from dealer_leads.cadence.models import Touch
from dealer_leads.cadence.outbound import Senders
from dealer_leads.database import now_utc
from dealer_leads.extensions import db
from dealer_leads.messaging.models import OutboundMessage

TOUCHES, BATCH, WORKERS = 1000, 50, ("worker-a", "worker-b")


class RecordingMail:
    """Keeps the recipient of every message; a short pause per message lets the other worker's
    ticks interleave with this one's."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message) -> str:
        time.sleep(0.0005)
        self.sent.append(str(message["To"]))
        return str(message["Message-ID"])


def _work(app, name, mail, start, reports, errors) -> None:
    try:
        with app.app_context():
            start.wait(timeout=30)
            for _ in range(TOUCHES):  # bounded; stops at the first tick that claims nothing
                report = run_due_touches(
                    now_utc(), Senders(mail=mail, sms=None), limit=BATCH, worker=name
                )
                reports.append(report)
                if not report.claimed:
                    break
    except Exception as error:  # handed to the test thread, which fails with it
        errors.append(error)


def _run_two_workers(app) -> tuple[dict[str, RecordingMail], dict[str, list[TickReport]]]:
    mails = {name: RecordingMail() for name in WORKERS}
    reports: dict[str, list[TickReport]] = {name: [] for name in WORKERS}
    errors: list[Exception] = []
    start = threading.Barrier(len(WORKERS))
    threads = [
        threading.Thread(
            target=_work, args=(app, name, mails[name], start, reports[name], errors), daemon=True
        )
        for name in WORKERS
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not [t for t in threads if t.is_alive()], "a worker thread did not finish"
    assert errors == []
    return mails, reports


def test_two_workers_never_claim_the_same_touch(app):
    ensure_default_plans()
    insert_due_touches(TOUCHES, now_utc() - timedelta(minutes=1), tag="pair")
    db.session.remove()  # the workers see the committed rows through their own sessions

    mails, reports = _run_two_workers(app)

    largest = {name: max(r.claimed for r in reports[name]) for name in WORKERS}
    assert max(largest.values()) <= BATCH, f"a tick claimed more than its batch: {largest}"
    owners = Counter(
        token.partition(":")[0] for token in db.session.scalars(db.select(Touch.claimed_by))
    )
    assert set(owners) == set(WORKERS), f"both workers should have claimed touches: {owners}"
    assert sum(owners.values()) == TOUCHES
    statuses = Counter(db.session.scalars(db.select(Touch.status)))
    assert statuses == {"sent": TOUCHES}
    sent = [to for mail in mails.values() for to in mail.sent]
    assert len(sent) == len(set(sent)) == TOUCHES
    assert not set(mails[WORKERS[0]].sent) & set(mails[WORKERS[1]].sent)
    per_touch = Counter(db.session.scalars(db.select(OutboundMessage.touch_id)))
    assert len(per_touch) == TOUCHES and set(per_touch.values()) == {1}
