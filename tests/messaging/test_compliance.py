"""Time and consent rules as pure functions: hours, DST, quiet hours, consent, SMS keywords."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dealer_leads.messaging.compliance import (
    MAX_SEARCH_DAYS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    ConsentFact,
    Hours,
    InvalidHours,
    NoBusinessHours,
    NoContactWindow,
    QuietHours,
    UnknownRegime,
    add_months,
    classify_sms_keyword,
    consent_allows,
    first_instant,
    hours_from_settings,
    implied_consent_expiry,
    is_open,
    next_allowed_contact,
    next_open,
    opt_out_reason,
    quiet_hours_from_settings,
    recipient_zones,
    responds_to_inquiry,
)

TORONTO = ZoneInfo("America/Toronto")
VANCOUVER = ZoneInfo("America/Vancouver")
REGINA = ZoneInfo("America/Regina")  # no daylight saving time
WEEK = {
    "mon": ["09:00", "21:00"],
    "tue": ["09:00", "21:00"],
    "wed": ["09:00", "21:00"],
    "thu": ["09:00", "21:00"],
    "fri": ["09:00", "18:00"],
    "sat": ["09:00", "17:00"],
    "sun": None,
}
HOURS = hours_from_settings("America/Toronto", WEEK, ["2026-12-25"])
QUIET = QuietHours(time(9), time(20), TORONTO)
NOW = datetime(2026, 6, 1, 16, tzinfo=UTC)


def toronto(*args: int) -> datetime:
    return datetime(*args, tzinfo=TORONTO)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sunday_hours(opens: str, closes: str) -> Hours:
    return hours_from_settings("America/Toronto", {"sun": [opens, closes]}, [])


# --- settings --------------------------------------------------------------------------------


def test_hours_from_settings_reads_weekdays_and_holidays():
    assert HOURS.zone == TORONTO
    assert HOURS.weekly[0] == (time(9), time(21))
    assert HOURS.weekly[4] == (time(9), time(18))
    assert HOURS.weekly[6] is None
    assert HOURS.holidays == frozenset({date(2026, 12, 25)})


def test_missing_days_are_closed():
    hours = hours_from_settings("America/Toronto", {"MON": ["10:00", "12:00"]}, None)
    assert hours.weekly[0] == (time(10), time(12))
    assert all(hours.weekly[day] is None for day in range(1, 7))


@pytest.mark.parametrize(
    "zone, week, holidays, message",
    [
        ("Mars/Olympus", WEEK, [], "time zone"),
        ("America/Toronto", {"mon": ["9am", "21:00"]}, [], "mon"),
        ("America/Toronto", {"tue": ["21:00", "09:00"]}, [], "tue"),
        ("America/Toronto", {"wed": ["09:00", "09:00"]}, [], "wed"),
        ("America/Toronto", {"thu": ["09:00"]}, [], "thu"),
        ("America/Toronto", {"funday": ["09:00", "17:00"]}, [], "funday"),
        ("America/Toronto", WEEK, ["25/12/2026"], "holidays"),
    ],
)
def test_bad_settings_raise_a_named_error(zone, week, holidays, message):
    with pytest.raises(InvalidHours, match=message):
        hours_from_settings(zone, week, holidays)


def test_quiet_hours_from_settings():
    assert quiet_hours_from_settings("09:00", "20:00", "America/Toronto") == QUIET
    with pytest.raises(InvalidHours):
        QuietHours(time(20), time(9), TORONTO)
    with pytest.raises(InvalidHours, match="quiet_end"):
        quiet_hours_from_settings("09:00", "8 pm", "America/Toronto")


# --- is_open ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment, expected",
    [
        (toronto(2026, 6, 1, 9, 0), True),  # Monday opening, inclusive
        (toronto(2026, 6, 1, 8, 59, 59), False),
        (toronto(2026, 6, 1, 20, 59, 59), True),
        (toronto(2026, 6, 1, 21, 0), False),  # closing is exclusive
        (toronto(2026, 6, 5, 18, 0), False),  # Friday closes at 18:00
        (toronto(2026, 6, 7, 12, 0), False),  # Sunday: no hours
        (toronto(2026, 12, 24, 12, 0), True),
        (toronto(2026, 12, 25, 12, 0), False),  # holiday (a Friday)
        (datetime(2026, 6, 1, 6, 0, tzinfo=VANCOUVER), True),  # 09:00 in Toronto
        (utc(2026, 6, 1, 12, 59), False),  # 08:59 EDT
    ],
)
def test_is_open(moment, expected):
    assert is_open(moment, HOURS) is expected


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        is_open(datetime(2026, 6, 1, 12), HOURS)
    with pytest.raises(ValueError, match="aware"):
        next_allowed_contact(datetime(2026, 6, 1, 12), QUIET, [])


# --- next_open -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment, expected",
    [
        (toronto(2026, 6, 1, 10, 15), toronto(2026, 6, 1, 10, 15)),  # already open
        (toronto(2026, 6, 1, 7, 0), toronto(2026, 6, 1, 9, 0)),
        (toronto(2026, 6, 1, 21, 0), toronto(2026, 6, 2, 9, 0)),
        (toronto(2026, 6, 5, 18, 30), toronto(2026, 6, 6, 9, 0)),  # Friday night -> Saturday
        (toronto(2026, 6, 6, 17, 0), toronto(2026, 6, 8, 9, 0)),  # skips Sunday (no hours)
        (toronto(2026, 12, 24, 21, 0), toronto(2026, 12, 26, 9, 0)),  # skips Christmas
        (toronto(2026, 12, 25, 10, 0), toronto(2026, 12, 26, 9, 0)),
    ],
)
def test_next_open(moment, expected):
    result = next_open(moment, HOURS)
    assert result == expected
    assert result.tzinfo is UTC


def test_next_open_across_spring_forward():
    # Saturday 2026-03-07 after closing (EST) -> Monday 09:00 EDT, one hour earlier in UTC.
    assert next_open(toronto(2026, 3, 7, 17, 30), HOURS) == utc(2026, 3, 9, 13, 0)
    assert next_open(toronto(2026, 3, 6, 18, 30), HOURS) == utc(2026, 3, 7, 14, 0)


def test_next_open_across_fall_back():
    # Saturday 2026-10-31 after closing (EDT) -> Monday 09:00 EST.
    assert next_open(toronto(2026, 10, 31, 17, 30), HOURS) == utc(2026, 11, 2, 14, 0)
    assert next_open(toronto(2026, 10, 30, 18, 30), HOURS) == utc(2026, 10, 31, 13, 0)


def test_an_opening_time_skipped_by_dst_opens_at_the_end_of_the_gap():
    # 02:30 does not exist on 2026-03-08 in Toronto: the clocks jump from 02:00 to 03:00 EDT.
    hours = sunday_hours("02:30", "10:00")
    assert next_open(toronto(2026, 3, 7, 23, 0), hours) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert not is_open(utc(2026, 3, 8, 6, 59, 59), hours)  # 01:59:59 EST
    assert is_open(utc(2026, 3, 8, 7, 0), hours)


def test_a_closing_time_skipped_by_dst_closes_at_the_end_of_the_gap():
    hours = sunday_hours("00:00", "02:30")
    assert is_open(utc(2026, 3, 8, 6, 59, 59), hours)  # 01:59:59 EST
    assert not is_open(utc(2026, 3, 8, 7, 0), hours)  # 03:00 EDT
    assert next_open(utc(2026, 3, 8, 7, 0), hours) == utc(2026, 3, 15, 4, 0)  # next Sunday


def test_a_repeated_opening_time_opens_at_its_first_occurrence():
    # 01:00-02:00 happens twice on 2026-11-01 in Toronto (EDT, then EST).
    hours = sunday_hours("01:30", "12:00")
    assert next_open(toronto(2026, 10, 31, 23, 0), hours) == utc(2026, 11, 1, 5, 30)  # EDT
    assert is_open(utc(2026, 11, 1, 6, 45), hours)  # 01:45 EST, the second pass
    assert next_open(toronto(2026, 11, 1, 12, 0), hours) == utc(2026, 11, 8, 6, 30)  # EST


def test_first_instant_of_ordinary_gap_and_repeated_wall_times():
    assert first_instant(datetime(2026, 6, 1, 9), TORONTO) == utc(2026, 6, 1, 13)
    assert first_instant(datetime(2026, 3, 8, 2, 0), TORONTO) == utc(2026, 3, 8, 7)
    assert first_instant(datetime(2026, 3, 8, 2, 59), TORONTO) == utc(2026, 3, 8, 7)
    assert first_instant(datetime(2026, 11, 1, 1, 0), TORONTO) == utc(2026, 11, 1, 5)


def test_a_week_without_hours_raises():
    closed = hours_from_settings("America/Toronto", dict.fromkeys(WEEK), [])
    with pytest.raises(NoBusinessHours, match="any day"):
        next_open(NOW, closed)
    assert not is_open(NOW, closed)


def test_the_search_is_bounded_when_holidays_cover_every_open_day():
    mondays = [date(2026, 6, 1) + timedelta(weeks=n) for n in range(MAX_SEARCH_DAYS // 7 + 2)]
    hours = hours_from_settings(
        "America/Toronto", {"mon": ["09:00", "17:00"]}, [d.isoformat() for d in mondays]
    )
    with pytest.raises(NoBusinessHours, match="within"):
        next_open(toronto(2026, 5, 31, 12, 0), hours)


# --- recipient zones and quiet hours ---------------------------------------------------------


def test_recipient_zones_from_the_number():
    assert recipient_zones("+16045551234") == [VANCOUVER]
    assert recipient_zones("+14165552671") == [TORONTO]
    assert recipient_zones("+13065551234") == [REGINA]
    toll_free = {zone.key for zone in recipient_zones("+18005551234")}
    assert {"America/St_Johns", "America/Vancouver", "Pacific/Honolulu"} <= toll_free
    assert recipient_zones("+15555551234") == []  # no region known
    assert recipient_zones("not a number") == []
    assert recipient_zones("") == []


@pytest.mark.parametrize(
    "moment, expected",
    [
        (toronto(2026, 6, 1, 10, 0), toronto(2026, 6, 1, 10, 0)),
        (toronto(2026, 6, 1, 8, 59, 59), toronto(2026, 6, 1, 9, 0)),
        (toronto(2026, 6, 1, 19, 59, 59), toronto(2026, 6, 1, 19, 59, 59)),
        (toronto(2026, 6, 1, 20, 0), toronto(2026, 6, 2, 9, 0)),
        (toronto(2026, 6, 7, 10, 0), toronto(2026, 6, 7, 10, 0)),  # Sundays too
        (toronto(2026, 12, 25, 10, 0), toronto(2026, 12, 25, 10, 0)),  # quiet hours ignore holidays
    ],
)
def test_contact_window_for_a_local_number(moment, expected):
    assert next_allowed_contact(moment, QUIET, [TORONTO]) == expected


def test_a_vancouver_number_waits_for_8_am_pacific():
    zones = recipient_zones("+16045551234")
    # 09:00 in Toronto is 06:00 in Vancouver: wait until 08:00 there, 11:00 here.
    assert next_allowed_contact(toronto(2026, 6, 1, 9, 0), QUIET, zones) == toronto(2026, 6, 1, 11)
    assert next_allowed_contact(toronto(2026, 6, 1, 10, 59, 59), QUIET, zones) == toronto(
        2026, 6, 1, 11
    )
    assert next_allowed_contact(toronto(2026, 6, 1, 19, 0), QUIET, zones) == toronto(2026, 6, 1, 19)


def test_a_toronto_number_for_a_vancouver_dealer_stops_at_9_pm_eastern():
    quiet = QuietHours(time(9), time(20), VANCOUVER)
    zones = [TORONTO]
    at = datetime(2026, 6, 1, 17, 59, 59, tzinfo=VANCOUVER)  # 20:59:59 in Toronto
    assert next_allowed_contact(at, quiet, zones) == at
    tomorrow = datetime(2026, 6, 2, 9, 0, tzinfo=VANCOUVER)
    assert next_allowed_contact(at + timedelta(seconds=1), quiet, zones) == tomorrow


def test_several_candidate_zones_must_all_be_inside_the_window():
    # Toronto and Vancouver both possible: the later morning (Vancouver) and the earlier
    # evening (Toronto, the dealership's own 20:00) bound the window.
    zones = [TORONTO, VANCOUVER]
    assert next_allowed_contact(toronto(2026, 6, 1, 9), QUIET, zones) == toronto(2026, 6, 1, 11)
    moment = next_allowed_contact(toronto(2026, 6, 1, 0), QUIET, recipient_zones("+18005551234"))
    for zone in recipient_zones("+18005551234"):
        assert time(8) <= moment.astimezone(zone).time() < time(21), zone.key
    assert time(9) <= moment.astimezone(TORONTO).time() < time(20)


def test_unknown_recipient_zone_means_the_dealership_zone():
    wide = QuietHours(time(7), time(22), TORONTO)  # wider than the recipient rule allows
    assert next_allowed_contact(toronto(2026, 6, 1, 7, 30), wide, []) == toronto(2026, 6, 1, 8)
    assert next_allowed_contact(toronto(2026, 6, 1, 21, 0), wide, []) == toronto(2026, 6, 2, 8)


def test_quiet_hours_on_the_spring_forward_day():
    # From 01:00 EST on 2026-03-08 to 09:00 EDT: 8 wall-clock hours, 7 real ones.
    assert next_allowed_contact(utc(2026, 3, 8, 6, 0), QUIET, [TORONTO]) == utc(2026, 3, 8, 13)
    # Regina keeps CST all year: the day before, 09:00 EST is 08:00 there, but on the day
    # itself 09:00 EDT is 07:00 in Regina, so the first call moves to 10:00 Toronto time.
    assert next_allowed_contact(toronto(2026, 3, 7, 9), QUIET, [REGINA]) == toronto(2026, 3, 7, 9)
    assert next_allowed_contact(toronto(2026, 3, 8, 9), QUIET, [REGINA]) == toronto(2026, 3, 8, 10)


def test_quiet_hours_on_the_fall_back_day():
    # 01:30 happens twice; the window still opens at 09:00 EST (14:00 UTC).
    assert next_allowed_contact(utc(2026, 11, 1, 5, 30), QUIET, [TORONTO]) == utc(2026, 11, 1, 14)
    assert next_allowed_contact(utc(2026, 11, 1, 6, 30), QUIET, [TORONTO]) == utc(2026, 11, 1, 14)
    assert next_allowed_contact(toronto(2026, 11, 1, 9), QUIET, [REGINA]) == toronto(2026, 11, 1, 9)


def test_windows_that_never_meet_raise():
    short = QuietHours(time(9), time(10), TORONTO)  # 22:00-23:00 in Tokyo
    with pytest.raises(NoContactWindow, match="Asia/Tokyo"):
        next_allowed_contact(NOW, short, [ZoneInfo("Asia/Tokyo")])


# --- consent ---------------------------------------------------------------------------------


def fact(channel="email", kind="implied", given=NOW - timedelta(days=1), **more) -> ConsentFact:
    return ConsentFact(channel, kind, given, **more)


def allows(regime, channel, facts=(), *, now=NOW, responding=False, suppressed=False):
    facts = list(facts)
    return consent_allows(
        regime, channel, facts, now=now, responding_to_inquiry=responding, suppressed=suppressed
    )


@pytest.mark.parametrize(
    "regime, channel, facts, responding, allowed, reason",
    [
        ("CA", "email", [], False, False, "CASL"),
        ("CA", "email", [], True, True, "inquiry"),
        ("CA", "email", [fact()], False, True, "implied"),
        ("CA", "email", [fact(kind="express")], False, True, "express"),
        ("CA", "sms", [fact("sms")], False, True, "implied"),  # CASL: an inquiry implies consent
        ("CA", "sms", [], False, False, "CASL"),
        ("CA", "sms", [fact("email", "express")], False, False, "CASL"),  # other channel
        ("US", "email", [], False, True, "CAN-SPAM"),
        ("US", "sms", [], False, False, "TCPA"),
        ("US", "sms", [fact("sms")], False, False, "express written"),  # implied is not enough
        ("US", "sms", [fact("sms", "express")], False, True, "express"),
        ("US", "sms", [], True, True, "inquiry"),  # replying to the customer's own text
        ("CA", "call", [], False, True, "calls"),
        ("US", "call", [], False, True, "calls"),
    ],
)
def test_consent_rules(regime, channel, facts, responding, allowed, reason):
    decision = allows(regime, channel, facts, responding=responding)
    assert decision.allowed is allowed
    assert reason in decision.reason


@pytest.mark.parametrize("regime", ["CA", "US"])
@pytest.mark.parametrize("channel", ["email", "sms", "call"])
def test_an_opt_out_beats_consent_and_inquiries(regime, channel):
    decision = allows(regime, channel, [fact(channel, "express")], responding=True, suppressed=True)
    assert not decision.allowed
    assert "opted out" in decision.reason


def test_expiry_boundaries():
    expires = NOW
    facts = [fact(expires_at=expires)]
    assert allows("CA", "email", facts, now=expires - timedelta(seconds=1)).allowed
    assert not allows("CA", "email", facts, now=expires).allowed  # expiry is exclusive
    assert not allows("CA", "email", facts, now=expires + timedelta(seconds=1)).allowed
    assert not allows("CA", "email", [fact(given=NOW + timedelta(seconds=1))]).allowed


def test_implied_consent_from_an_inquiry_lasts_six_months_to_the_second():
    inquiry = utc(2026, 1, 15, 14, 30)
    expires = implied_consent_expiry("CA", "inquiry", inquiry)
    assert expires == utc(2026, 7, 15, 14, 30)
    facts = [fact(given=inquiry, expires_at=expires)]
    assert allows("CA", "email", facts, now=expires - timedelta(seconds=1)).allowed
    assert not allows("CA", "email", facts, now=expires + timedelta(seconds=1)).allowed


@pytest.mark.parametrize("regime", ["CA", "US"])
def test_withdrawal_stops_everything_until_fresh_consent(regime):
    withdrawn = NOW - timedelta(hours=1)
    old = [fact("sms", "express", withdrawn_at=withdrawn), fact("sms", "implied")]
    before = allows(regime, "sms", old, now=withdrawn - timedelta(seconds=1))
    assert before.allowed
    after = allows(regime, "sms", old, responding=True)
    assert (after.allowed, after.reason) == (False, "consent withdrawn (sms)")
    renewed = [*old, fact("sms", "express", given=NOW - timedelta(minutes=5))]
    assert allows(regime, "sms", renewed).allowed


def test_an_opt_out_of_one_channel_stops_person_steps_on_it_only():
    withdrawn = [fact("call", "implied", withdrawn_at=NOW - timedelta(minutes=1))]
    assert opt_out_reason("call", withdrawn, now=NOW, suppressed=False) == (
        "consent withdrawn (call)"
    )
    assert opt_out_reason("email", withdrawn, now=NOW, suppressed=False) == ""
    assert opt_out_reason("call", [], now=NOW, suppressed=True) == "opted out (call)"
    assert opt_out_reason("call", [], now=NOW, suppressed=False) == ""  # no consent needed


def test_a_withdrawn_email_consent_is_an_opt_out_under_can_spam():
    assert not allows("US", "email", [fact(withdrawn_at=NOW - timedelta(seconds=1))]).allowed
    assert allows("US", "email", [fact(expires_at=NOW - timedelta(days=1))]).allowed


def test_the_reason_names_the_strongest_consent():
    implied = fact(expires_at=NOW + timedelta(days=30))
    assert allows("CA", "email", [implied, fact(kind="express")]).reason == (
        "express consent until withdrawn"
    )
    assert allows("CA", "email", [implied]).reason.startswith("implied consent until 2026-07-01")


def test_unknown_regime_or_channel():
    with pytest.raises(UnknownRegime):
        allows("EU", "email")
    with pytest.raises(ValueError, match="channel"):
        allows("CA", "fax")
    with pytest.raises(UnknownRegime):
        implied_consent_expiry("", "inquiry", NOW)


def test_responding_to_the_inquiry_is_the_first_24_hours():
    inquiry = NOW

    def responds(channel, inquiry_channel, after):
        return responds_to_inquiry(
            channel, inquiry_channel=inquiry_channel, inquiry_at=inquiry, now=inquiry + after
        )

    assert responds("email", "web", timedelta(0))
    assert responds("email", "web", timedelta(hours=24) - timedelta(seconds=1))
    assert not responds("email", "web", timedelta(hours=24))
    assert not responds("email", "web", -timedelta(seconds=1))
    assert responds("sms", "sms", timedelta(minutes=3))  # a reply to the customer's own text
    assert not responds("sms", "web", timedelta(minutes=3))  # first text to a web lead


@pytest.mark.parametrize(
    "basis, at, expected",
    [
        ("inquiry", utc(2026, 1, 15, 10), utc(2026, 7, 15, 10)),
        ("purchase", utc(2026, 1, 15, 10), utc(2028, 1, 15, 10)),
        ("inquiry", utc(2026, 8, 31, 23, 59, 59), utc(2027, 2, 28, 23, 59, 59)),
        ("inquiry", utc(2027, 8, 31, 12), utc(2028, 2, 29, 12)),  # leap year
        ("purchase", utc(2028, 2, 29, 12), utc(2030, 2, 28, 12)),
        ("inquiry", datetime(2026, 9, 30, 22, tzinfo=TORONTO), utc(2027, 4, 1, 2)),  # UTC basis
    ],
)
def test_casl_implied_consent_expiry(basis, at, expected):
    assert implied_consent_expiry("CA", basis, at) == expected


def test_us_implied_consent_does_not_expire():
    assert implied_consent_expiry("US", "inquiry", NOW) is None
    assert implied_consent_expiry("US", "purchase", NOW) is None
    with pytest.raises(ValueError, match="basis"):
        implied_consent_expiry("CA", "visit", NOW)


def test_add_months_agrees_with_dateutil():
    relativedelta = pytest.importorskip("dateutil.relativedelta").relativedelta
    start = utc(2024, 1, 1, 9, 30)
    for day in range(0, 1200, 7):
        at = start + timedelta(days=day)
        for months in (6, 24):
            assert add_months(at, months) == at + relativedelta(months=months)


# --- SMS keywords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, expected",
    [
        ("stop", "opt_out"),
        (" STOP ", "opt_out"),
        ("Stop.", "opt_out"),
        ("STOP!!!", "opt_out"),
        ("\tstop\n", "opt_out"),
        ("ARRÊT", "opt_out"),
        ("arrêt", "opt_out"),
        ("Arret", "opt_out"),
        ("StopAll", "opt_out"),
        ("stop all", "opt_out"),  # STOPALL typed with a space
        ("Unsubscribe", "opt_out"),
        ("cancel", "opt_out"),
        ("End", "opt_out"),
        ("quit", "opt_out"),
        ("START", "opt_in"),
        ("unstop", "opt_in"),
        ("Start!", "opt_in"),
        ("stop please", None),
        ("please stop", None),
        ("Don't stop", None),
        ("stop2", None),
        ("stopp", None),
        ("yes", None),
        ("", None),
        ("   ", None),
    ],
)
def test_classify_sms_keyword(body, expected):
    assert classify_sms_keyword(body) == expected


def test_keyword_lists():
    assert {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ARRET"} == OPT_OUT_WORDS
    assert {"START", "UNSTOP"} == OPT_IN_WORDS
