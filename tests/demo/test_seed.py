"""The demo seed: a living dealership built through the real intake and triage services."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exists, func, select
from support import shared_path

from dealer_leads.auth.models import ROLES, User
from dealer_leads.auth.services import authenticate
from dealer_leads.demo.seed import DEMO_PASSWORD, STAFF, seed_demo
from dealer_leads.extensions import db
from dealer_leads.inventory.models import Vehicle
from dealer_leads.leads.models import (
    LEAD_STATUSES,
    InboundPayload,
    Lead,
    LeadEvent,
    LeadSource,
    LeadVehicle,
)

NOW = datetime(2025, 3, 14, 15, 30, tzinfo=UTC)

# 49 CFR 565, written out independently of the seed's own code.
_LETTERS = "ABCDEFGH" + "JKLMN" + "P" + "R" + "STUVWXYZ"
_LETTER_VALUES = (*range(1, 9), *range(1, 6), 7, 9, *range(2, 10))
VALUES = {str(digit): digit for digit in range(10)} | dict(
    zip(_LETTERS, _LETTER_VALUES, strict=True)
)
WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
MODEL_YEAR_CODES = set("ABCDEFGHJKLMNPRSTVWXY123456789")


def is_valid_vin(vin: str) -> bool:
    """17 legal characters, the right check digit in position 9, a year code in position 10."""
    vin = vin.upper()
    if len(vin) != 17 or any(ch not in VALUES for ch in vin):
        return False
    remainder = sum(VALUES[ch] * weight for ch, weight in zip(vin, WEIGHTS, strict=True)) % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder)) and vin[9] in MODEL_YEAR_CODES


@pytest.mark.parametrize(
    ("vin", "valid"),
    [
        ("11111111111111111", True),  # every value 1: the sum is the weights' sum, 89 ≡ 1
        ("11111111211111111", False),  # same, with a wrong check digit
        ("1111111111111111", False),  # 16 characters
        ("1111111111111111O", False),  # O is never used
        ("11111111301111111", False),  # check digit right, but position 10 is no year
    ],
)
def test_vin_checker_on_hand_made_vectors(vin, valid):
    assert is_valid_vin(vin) is valid


def test_vin_checker_agrees_with_the_shared_vectors():
    with shared_path("corpus", "vin", "vectors.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["expected"] in ("valid", "invalid", "valid-check-digit-bad-year"):
            assert is_valid_vin(row["vin"]) is (row["expected"] == "valid"), row["vin"]


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_builds_a_living_dealership(app):
    lines: list[str] = []
    counts = seed_demo(now=NOW, echo=lines.append)

    users = db.session.scalars(select(User)).all()
    assert {user.role for user in users} == set(ROLES)
    assert [u.email for u in users if u.role == "advisor" and not u.on_shift] == [
        "advisor4@demo.dealer"
    ]
    assert authenticate("supervisor@demo.dealer", DEMO_PASSWORD) is not None

    vehicles = db.session.scalars(select(Vehicle)).all()
    assert len(vehicles) >= 40
    assert [v.vin for v in vehicles if not is_valid_vin(v.vin)] == []
    assert {v.condition for v in vehicles} == {"new", "used", "certified"}
    assert {"available", "pending", "sold", "in_transit"} <= {v.status for v in vehicles}
    assert all(v.odometer for v in vehicles if v.condition != "new")

    leads = db.session.scalars(select(Lead)).all()
    assert len(leads) >= 200
    assert {lead.status for lead in leads} == set(LEAD_STATUSES)
    assert len({lead.source for lead in leads}) > 3
    assert {"sales", "service"} <= {lead.department for lead in leads}
    received = [lead.received_at for lead in leads]
    assert max(received) - min(received) > timedelta(days=50)
    assert max(received) <= NOW
    lost = [lead for lead in leads if lead.status == "lost"]
    assert all(lead.lost_reason for lead in lost)

    no_event = select(Lead.id).where(~exists().where(LeadEvent.lead_id == Lead.id))
    assert db.session.scalars(no_event).all() == []
    assert db.session.scalar(select(func.max(LeadEvent.at))) <= NOW
    kinds = set(db.session.scalars(select(LeadEvent.kind).distinct()))
    assert {"inquiry", "assigned", "call", "note", "status", "duplicate", "repeat_inquiry"} <= kinds
    credited_twice = select(LeadSource.lead_id).group_by(LeadSource.lead_id)
    assert db.session.scalars(credited_twice.having(func.count() > 1)).first() is not None

    waits = [lead.first_response_at - lead.received_at for lead in leads if lead.first_response_at]
    assert min(waits) >= timedelta(0)
    assert any(wait <= timedelta(minutes=5) for wait in waits)
    assert any(wait >= timedelta(hours=2) for wait in waits)
    assert 0.04 < (len(leads) - len(waits)) / len(leads) < 0.25  # about one in ten unanswered

    linked = select(func.count()).where(LeadVehicle.vehicle_id.is_not(None))
    assert db.session.scalar(linked) > 20
    trade_ins = select(func.count()).where(LeadVehicle.interest == "trade-in")
    assert db.session.scalar(trade_ins) > 10

    failed = db.session.scalars(
        select(InboundPayload).where(InboundPayload.status == "failed")
    ).all()
    assert sorted(payload.channel for payload in failed) == ["adf", "api", "form"]
    assert all(payload.error for payload in failed)
    mail = db.session.scalars(select(InboundPayload).where(InboundPayload.channel == "email"))
    assert [payload.status for payload in mail] == ["processed"] * 5  # the demo's mailbox
    assert "reply" in kinds  # a customer answered by e-mail

    assert counts["leads"] == len(leads) and counts["vehicles"] == len(vehicles)
    assert counts["needs_review"] == 3 and counts["skipped_actions"] == 0
    assert any("Maple Ridge Motors" in line for line in lines)
    assert any("admin@demo.dealer" in line and DEMO_PASSWORD in line for line in lines)

    before = {model: _count(model) for model in (User, Vehicle, Lead, LeadEvent, InboundPayload)}
    again: list[str] = []
    assert set(seed_demo(if_empty=True, now=NOW, echo=again.append).values()) == {0}
    assert {model: _count(model) for model in before} == before
    assert again and "not added" in again[0]


def test_cli_seeds_once_and_prints_the_log_ins(runner):
    result = runner.invoke(args=["demo", "seed"])

    assert result.exit_code == 0, result.output
    for role, email, _name in STAFF:
        line = next(line for line in result.output.splitlines() if email in line)
        assert role in line and DEMO_PASSWORD in line
    leads = _count(Lead)
    assert leads >= 200

    again = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "not added" in again.output
    assert _count(Lead) == leads
