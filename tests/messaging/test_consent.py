"""Consent and opt-out services on the database: record, withdraw, opt in, decide, schedule."""

from datetime import UTC, datetime, time, timedelta

import pytest

from dealer_leads.admin.models import Dealership
from dealer_leads.extensions import db
from dealer_leads.leads.models import Customer
from dealer_leads.messaging import consent
from dealer_leads.messaging.consent import (
    InvalidAddress,
    InvalidChannel,
    UnknownCustomer,
    add_express_consent,
    contact_window,
    dealership_hours,
    get_consent_states,
    is_suppressed,
    lift_opt_out,
    may_contact,
    opt_in,
    record_express_consent,
    record_implied_consent,
    withdraw,
)
from dealer_leads.messaging.models import Consent, Suppression

NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)  # a Monday, noon in Toronto
EMAIL, PHONE = "marie@example.com", "+14165552671"


def dealership(**values) -> Dealership:
    settings = {
        "name": "Maple Ridge Motors",
        "timezone": "America/Toronto",
        "country": "CA",
        "business_hours": {"mon": ["09:00", "21:00"], "sat": ["10:00", "16:00"]},
        "department_emails": {},
        "compliance_regime": "CA",
        "quiet_start": "09:00",
        "quiet_end": "20:00",
        "holidays": ["2026-12-25"],
    }
    row = Dealership(**(settings | values))
    db.session.add(row)
    db.session.commit()
    return row


def customer(email: str = EMAIL, phone: str = PHONE, **values) -> Customer:
    row = Customer(first_name="Marie", last_name="Tremblay", email=email, phone=phone, **values)
    db.session.add(row)
    db.session.commit()
    return row


def consents(person: Customer) -> list[Consent]:
    query = db.select(Consent).filter_by(customer_id=person.id).order_by(Consent.channel)
    return list(db.session.scalars(query))


def suppressions() -> set[tuple[str, str]]:
    return {(s.channel, s.address) for s in db.session.scalars(db.select(Suppression))}


def allowed(person: Customer, channel: str, now: datetime = NOW, responding=False) -> bool:
    return may_contact(person, channel, now=now, responding_to_inquiry=responding).allowed


# --- recording consent -----------------------------------------------------------------------


def test_an_inquiry_implies_consent_for_six_months_on_each_channel_given(app):
    dealership()
    marie = customer()
    added = record_implied_consent(marie, "inquiry", NOW, "web form")
    db.session.commit()
    rows = consents(marie)
    assert {r.id for r in rows} == {r.id for r in added}
    assert [(r.channel, r.kind, r.source) for r in rows] == [
        ("call", "implied", "web form"),
        ("email", "implied", "web form"),
        ("sms", "implied", "web form"),
    ]
    assert {r.expires_at for r in rows} == {datetime(2026, 12, 1, 16, tzinfo=UTC)}


def test_implied_consent_is_flushed_not_committed(app):
    dealership()
    marie = customer(phone="")
    assert [r.channel for r in record_implied_consent(marie, "inquiry", NOW, "api")] == ["email"]
    assert db.session.scalar(db.select(db.func.count(Consent.id))) == 1
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count(Consent.id))) == 0


def test_implied_consent_for_a_customer_not_yet_flushed(app):
    dealership()
    marie = Customer(first_name="Marie", email=EMAIL, phone="")
    db.session.add(marie)
    [row] = record_implied_consent(marie, "inquiry", NOW, "api")
    assert row.customer_id == marie.id is not None


def test_a_repeat_inquiry_extends_and_a_purchase_lasts_two_years(app):
    dealership()
    marie = customer(phone="")
    record_implied_consent(marie, "inquiry", NOW, "first inquiry")
    assert record_implied_consent(marie, "inquiry", NOW, "same again") == []
    later = record_implied_consent(marie, "inquiry", NOW + timedelta(days=30), "second inquiry")
    assert [r.expires_at for r in later] == [datetime(2027, 1, 1, 16, tzinfo=UTC)]
    [sale] = record_implied_consent(marie, "purchase", NOW + timedelta(days=60), "sold")
    assert sale.expires_at == datetime(2028, 7, 31, 16, tzinfo=UTC)
    assert record_implied_consent(marie, "inquiry", NOW + timedelta(days=90), "service") == []


def test_us_implied_consent_never_expires_but_does_not_cover_texts(app):
    dealership(compliance_regime="US", country="US")
    marie = customer()
    record_implied_consent(marie, "inquiry", NOW, "web form")
    db.session.commit()
    assert {r.expires_at for r in consents(marie)} == {None}
    assert allowed(marie, "email", NOW + timedelta(days=3650))
    decision = may_contact(marie, "sms", now=NOW, responding_to_inquiry=False)
    assert not decision.allowed
    assert "TCPA" in decision.reason
    record_express_consent(marie.id, "sms", "web form checkbox", NOW)
    assert allowed(marie, "sms")


def test_express_consent_is_committed_and_checked(app):
    dealership()
    marie = customer()
    row = record_express_consent(marie.id, "sms", "signed at the showroom", NOW)
    db.session.rollback()
    assert db.session.get(Consent, row.id).kind == "express"
    with pytest.raises(UnknownCustomer):
        record_express_consent(999_999, "sms", "typo", NOW)
    with pytest.raises(InvalidChannel):
        record_express_consent(marie.id, "fax", "typo", NOW)


def test_express_consent_added_with_a_timeline_line_is_flushed_not_committed(app):
    dealership()
    marie = customer()
    row = add_express_consent(marie.id, "email", "signed form", NOW)
    assert row.id is not None
    db.session.rollback()
    assert consents(marie) == []
    with pytest.raises(UnknownCustomer):
        add_express_consent(999_999, "sms", "typo", NOW)


def test_lifting_an_opt_out_of_one_channel_keeps_the_rest(app):
    dealership()
    customer()
    withdraw(PHONE, "all", "staff", "nothing more", NOW)
    assert lift_opt_out("416 555 2671", "sms") == [("all", PHONE)]
    assert suppressions() == {("call", PHONE), ("all", EMAIL)}
    assert lift_opt_out(PHONE, "sms") == []
    with pytest.raises(InvalidChannel):
        lift_opt_out(PHONE, "all")
    with pytest.raises(InvalidAddress):
        lift_opt_out(EMAIL, "sms")


def _state(person: Customer, channel: str, now: datetime = NOW):
    return next(s for s in get_consent_states(person, now) if s.channel == channel)


def test_consent_states_under_casl_show_implied_consent_and_its_expiry(app):
    dealership()
    marie = customer()
    record_implied_consent(marie, "inquiry", NOW, source="inquiry via Website")
    db.session.commit()
    sms = _state(marie, "sms")
    assert (sms.label, sms.address, sms.opted_out, sms.express) == ("Texts", PHONE, None, None)
    assert sms.implied.expires_at == datetime(2026, 12, 1, 16, tzinfo=UTC)
    assert sms.decision.allowed
    later = _state(marie, "sms", datetime(2026, 12, 2, tzinfo=UTC))
    assert later.implied is None and later.expired.expires_at == sms.implied.expires_at
    assert not later.decision.allowed


def test_consent_states_under_us_rules_show_express_consent_and_opt_outs(app):
    dealership(compliance_regime="US", country="US")
    marie = customer()
    record_implied_consent(marie, "inquiry", NOW, source="inquiry via Website")
    db.session.commit()
    assert not _state(marie, "sms").decision.allowed  # TCPA: implied is not enough
    record_express_consent(marie.id, "sms", "web form", NOW)
    withdraw(EMAIL, "email", "link", "unsubscribed", NOW)
    later = NOW + timedelta(minutes=1)
    sms, email, call = (_state(marie, c, later) for c in ("sms", "email", "call"))
    assert sms.express.source == "web form" and sms.decision.allowed
    assert email.opted_out.reason == "unsubscribed" and not email.decision.allowed
    assert call.opted_out is None and call.decision.allowed
    withdraw(PHONE, "all", "sms", "STOPALL", later)
    assert _state(marie, "call", later).opted_out.channel == "all"


def test_consent_states_without_an_address(app):
    dealership()
    marie = customer(phone="")
    sms = _state(marie, "sms")
    assert sms.address == "" and sms.implied is None and not sms.decision.allowed


# --- may_contact -----------------------------------------------------------------------------


def test_casl_without_consent_only_the_answer_to_the_inquiry(app):
    dealership()
    marie = customer()
    assert not allowed(marie, "email")
    assert allowed(marie, "email", responding=True)
    assert allowed(marie, "call")  # calls by staff: opt-outs only


def test_casl_implied_consent_expiry_boundaries(app):
    dealership()
    marie = customer()
    record_implied_consent(marie, "inquiry", NOW, "web form")
    db.session.commit()
    expires = datetime(2026, 12, 1, 16, tzinfo=UTC)
    for channel in ("email", "sms"):
        assert allowed(marie, channel, expires - timedelta(seconds=1))
        assert not allowed(marie, channel, expires + timedelta(seconds=1))


def test_no_address_no_contact(app):
    dealership()
    marie = customer(phone="")
    decision = may_contact(marie, "sms", now=NOW, responding_to_inquiry=True)
    assert (decision.allowed, decision.reason) == (False, "no phone on file")
    with pytest.raises(InvalidChannel):
        may_contact(marie, "fax", now=NOW, responding_to_inquiry=True)


# --- opt-outs --------------------------------------------------------------------------------


def test_an_email_opt_out_takes_effect_at_once_on_that_channel_only(app):
    dealership()
    marie = customer()
    record_implied_consent(marie, "inquiry", NOW, "web form")
    db.session.commit()
    result = withdraw("Marie@Example.COM", "email", "link", "unsubscribe link", NOW)
    assert (result.address, result.suppressions_added) == (EMAIL, [("email", EMAIL)])
    assert result.consents_withdrawn == 1
    assert not allowed(marie, "email", NOW, responding=True)
    assert allowed(marie, "sms")
    assert is_suppressed(EMAIL, "email")
    assert not is_suppressed(PHONE, "sms")
    again = withdraw(EMAIL, "email", "link", "clicked twice", NOW)
    assert (again.suppressions_added, again.consents_withdrawn) == ([], 0)
    assert suppressions() == {("email", EMAIL)}


def test_a_stop_text_withdraws_texts_for_everyone_on_that_number(app):
    dealership()
    marie, paul = customer(), customer(email="paul@example.com")
    for person in (marie, paul):
        record_express_consent(person.id, "sms", "web form checkbox", NOW - timedelta(days=1))
    result = withdraw("(416) 555-2671", "sms", "sms keyword", "STOP", NOW)
    assert result.suppressions_added == [("sms", PHONE)]
    assert result.consents_withdrawn == 2
    assert not allowed(marie, "sms") and not allowed(paul, "sms")
    assert allowed(marie, "call")
    assert {r.withdrawn_at for r in consents(marie)} == {NOW}


def test_opting_out_of_all_covers_every_address_and_channel(app):
    dealership()
    marie = customer()
    record_implied_consent(marie, "inquiry", NOW, "web form")
    db.session.commit()
    result = withdraw(EMAIL, "all", "staff", "asked on the phone to stop everything", NOW)
    assert sorted(result.suppressions_added) == [("all", PHONE), ("all", EMAIL)]
    assert result.consents_withdrawn == 3
    for channel in ("email", "sms", "call"):
        assert not allowed(marie, channel, responding=True)
    assert is_suppressed("416-555-2671", "sms")


def test_an_opt_out_of_an_unknown_address_is_still_kept(app):
    dealership()
    result = withdraw("+16045551234", "sms", "sms keyword", "STOP", NOW)
    assert (result.suppressions_added, result.consents_withdrawn) == ([("sms", result.address)], 0)
    assert is_suppressed("604-555-1234", "sms")


def test_an_opt_out_racing_another_for_the_same_address_still_commits(app, monkeypatch):
    dealership()
    marie = customer()
    record_express_consent(marie.id, "sms", "web form checkbox", NOW - timedelta(days=1))
    withdraw(PHONE, "sms", "sms keyword", "STOP", NOW)
    db.session.execute(db.update(Consent).values(withdrawn_at=None))
    db.session.commit()
    # The other request's row lands between our check and our insert: the unique constraint
    # answers, the savepoint rolls back, and the rest of the opt-out is still committed.
    monkeypatch.setattr(consent, "_has_suppression", lambda channel, address: False)
    result = withdraw(PHONE, "sms", "unsubscribe link", "", NOW + timedelta(seconds=1))
    assert (result.suppressions_added, result.consents_withdrawn) == ([], 1)
    db.session.rollback()
    assert suppressions() == {("sms", PHONE)}
    assert not allowed(marie, "sms", NOW + timedelta(seconds=2))


@pytest.mark.parametrize(
    "address, channel, error",
    [
        (EMAIL, "sms", InvalidAddress),
        (PHONE, "email", InvalidAddress),
        ("", "all", InvalidAddress),
        (PHONE, "fax", InvalidChannel),
    ],
)
def test_bad_opt_out_requests(app, address, channel, error):
    dealership()
    with pytest.raises(error):
        withdraw(address, channel, "staff", "", NOW)


# --- opting back in --------------------------------------------------------------------------


def test_start_lifts_the_sms_opt_out_and_records_express_consent(app):
    dealership(compliance_regime="US", country="US")
    marie = customer()
    withdraw(PHONE, "sms", "sms keyword", "STOP", NOW)
    result = opt_in(PHONE, "sms", "sms keyword START", NOW + timedelta(minutes=5))
    assert (result.suppressions_removed, result.consents_added) == ([("sms", PHONE)], 1)
    assert suppressions() == set()
    assert allowed(marie, "sms", NOW + timedelta(minutes=6))
    assert [(r.channel, r.kind) for r in consents(marie)] == [("sms", "express")]


def test_opting_in_to_texts_after_all_keeps_the_other_opt_outs(app):
    dealership()
    marie = customer()
    withdraw(PHONE, "all", "sms keyword", "STOPALL", NOW)
    later = NOW + timedelta(hours=1)
    result = opt_in(PHONE, "sms", "sms keyword START", later)
    assert result.suppressions_removed == [("all", PHONE)]
    assert suppressions() == {("call", PHONE), ("all", EMAIL)}
    assert allowed(marie, "sms", later)
    assert not allowed(marie, "call", later)
    assert not allowed(marie, "email", later, responding=True)


def test_opting_in_to_all_on_a_phone_lifts_every_phone_opt_out(app):
    dealership()
    marie = customer()
    withdraw(PHONE, "sms", "sms keyword", "STOP", NOW)
    withdraw(PHONE, "call", "staff", "do not call", NOW)
    result = opt_in("416 555 2671", "all", "staff: customer asked", NOW + timedelta(days=1))
    assert sorted(result.suppressions_removed) == [("call", PHONE), ("sms", PHONE)]
    assert result.consents_added == 2
    assert suppressions() == set()
    assert allowed(marie, "sms", NOW + timedelta(days=1))


# --- time rules from the settings ------------------------------------------------------------


def test_contact_window_uses_the_settings_and_the_recipient_zone(app):
    row = dealership()
    monday_9am = datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert contact_window(PHONE, monday_9am) == monday_9am
    assert contact_window("+1 604 555 1234", monday_9am) == monday_9am + timedelta(hours=2)
    row.quiet_start = "10:00"
    db.session.commit()
    assert contact_window(PHONE, monday_9am) == monday_9am + timedelta(hours=1)


def test_a_fresh_install_uses_the_default_quiet_hours_and_regime(app):
    app.config["DEALERSHIP_TIMEZONE"] = "America/Toronto"
    at_8pm = datetime(2026, 6, 2, 0, tzinfo=UTC)  # 20:00 in Toronto
    assert contact_window(PHONE, at_8pm) == datetime(2026, 6, 2, 13, tzinfo=UTC)
    assert not allowed(customer(), "email")  # CASL by default
    hours = dealership_hours()
    assert hours.weekly[0] == (time(9), time(21))
    assert hours.weekly[6] is None


def test_dealership_hours_from_the_settings(app):
    dealership()
    hours = dealership_hours()
    assert hours.zone.key == "America/Toronto"
    assert hours.weekly[5] == (time(10), time(16))
    assert hours.weekly[1] is None
    assert [d.isoformat() for d in hours.holidays] == ["2026-12-25"]
