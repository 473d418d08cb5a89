"""The worker's tick: claim due touches, commit the claim, then perform each one.

A touch is claimed (status 'claimed', committed) before anything is sent, and its outcome is
committed right after. A claim that never got an outcome (the worker died between the two) is
flagged 'unknown' for a person to look at; it is never sent again by itself.

A claimed batch is loaded in a few queries (`batch.load_batch`) and its objects are kept
through the per-touch commits (not expired by each one), so a touch costs its writes and its
commit, not a dozen reads. Messages go out through `outbound.Courier` while the next touches are
composed; each outcome is still committed before the following message is handed over.

One touch that fails in a way nobody foresaw (a template that breaks on this lead's data, a
setting that cannot be read) is marked failed, with the error on the lead's timeline for a
person, or flagged 'unknown' when it broke after being handed to a sender; the rest of the
batch goes on. Neither is sent again by itself.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from dealer_leads.cadence import outbound
from dealer_leads.cadence.batch import Batch, load_batch, opt_out_reason
from dealer_leads.cadence.finishing import finish_done_plans
from dealer_leads.cadence.models import AUTOMATIC_CHANNELS, Touch
from dealer_leads.database import update_as_loaded
from dealer_leads.extensions import db
from dealer_leads.leads.timeline import record_event, write_event
from dealer_leads.messaging import consent
from dealer_leads.messaging.compliance import NoContactWindow
from dealer_leads.messaging.errors import PermanentSendError, TemporarySendError
from dealer_leads.messaging.sms import SmsOutcomeUnknown

log = logging.getLogger(__name__)
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)
STALE_CLAIM = timedelta(minutes=10)
# Composed messages that may wait for the courier: the worker composes the next ones instead
# of waiting while a message is on the wire (a fifth more touches a second, measured).
COMPOSE_AHEAD = 4
# The channel a person step reaches the customer on: an opt-out of it cancels the step.
PERSON_STEP_CHANNELS = {"call_task": "call", "email_task": "email"}
OPTED_OUT_OF = {"call": "calls", "email": "e-mail"}


Sending = tuple[outbound.Composed, Future[str]]  # a message on the wire and its result


@dataclass
class TickReport:
    """What one tick did, for logs and benchmarks."""

    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    flagged: int = 0

    def count(self, outcome: str, n: int = 1) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n

    def add(self, other: TickReport) -> None:
        """Add another tick's figures to these."""
        self.claimed, self.flagged = self.claimed + other.claimed, self.flagged + other.flagged
        for outcome, n in other.outcomes.items():
            self.count(outcome, n)


def claim_due_touches(now: datetime, limit: int, worker: str) -> list[int]:
    """Mark up to `limit` due touches as claimed by this worker and commit. On PostgreSQL
    rows another worker holds are skipped (SKIP LOCKED); SQLite has one writer at a time.

    The ids are selected first and updated by list: an UPDATE with a LIMITed SKIP LOCKED
    subquery may run the subquery again per row on PostgreSQL and claim more than `limit`."""
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    due = (
        select(Touch.id)
        .where(Touch.status == "scheduled", Touch.due_at <= now)
        .order_by(Touch.due_at, Touch.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(due))
    if ids:
        db.session.execute(
            update(Touch)
            .where(Touch.id.in_(ids), Touch.status == "scheduled")
            .values(status="claimed", claimed_at=now, claimed_by=token)
        )
    db.session.commit()
    return sorted(ids)


def flag_stale_claims(now: datetime, stale_after: timedelta = STALE_CLAIM) -> int:
    """Claims older than `stale_after` with no outcome: flag them, never resend them."""
    stale = db.session.scalars(
        select(Touch).where(Touch.status == "claimed", Touch.claimed_at < now - stale_after)
    ).all()
    for touch in stale:
        touch.status, touch.finished_at = "unknown", now
        touch.outcome = "claimed by a worker that stopped before recording the result"
        record_event(
            touch.lead,
            "touch_unknown",
            f"Check by hand: the {outbound.describe(touch)} may or may not have gone "
            "out (the worker stopped mid-send)",
            at=now,
            touch_id=touch.id,
        )
    db.session.commit()
    return len(stale)


def run_due_touches(
    now: datetime, senders: outbound.Senders, *, limit: int = 100, worker: str = "worker"
) -> TickReport:
    """One tick: flag stale claims, claim what is due, perform each claimed touch; a plan left
    with nothing to do is marked finished."""
    report = TickReport(flagged=flag_stale_claims(now))
    ids = claim_due_touches(now, limit, worker)
    report.claimed = len(ids)
    if ids:
        with _kept_between_commits(), outbound.Courier() as courier:
            batch = load_batch(ids)
            _perform_batch(batch, now, senders, courier, report)
            finish_done_plans({touch.lead_id for touch in batch.touches}, now)
            db.session.commit()
    return report


def _perform_batch(
    batch: Batch,
    now: datetime,
    senders: outbound.Senders,
    courier: outbound.Courier,
    report: TickReport,
) -> None:
    """Each touch in order. While a message is on the wire the next ones are composed (up to
    COMPOSE_AHEAD waiting), and they are handed to the courier one at a time: each outcome is
    committed as soon as its send ends, before the next message is handed over."""
    waiting: deque[outbound.Composed] = deque()
    sending: Sending | None = None
    try:
        for touch in batch.touches:
            try:
                composed = prepare_touch(touch, now, senders, batch)
            except Exception as error:  # noqa: BLE001  (one broken touch must not stop the rest)
                composed = _broken(touch, error, now)
            if isinstance(composed, str):  # done without sending: its outcome is committed
                report.count(composed)
            else:
                waiting.append(composed)
            full = len(waiting) > COMPOSE_AHEAD
            sending = _hand_over(sending, waiting, courier, now, report, wait=full)
        while waiting:
            sending = _hand_over(sending, waiting, courier, now, report, wait=True)
    finally:  # even when something failed: what went out is recorded (the rest stays claimed)
        if sending is not None:
            report.count(finish_send(*sending, now))


def _hand_over(
    sending: Sending | None,
    waiting: deque[outbound.Composed],
    courier: outbound.Courier,
    now: datetime,
    report: TickReport,
    *,
    wait: bool,
) -> Sending | None:
    """Once the message on the wire is sent (waiting for it when `wait`), commit its outcome
    and hand the next composed one to the courier; returns what is on the wire now."""
    if sending is not None:
        if not wait and not sending[1].done():
            return sending
        report.count(finish_send(*sending, now))
    if not waiting:
        return None
    composed = waiting.popleft()
    sending = composed, courier.start(composed)
    # Let the courier have the interpreter now: its first round trip to the relay then overlaps
    # the next compose, instead of waiting until this thread blocks (3-4 % more touches a
    # second, measured).
    time.sleep(0)
    return sending


@contextmanager
def _kept_between_commits() -> Iterator[None]:
    """The session's objects survive its commits inside; expired (as usual) afterwards."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = expire
        session.expire_all()


def prepare_touch(
    touch: Touch, now: datetime, senders: outbound.Senders, batch: Batch
) -> str | outbound.Composed:
    """The message to send for one claimed touch, or the outcome (committed) when there is none.

    A paused plan holds its automatic touches (a resume releases them) while its person steps
    still become tasks."""
    reason = _reason_to_skip(touch, batch)
    if reason:
        return _finish(touch, "skipped", reason, now)
    automatic = touch.channel in AUTOMATIC_CHANNELS
    if automatic and _plan_state(touch, batch) == "paused":
        touch.status, touch.claimed_at = "held", None
        db.session.commit()
        return "held"
    if not automatic:
        return _open_person_step(touch, now, batch)
    try:
        return outbound.compose(touch, now, senders, batch)
    except outbound.NotNow as later:
        return _reschedule(touch, later.moment)
    except outbound.NotAllowed as refusal:
        return _finish(touch, "skipped", str(refusal), now)


def _open_person_step(touch: Touch, now: datetime, batch: Batch) -> str:
    """The step becomes a task in the assignee's list, unless the customer opted out of its
    channel (skipped, said on the timeline); a call waits for the calling window (the quiet
    hours of the dealership and of the customer's zone, as texts do); an e-mail to write
    carries its template filled in for the lead as a draft."""
    lead, channel = touch.lead, PERSON_STEP_CHANNELS.get(touch.channel)
    refusal = opt_out_reason(batch, lead.customer, channel, now=now) if channel else ""
    if refusal:
        record_event(
            lead,
            "step_skipped",
            f"Step skipped: {touch.title or outbound.describe(touch)} (the customer opted out "
            f"of {OPTED_OUT_OF[channel]})",
            at=now,
            touch_id=touch.id,
        )
        return _finish(touch, "skipped", refusal, now)
    if touch.channel == "call_task":
        window = _call_window(lead.customer.phone, now)
        if window > now + timedelta(minutes=1):
            return _reschedule(touch, window)
    if touch.channel == "email_task" and touch.template_key:
        touch.outcome = _email_draft(touch, batch)
    touch.status, touch.assigned_to_id = "open", lead.assigned_to_id
    db.session.commit()
    return "task"


def _email_draft(touch: Touch, batch: Batch) -> str:
    """The draft the person starts from; when the template cannot be filled in for this lead,
    the task still opens, saying why it has no draft."""
    try:
        return outbound.email_draft_text(touch, batch)
    except Exception as error:  # noqa: BLE001  (the person writes it from scratch instead)
        log.warning("cadence: touch #%s: no e-mail draft: %s", touch.id, error)
        return f"No draft from template {touch.template_key!r}: {_error_text(error)}"[:2000]


def _call_window(phone: str, now: datetime) -> datetime:
    """When the customer may be called; at once when no moment suits every window (a person
    then judges, rather than the call never being asked for)."""
    try:
        return consent.contact_window(phone or "", now)
    except NoContactWindow:
        log.warning("cadence: no calling window for %s; the call task opens now", phone)
        return now


def _reschedule(touch: Touch, moment: datetime) -> str:
    touch.status, touch.due_at, touch.claimed_at = "scheduled", moment, None
    db.session.commit()
    return "rescheduled"


def finish_send(composed: outbound.Composed, sent: Future[str], now: datetime) -> str:
    """Wait for a send, then record and commit its outcome; returns the outcome's name."""
    touch = composed.touch
    try:
        result = composed.record(sent.result())
    except SmsOutcomeUnknown as error:
        # The provider may have taken the text: a retry could send it twice. A person checks.
        return _unknown(touch, str(error), now)
    except TemporarySendError as error:
        return _retry_or_fail(touch, str(error), now)
    except PermanentSendError as error:
        return _failed(touch, str(error), now)
    except Exception as error:  # noqa: BLE001  (it may have gone out: a person checks)
        log.exception("cadence: touch #%s: unexpected error while sending", touch.id)
        db.session.rollback()
        return _unknown(touch, _error_text(error), now)
    # Written at once, the object clean: the commit has nothing to flush (see `write_event`).
    update_as_loaded(
        db.session(),
        touch,
        status="sent",
        finished_at=now,
        message_id=result.message_id,
        outcome=result.summary,
    )
    write_event(
        touch.lead,
        touch.channel,
        result.summary,
        at=now,
        touch_id=touch.id,
        message_id=result.message_id,
    )
    db.session.commit()
    return "sent"


def _plan_state(touch: Touch, batch: Batch) -> str:
    """The state of the plan the touch belongs to; "active" for a touch of no current plan."""
    cadence = batch.cadences.get(touch.lead_id)
    if cadence is not None and cadence.plan_id == touch.plan_id:
        return cadence.state
    return "active"


def _reason_to_skip(touch: Touch, batch: Batch) -> str:
    lead = touch.lead
    if lead.merged_into_id:
        return f"lead merged into #{lead.merged_into_id}"
    state = _plan_state(touch, batch)
    if state in ("stopped", "finished"):
        return f"follow-up {state}"
    return ""


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _broken(touch: Touch, error: Exception, now: datetime) -> str:
    """A touch that raised what nobody foresaw: failed, the error on the timeline for a
    person; never tried again by itself (nothing was handed to a sender)."""
    log.exception("cadence: touch #%s failed", touch.id)
    db.session.rollback()  # whatever the error left half-written
    return _failed(touch, _error_text(error), now)


def _finish(touch: Touch, status: str, outcome: str, now: datetime) -> str:
    touch.status, touch.outcome, touch.finished_at = status, outcome[:2000], now
    db.session.commit()
    return status


def _retry_or_fail(touch: Touch, error: str, now: datetime) -> str:
    touch.attempts += 1
    if touch.attempts > len(RETRY_DELAYS):
        return _failed(touch, f"gave up after {touch.attempts} attempts: {error}", now)
    touch.status, touch.claimed_at = "scheduled", None
    touch.due_at = now + RETRY_DELAYS[touch.attempts - 1]
    touch.outcome = f"attempt {touch.attempts} failed: {error}"[:2000]
    db.session.commit()
    return "retry"


def _unknown(touch: Touch, error: str, now: datetime) -> str:
    record_event(
        touch.lead,
        "touch_unknown",
        f"Check by hand: the {outbound.describe(touch)} may or may not have gone out ({error})",
        at=now,
        touch_id=touch.id,
    )
    return _finish(touch, "unknown", error, now)


def _failed(touch: Touch, error: str, now: datetime) -> str:
    verb = "send" if touch.channel in AUTOMATIC_CHANNELS else "open"
    record_event(
        touch.lead,
        "touch_failed",
        f"Could not {verb} the {outbound.describe(touch)}: {error}",
        at=now,
        touch_id=touch.id,
    )
    return _finish(touch, "failed", error, now)
