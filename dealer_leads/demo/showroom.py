"""Sixty days in the demo showroom: inquiries arrive, staff work them, leads move along.

Every inquiry goes through `store_inbound` + `process_inbound`, so matching, dedupe, routing and
round robin happen for real; staff then work the leads with the triage services. Intakes and
staff actions run in time order from one queue, so a repeat inquiry meets its lead in the state
it was in that day.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select, update

from dealer_leads.auth.models import User
from dealer_leads.auth.services import set_user_state
from dealer_leads.demo.catalog import (
    CALL_NOTES,
    DAY,
    DEPARTMENT_COMMENTS,
    DEPARTMENT_EMAILS,
    HOUR,
    HOUR_WEIGHTS,
    HOURS,
    LOST_REASONS,
    MINUTE,
    MISSED_CALLS,
    MISSED_WEIGHTS,
    NEW_MODELS,
    PROVIDER_ID_FORMATS,
    SALES_COMMENTS,
    SOURCES,
    SPEED_TO_LEAD,
    TRADE_INS,
    WALK_IN_NOTES,
    ZONE,
)
from dealer_leads.demo.payloads import Inquiry, Person, encode_inquiry
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads import services as triage
from dealer_leads.leads.channels import InvalidPayload
from dealer_leads.leads.ingest import process_inbound, store_inbound
from dealer_leads.leads.models import Customer, Lead, LeadEvent

UNIT_FIELDS = ("vin", "stock_number", "year", "make", "model", "trim", "price", "condition")


class Showroom:
    """Plays the demo period: inquiries arrive, staff answer them, leads move along.

    Everything that happens goes on one time-ordered queue; actions after `now` are dropped,
    so recent leads are still waiting, as they would be on a real morning.
    """

    def __init__(
        self, rng: random.Random, now: datetime, staff: list[User], stock: list[Vehicle]
    ) -> None:
        self.rng, self.now = rng, now
        self.supervisor = staff[0]
        self.advisors = [user for user in staff if user.role == "advisor"]
        self.by_id = {user.id: user for user in self.advisors}
        # Plain values: the rows themselves expire at every commit.
        self.stock = [
            {key: getattr(v, key) for key in UNIT_FIELDS} for v in stock if v.status != "hidden"
        ]
        today = now.astimezone(ZONE).date()
        self.model_year = today.year + (today.month >= 8)
        self.queue: list = []
        self.order = itertools.count()
        self.provider_numbers = itertools.count(48_211, 7)
        self.skipped = 0

    # the queue

    def at(self, when: datetime, action, *args) -> None:
        if when <= self.now:
            heapq.heappush(self.queue, (when, next(self.order), action, args))

    def run(self) -> None:
        while self.queue:
            when, _, action, args = heapq.heappop(self.queue)
            action(when, *args)
        db.session.commit()

    # time

    def _minutes(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(low, high))

    def _hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def working(self, when: datetime) -> datetime:
        """`when` if the showroom is open then, else a little after it next opens."""
        local = when.astimezone(ZONE)
        for _ in range(8):
            hours = HOURS[("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]]
            if hours:
                opens, closes = (
                    datetime.combine(local.date(), time.fromisoformat(h), ZONE) for h in hours
                )
                if local < opens:
                    return (opens + self._minutes(3, 40)).astimezone(UTC)
                if local <= closes - 15 * MINUTE:
                    return local.astimezone(UTC)
            local = datetime.combine(local.date() + DAY, time(0), ZONE)
        return when

    def received_time(self, days_ago: float) -> datetime:
        day = (self.now - days_ago * DAY).astimezone(ZONE).date()
        hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
        local = datetime.combine(
            day, time(hour, self.rng.randrange(60), self.rng.randrange(60)), ZONE
        )
        return min(local.astimezone(UTC), self.now - self._minutes(3, 120))

    def response_time(self, received: datetime) -> datetime:
        """Speed to lead varies: a third within five minutes, some the next day."""
        roll = self.rng.random()
        low, high = next((low, high) for share, low, high in SPEED_TO_LEAD if roll < share)
        return self.working(received + self._minutes(low, high))

    # inquiries

    def schedule_inquiries(self, people: list[Person]) -> None:
        """Each person's first inquiry, then repeats, returns and provider resends."""
        rng = self.rng
        for number, person in enumerate(people):
            days_ago = 59.6 if number == 0 else 60 * rng.random() ** 1.2
            first = self.inquiry(person, self.received_time(days_ago))
            self.schedule(first)
            roll = rng.random()
            if roll < 0.13:  # shopping around: another site within days
                self.schedule(
                    self.inquiry(person, first.at + self._hours(2, 480), other_than=first.source)
                )
            elif roll < 0.17:  # back after the duplicate window
                self.schedule(self.inquiry(person, first.at + timedelta(days=rng.uniform(32, 55))))
            if first.channel in ("api", "adf") and rng.random() < 0.05:
                self.schedule(first, resend_after=self._minutes(2, 180))

    def schedule(self, inq: Inquiry, resend_after: timedelta | None = None) -> None:
        inq.raw = inq.raw or encode_inquiry(self.rng, inq)
        raw, content_type = inq.raw
        when = inq.at
        if resend_after is not None:
            when += resend_after
            raw = raw.replace(b'<prospect status="new">', b'<prospect status="resend">')
        self.at(when, self.intake, inq, raw, content_type)

    def inquiry(self, person: Person, received: datetime, other_than: str = "") -> Inquiry:
        rng = self.rng
        name, channel, _ = rng.choices(SOURCES, [s[2] for s in SOURCES])[0]
        while name == other_than:
            name, channel, _ = rng.choices(SOURCES, [s[2] for s in SOURCES])[0]
        if channel == "manual":
            received = self.working(received)
        inq = Inquiry(person, name, channel, received)
        if name in PROVIDER_ID_FORMATS:
            inq.provider_id = PROVIDER_ID_FORMATS[name].format(n=next(self.provider_numbers))
        inq.give_phone = channel == "manual" or rng.random() < 0.85
        inq.give_email = not inq.give_phone or rng.random() < (0.5 if channel == "manual" else 0.9)
        if channel in ("form", "manual") and rng.random() < 0.14:
            department = rng.choice(("service", "service", "parts", "finance"))
            text = rng.choice(DEPARTMENT_COMMENTS[department])
            inq.comments = text.format(year=rng.randint(2015, 2023))
            inq.department = department if rng.random() < 0.3 else ""
            return inq
        inq.wanted = self.wanted(name)
        if name == "KBB" and rng.random() < 0.5:
            inq.wanted, inq.trade = None, self.trade() | {"interest": "sell"}
            inq.comments = "Instant Cash Offer accepted online; wants to bring the car in."
            return inq
        inq.trade = self.trade() if rng.random() < 0.3 else None
        inq.comments = rng.choice(SALES_COMMENTS).format(model=inq.wanted["model"])
        return inq

    def wanted(self, source: str) -> dict:
        """A vehicle of interest: a model from the brochure, or a unit on the lot."""
        rng = self.rng
        if source == "OEM program" or (
            source in ("Edmunds", "Website", "Phone", "Walk-in") and rng.random() < 0.3
        ):
            return self.brochure_model()
        listing = source in ("Autotrader", "CarGurus", "Cars.com")
        used = rng.random() < 0.75
        pool = [v for v in self.stock if (v["condition"] != "new") == used]
        unit = rng.choice(pool if listing and pool else self.stock)
        wanted = {
            "interest": "buy",
            "status": "new" if unit["condition"] == "new" else "used",
            **{key: unit[key] for key in ("year", "make", "model", "trim")},
        }
        if source in ("Website", "Phone", "Walk-in"):
            return wanted | {"stock": unit["stock_number"]}
        wanted["vin"] = unit["vin"]
        if listing or rng.random() < 0.5:
            wanted |= {"stock": unit["stock_number"], "price": unit["price"]}
        return wanted

    def brochure_model(self) -> dict:
        model, trims, *_ = self.rng.choice(NEW_MODELS)
        return {
            "interest": self.rng.choice(("buy", "buy", "lease")),
            "status": "new",
            "year": self.model_year,
            "make": "Toyota",
            "model": model,
            "trim": self.rng.choice(trims),
        }

    def trade(self) -> dict:
        make, model = self.rng.choice(TRADE_INS)
        age = self.rng.randint(4, 14)
        return {
            "interest": "trade-in",
            "status": "used",
            "year": self.model_year - age,
            "make": make,
            "model": model,
            "odometer": age * self.rng.randrange(14_000, 24_000),
        }

    def intake(self, when: datetime, inq: Inquiry, raw: bytes, content_type: str) -> None:
        """The real intake: store, then process as of the moment it arrived."""
        source_ip = "" if inq.channel == "manual" else "198.51.100.24"
        inbound = store_inbound(inq.channel, raw, content_type=content_type, source_ip=source_ip)
        inbound.received_at = when
        by = self.supervisor if inq.channel == "manual" else None
        result = process_inbound(inbound.id, now=when, by=by)[0]
        lead = db.session.get(Lead, result.lead_id)
        if result.rule == "new lead":
            customer = db.session.get(Customer, result.customer_id)
            customer.created_at = min(customer.created_at, when)
            self.plan(lead, inq)
        elif result.rule != "same provider id" and self.rng.random() < 0.6:
            note = f"Called back about the new inquiry from {inq.source}."
            callback = self.working(when + self._minutes(3, 90))
            self.at(callback, self.act, lead.id, "call", "reached", note)

    # what staff do with a new lead

    def plan(self, lead: Lead, inq: Inquiry) -> None:
        """Decide now how this lead will be worked; each step runs at its own time."""
        if lead.department != "sales":
            steps = self.department_steps(lead.received_at, lead.department)
        elif inq.channel == "manual":
            steps = self.walk_in_steps(lead.received_at, inq.source)
        else:
            steps = self.sales_steps(lead.received_at, inq.give_phone)
        if lead.department == "sales" and self.rng.random() < 0.06:
            steps.append((lead.received_at + self._hours(1, 5), "assign", None, ""))
        for when, kind, arg, detail in steps:
            self.at(when, self.act, lead.id, kind, arg, detail)

    def department_steps(self, received: datetime, department: str) -> list[tuple]:
        if self.rng.random() < 0.1:
            return []
        when = self.response_time(received)
        note = f"Forwarded to the {department} department ({DEPARTMENT_EMAILS[department]})."
        return [(when, "note", note, ""), (when + self._minutes(10, 90), "status", "contacted", "")]

    def walk_in_steps(self, received: datetime, source: str) -> list[tuple]:
        when = received + self._minutes(1, 4)
        note = WALK_IN_NOTES[source == "Phone"]
        return [
            (when, "status", "contacted", ""),
            (when + MINUTE, "note", note, ""),
            *self.progress(when),
        ]

    def sales_steps(self, received: datetime, has_phone: bool) -> list[tuple]:
        """About one in ten never answered; the rest called (or e-mailed) until reached."""
        rng = self.rng
        if rng.random() < 0.1:
            if rng.random() < 0.5:
                when = self.working(received + 30 * DAY)
                return [(when, "close", "lost", "Never worked; closed in clean-up")]
            return []
        when = self.response_time(received)
        if not has_phone:
            note = "Replied by e-mail with the price and availability."
            return [
                (when, "status", "contacted", ""),
                (when + MINUTE, "note", note, ""),
                *self.progress(when),
            ]
        steps = []
        for attempt in range(4):
            reached = rng.random() < (0.5 if attempt == 0 else 0.4)
            outcome = "reached" if reached else rng.choices(MISSED_CALLS, MISSED_WEIGHTS)[0]
            steps.append((when, "call", outcome, rng.choice(CALL_NOTES) if reached else ""))
            if reached:
                return steps + self.progress(when)
            if outcome == "wrong_number":
                return [*steps, (when + 2 * MINUTE, "status", "lost", "Wrong number")]
            when = self.working(when + self._hours(20, 52))
        if rng.random() < 0.6:
            steps.append((when, "status", "lost", "No response after four attempts"))
        return steps

    def progress(self, when: datetime) -> list[tuple]:
        """contacted → engaged → appointment → shown → sold, with losses along the way."""
        rng, steps = self.rng, []
        later = self.working(when + timedelta(days=rng.uniform(3, 12)))
        lost_later = [(later, "status", "lost", rng.choice(LOST_REASONS))]
        if rng.random() > 0.72:
            return lost_later if rng.random() < 0.4 else []
        when = self.working(when + self._hours(2, 48))
        steps.append((when, "status", "engaged", ""))
        if rng.random() > 0.6:
            return steps + (lost_later if rng.random() < 0.4 else [])
        when = self.working(when + self._hours(1, 30))
        visit = self.working(when + self._hours(20, 168))
        visit = visit.replace(minute=visit.minute // 15 * 15, second=0, microsecond=0)
        note = f"Test drive booked for {visit.astimezone(ZONE):%a %b %d at %H:%M}."
        steps += [(when, "status", "appointment", ""), (when + MINUTE, "note", note, "")]
        if rng.random() > 0.82:
            return [*steps, (visit + 2 * HOUR, "status", "lost", "No-show; did not rebook")]
        steps.append((visit, "status", "shown", ""))
        roll = rng.random()
        if roll < 0.42:
            steps.append((self.working(visit + self._hours(1, 50)), "status", "sold", ""))
        elif roll < 0.75:
            later = self.working(visit + timedelta(days=rng.uniform(2, 9)))
            steps.append((later, "status", "lost", rng.choice(LOST_REASONS[:-1])))
        return steps

    # doing it

    def act(self, when: datetime, lead_id: int, kind: str, arg, detail: str) -> None:
        """One staff action, by the lead's advisor (or the supervisor), at `when`."""
        assigned = db.session.scalar(select(Lead.assigned_to_id).where(Lead.id == lead_id))
        viewer = self.supervisor if kind == "close" else self.by_id.get(assigned, self.supervisor)
        try:
            if kind == "call":
                triage.log_call(viewer, lead_id, arg, detail, now=when)
            elif kind in ("status", "close"):
                self.change_status(viewer, lead_id, arg, detail, when)
            elif kind == "note":
                self.backdated(when, lead_id, lambda: triage.add_note(viewer, lead_id, arg))
            elif kind == "assign":
                self.reassign(when, lead_id, assigned)
        except triage.InvalidAction:
            self.skipped += 1

    def change_status(
        self, viewer: User, lead_id: int, status: str, reason: str, when: datetime
    ) -> None:
        lead = db.session.get(Lead, lead_id)
        if lead.status == status:  # a callback about a repeat inquiry got there first
            return
        triage.change_status(viewer, lead_id, status, reason, now=when)
        if status == "sold" and self.rng.random() < 0.5:  # else they chose another unit
            for wanted in lead.vehicles:
                if wanted.vehicle is not None and wanted.vehicle.status in ("available", "pending"):
                    wanted.vehicle.status, wanted.vehicle.updated_at = "sold", when
                    break
            db.session.commit()

    def reassign(self, when: datetime, lead_id: int, current: int | None) -> None:
        others = [a for a in self.advisors if a.id != current and a.on_shift]
        if others:
            advisor = self.rng.choice(others)
            self.backdated(
                when, lead_id, lambda: triage.assign_lead(self.supervisor, lead_id, advisor.id)
            )

    def backdated(self, when: datetime, lead_id: int, action) -> None:
        """Run a triage service that stamps the current time, then move its events to `when`."""
        last_event = db.session.scalar(select(func.max(LeadEvent.id))) or 0
        before = db.session.scalar(select(Lead.last_activity_at).where(Lead.id == lead_id))
        action()
        db.session.execute(update(LeadEvent).where(LeadEvent.id > last_event).values(at=when))
        db.session.get(Lead, lead_id).last_activity_at = max(before, when)
        db.session.commit()

    def advisor_goes_off_shift(self, when: datetime, advisor: User) -> None:
        """The last advisor leaves for a week; the supervisor hands on their fresh leads."""
        set_user_state(advisor.id, on_shift=False)
        open_leads = db.session.scalars(
            select(Lead.id)
            .where(
                Lead.assigned_to_id == advisor.id,
                Lead.status.in_(("new", "contacted")),
                Lead.received_at >= when - 3 * DAY,
            )
            .order_by(Lead.id)
        ).all()
        for number, lead_id in enumerate(open_leads):
            self.reassign(when + (number + 1) * MINUTE, lead_id, advisor.id)

    def needs_review(self, when: datetime, channel: str, content_type: str, raw: bytes) -> None:
        inbound = store_inbound(channel, raw, content_type=content_type, source_ip="203.0.113.9")
        inbound.received_at = when
        with contextlib.suppress(InvalidPayload):  # it stays "failed", the reason given
            process_inbound(inbound.id, now=when)
