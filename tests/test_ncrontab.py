"""NCRONTAB parsing and slot maths.

Expected instants are either taken from NCrontab's own test-suite (atifaziz/NCrontab,
NCrontab.Tests/CrontabScheduleTests.cs, five-field cases prefixed with a 0 seconds field) or worked
out by hand from the zone rules (Europe/Berlin CET +1 / CEST +2, switching 2024-03-31 and 2024-10-27;
America/New_York EST -5 / EDT -4, switching 2024-03-10 and 2024-11-03), never with the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.ncrontab import (
    LOOKBACK_DAYS,
    CronSchedule,
    count_slots,
    describe,
    latest_slot,
    parse_cron,
    slots_after,
)
from shared.time_zones import ZONE_FORMS
from tests.support.slot_laws import (
    assert_count_matches_enumeration,
    assert_latest_is_last_slot,
    assert_strictly_increasing,
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


ANCHOR = utc(2024, 1, 1)  # ignored by cron, passed for the uniform signature


def cron(expression: str, time_zone: str = "UTC") -> CronSchedule:
    parsed, problems = parse_cron(expression, time_zone)
    assert problems == []
    assert parsed is not None
    return parsed


ALL_MINUTES = tuple(range(60))
ALL_HOURS = tuple(range(24))
ALL_DAYS = tuple(range(1, 32))
ALL_MONTHS = tuple(range(1, 13))
ALL_WEEKDAYS = tuple(range(7))

PARSED = [
    ("0 */15 * * * *", CronSchedule("0 */15 * * * *", 0, (0, 15, 30, 45), ALL_HOURS, ALL_DAYS, ALL_MONTHS,
                                    ALL_WEEKDAYS, is_interval=True)),
    ("30 5 10-12 * * Mon-Fri", CronSchedule("30 5 10-12 * * Mon-Fri", 30, (5,), (10, 11, 12), ALL_DAYS,
                                            ALL_MONTHS, (1, 2, 3, 4, 5), is_interval=True)),
    ("0 0 8-18/4 * Jan,jul,DEC sun", CronSchedule("0 0 8-18/4 * Jan,jul,DEC sun", 0, (0,), (8, 12, 16), ALL_DAYS,
                                                  (1, 7, 12), (0,))),
    ("0 10/20 * * * *", CronSchedule("0 10/20 * * * *", 0, (10, 30, 50), ALL_HOURS, ALL_DAYS, ALL_MONTHS,
                                     ALL_WEEKDAYS, is_interval=True)),
    ("*/5 9 * * *", CronSchedule("*/5 9 * * *", 0, tuple(range(0, 60, 5)), (9,), ALL_DAYS, ALL_MONTHS,
                                 ALL_WEEKDAYS)),
    ("0 0 12 */10 * thurs,SATURDAY", CronSchedule("0 0 12 */10 * thurs,SATURDAY", 0, (0,), (12,), (1, 11, 21, 31),
                                                  ALL_MONTHS, (4, 6))),
    ("  0  0   12 1 2-3,feb 0  ", CronSchedule("0 0 12 1 2-3,feb 0", 0, (0,), (12,), (1,), (2, 3), (0,))),
]


@pytest.mark.parametrize(("expression", "expected"), PARSED)
def test_parse_valid(expression: str, expected: CronSchedule) -> None:
    assert parse_cron(expression) == (expected, [])


def test_time_zone_is_kept_and_null_means_utc() -> None:
    assert cron("0 0 9 * * *", "Europe/Berlin").time_zone == "Europe/Berlin"
    parsed, problems = parse_cron("0 0 9 * * *", None)
    assert problems == [] and parsed is not None and parsed.time_zone == "UTC"


SECOND_RULE = ("the timer ticks once a minute, so a schedule cannot fire more than once per minute")
LAYOUT = "{second} {minute} {hour} {day} {month} {day-of-week}"

INVALID = [
    (None, "UTC", ["cron must be a string like '0 */5 * * * *' (got null)"]),
    (5, "UTC", ["cron must be a string like '0 */5 * * * *' (got number)"]),
    (["0", "*"], "UTC", ["cron must be a string like '0 */5 * * * *' (got array)"]),
    ("", "UTC", [f"cron must have 6 fields {LAYOUT} or 5 without the second (got 0)"]),
    ("* * * *", "UTC", [f"cron must have 6 fields {LAYOUT} or 5 without the second (got 4)"]),
    ("0 0 0 * * * 2024", "UTC", [f"cron must have 6 fields {LAYOUT} or 5 without the second (got 7)"]),
    ("* 0 * * * *", "UTC", [f"cron field second must be a single value such as 0 (got '*'): {SECOND_RULE}"]),
    ("*/30 0 * * * *", "UTC", [f"cron field second must be a single value such as 0 (got '*/30'): {SECOND_RULE}"]),
    ("0,30 0 * * * *", "UTC", [f"cron field second must be a single value such as 0 (got '0,30'): {SECOND_RULE}"]),
    ("60 0 * * * *", "UTC", ["cron field second: 60 is out of range 0-59"]),
    ("0 61 * * * *", "UTC", ["cron field minute: 61 is out of range 0-59"]),
    ("0 0 24 * * *", "UTC", ["cron field hour: 24 is out of range 0-23"]),
    ("0 0 0 0 * *", "UTC", ["cron field day: 0 is out of range 1-31"]),
    ("0 0 0 * 13 *", "UTC", ["cron field month: 13 is out of range 1-12"]),
    ("0 0 0 * * 7", "UTC", ["cron field day-of-week: 7 is out of range 0-6 (0 = Sunday; NCrontab does not accept 7)"]),
    ("0 5-2 * * * *", "UTC", ["cron field minute: range '5-2' is reversed; write it low-high"]),
    ("0 */0 * * * *", "UTC", ["cron field minute: step '0' must be a whole number >= 1"]),
    ("0 */x * * * *", "UTC", ["cron field minute: step 'x' must be a whole number >= 1"]),
    ("0 5/ * * * *", "UTC", ["cron field minute: step '' must be a whole number >= 1"]),
    ("0 1,,2 * * * *", "UTC", ["cron field minute: empty value in a comma list"]),
    ("0 -5 * * * *", "UTC", ["cron field minute: '-5' is missing a value"]),
    ("0 0 0 * Foo *", "UTC", ["cron field month: 'Foo' is not a number 1-12 or a name Jan..Dec"]),
    ("0 0 0 * * Funday", "UTC", ["cron field day-of-week: 'Funday' is not a number 0-6 or a name Sun..Sat"]),
    ("0 0 0 * * Mo", "UTC", ["cron field day-of-week: 'Mo' is not a number 0-6 or a name Sun..Sat"]),
    ("0 0 0 L * *", "UTC", ["cron field day: 'L' is not a number 1-31"]),
    ("0 0 0 ? * Mon", "UTC", ["cron field day: '?' is not a number 1-31"]),
    ("0 0 0 31 2 *", "UTC", ["cron never fires: day 31 does not occur in month Feb"]),
    ("0 0 0 30,31 Feb *", "UTC", ["cron never fires: day 30-31 does not occur in month Feb"]),
    ("0 0 0 * * *", "Mars/Base", [f"cron time_zone 'Mars/Base' is not a known time zone {ZONE_FORMS}"]),
    ("0 0 0 * * *", ["UTC"], ["cron time_zone must be a time zone name such as 'Europe/Berlin' or "
                              "'W. Europe Standard Time' (got array)"]),
    ("* 61 25 * * 7", "Mars/Base", [
        f"cron time_zone 'Mars/Base' is not a known time zone {ZONE_FORMS}",
        f"cron field second must be a single value such as 0 (got '*'): {SECOND_RULE}",
        "cron field minute: 61 is out of range 0-59",
        "cron field hour: 25 is out of range 0-23",
        "cron field day-of-week: 7 is out of range 0-6 (0 = Sunday; NCrontab does not accept 7)",
    ]),
]


@pytest.mark.parametrize(("expression", "time_zone", "expected"), INVALID)
def test_parse_invalid(expression: object, time_zone: object, expected: list[str]) -> None:
    assert parse_cron(expression, time_zone) == (None, expected)


# id, expression, zone, after, first slots strictly after
SLOTS_AFTER = [
    ("weekdays", "0 30 9 * * 1-5", "UTC", utc(2024, 1, 5, 9, 30),
     [utc(2024, 1, 8, 9, 30), utc(2024, 1, 9, 9, 30), utc(2024, 1, 10, 9, 30)]),
    ("day-and-weekday-are-anded", "0 0 0 13 * Fri", "UTC", utc(2024, 1, 1),
     [utc(2024, 9, 13), utc(2024, 12, 13), utc(2025, 6, 13)]),
    ("ncrontab-first-monday", "0 45 16 1 * Mon", "UTC", utc(2003, 1, 1, 12), [utc(2003, 9, 1, 16, 45)]),
    ("ncrontab-first-monday-next", "0 45 16 1 * Mon", "UTC", utc(2003, 9, 1, 23, 45), [utc(2003, 12, 1, 16, 45)]),
    ("ncrontab-day-30-31", "0 0 0 15,30,31 * *", "UTC", utc(2000, 1, 31),
     [utc(2000, 2, 15), utc(2000, 3, 15), utc(2000, 3, 30), utc(2000, 3, 31), utc(2000, 4, 15), utc(2000, 4, 30),
      utc(2000, 5, 15)]),
    ("ncrontab-leap-day", "0 1 12 29 2 *", "UTC", utc(2000, 2, 29, 12, 1),
     [utc(2004, 2, 29, 12, 1), utc(2008, 2, 29, 12, 1)]),
    ("ncrontab-month-rollover", "0 10 * * 6 *", "UTC", utc(2003, 12, 1, 5), [utc(2004, 6, 1, 0, 10)]),
    ("ncrontab-month-names", "0 20 * * january,FeB,Mar,april,May,JuNE,July,Augu,SEPT-October,Nov,DECEM *", "UTC",
     utc(1988, 3, 11, 14, 23), [utc(1988, 3, 11, 15, 20)]),
    ("ncrontab-sunday", "0 30 6 * * sunday", "UTC", utc(2003, 6, 26, 10), [utc(2003, 6, 29, 6, 30)]),
    ("ncrontab-mondays", "0 15 18 * * Mon", "UTC", utc(2003, 6, 1, 14, 55),
     [utc(2003, 6, 2, 18, 15), utc(2003, 6, 9, 18, 15), utc(2003, 6, 16, 18, 15)]),
    ("ncrontab-second", "3 45 * * * *", "UTC", utc(2003, 1, 1, 0, 0, 30), [utc(2003, 1, 1, 0, 45, 3)]),
    ("ncrontab-a-slash-n", "9 2/5 * * * *", "UTC", utc(2003, 1, 1, 0, 57, 30), [utc(2003, 1, 1, 1, 2, 9)]),
    ("ncrontab-hour-step", "0 * 3/4 * * *", "UTC", utc(2003, 12, 20, 10), [utc(2003, 12, 20, 11)]),
    ("ncrontab-hour-from", "0 40 14/1 * * *", "UTC", utc(2000, 1, 1, 12),
     [utc(2000, 1, 1, 14, 40), utc(2000, 1, 1, 15, 40)]),
    ("berlin-wall-clock-across-dst", "0 0 9 * * *", "Europe/Berlin", utc(2024, 3, 29, 12),
     [utc(2024, 3, 30, 8), utc(2024, 3, 31, 7), utc(2024, 4, 1, 7)]),
    ("berlin-nonexistent-shifts-by-gap", "0 30 2 * * *", "Europe/Berlin", utc(2024, 3, 30),
     [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)]),
    ("berlin-ambiguous-fires-once", "0 30 2 * * *", "Europe/Berlin", utc(2024, 10, 26),
     [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]),
    ("new-york-half-hourly-spring-forward", "0 0,30 * * * *", "America/New_York", utc(2024, 3, 10, 6),
     [utc(2024, 3, 10, 6, 30), utc(2024, 3, 10, 7), utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 8)]),
    ("new-york-half-hourly-fall-back-fires-in-both-copies", "0 0,30 * * * *", "America/New_York",
     utc(2024, 11, 3, 4), [utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 5), utc(2024, 11, 3, 5, 30),
                           utc(2024, 11, 3, 6), utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 7)]),
    ("los-angeles-every-minute-no-gap-at-fall-back", "0 * * * * *", "America/Los_Angeles",
     utc(2024, 11, 3, 8, 58), [utc(2024, 11, 3, 8, 59), utc(2024, 11, 3, 9), utc(2024, 11, 3, 9, 1)]),
]


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), [case[1:] for case in SLOTS_AFTER],
                         ids=[case[0] for case in SLOTS_AFTER])
def test_slots_after(expression: str, zone: str, after: datetime, expected: list[datetime]) -> None:
    assert list(islice(slots_after(cron(expression, zone), after, ANCHOR), len(expected))) == expected


LATEST = [
    ("yearly", "0 0 12 1 Jan *", "UTC", utc(2024, 6, 1), utc(2024, 1, 1, 12)),
    ("yearly-just-before", "0 0 12 1 Jan *", "UTC", utc(2024, 1, 1, 11, 59, 59), utc(2023, 1, 1, 12)),
    ("yearly-exactly-on", "0 0 12 1 Jan *", "UTC", utc(2024, 1, 1, 12), utc(2024, 1, 1, 12)),
    ("new-year", "0 0 0 1 1 *", "UTC", utc(2024, 12, 31, 23, 59), utc(2024, 1, 1)),
    ("every-minute", "0 * * * * *", "UTC", utc(2024, 6, 1, 12, 34, 56), utc(2024, 6, 1, 12, 34)),
    ("second-field", "30 15 10 * * *", "UTC", utc(2024, 1, 2, 10, 15, 29), utc(2024, 1, 1, 10, 15, 30)),
    ("leap-monday-within-lookback", "0 0 0 29 Feb Mon", "UTC", utc(2017, 1, 1), utc(2016, 2, 29)),
    ("leap-monday-beyond-lookback", "0 0 0 29 Feb Mon", "UTC", utc(2030, 1, 1), None),
    ("berlin-summer", "0 0 9 * * *", "Europe/Berlin", utc(2024, 7, 1, 7, 30), utc(2024, 7, 1, 7)),
    ("berlin-winter", "0 0 9 * * *", "Europe/Berlin", utc(2024, 1, 2, 7, 30), utc(2024, 1, 1, 8)),
    ("berlin-nonexistent", "0 30 2 * * *", "Europe/Berlin", utc(2024, 3, 31, 1, 45), utc(2024, 3, 31, 1, 30)),
    ("new-york-repeated-hour-second-copy", "0 0,30 * * * *", "America/New_York", utc(2024, 11, 3, 6, 45),
     utc(2024, 11, 3, 6, 30)),
    ("new-york-point-in-time-first-copy-only", "0 30 1 * * *", "America/New_York", utc(2024, 11, 3, 6, 45),
     utc(2024, 11, 3, 5, 30)),
]


@pytest.mark.parametrize(("expression", "zone", "moment", "expected"), [case[1:] for case in LATEST],
                         ids=[case[0] for case in LATEST])
def test_latest_slot(expression: str, zone: str, moment: datetime, expected: datetime | None) -> None:
    assert latest_slot(cron(expression, zone), moment, ANCHOR) == expected


COUNTS = [
    ("five-minutes-in-an-hour", "0 */5 * * * *", utc(2024, 1, 1), utc(2024, 1, 1, 1), 100_000, 11),
    ("every-minute-year-capped", "0 * * * * *", utc(2023, 1, 1), utc(2024, 1, 1), 100_000, 100_000),
    ("weekdays-january", "0 0 9 * * Mon-Fri", utc(2024, 1, 1), utc(2024, 2, 1), 100_000, 23),
    ("weekdays-capped", "0 0 9 * * Mon-Fri", utc(2024, 1, 1), utc(2024, 2, 1), 4, 4),
    ("empty-range", "0 * * * * *", utc(2024, 1, 2), utc(2024, 1, 1), 100, 0),
]


@pytest.mark.parametrize(("expression", "after", "until", "cap", "expected"), [case[1:] for case in COUNTS],
                         ids=[case[0] for case in COUNTS])
def test_count_slots(expression: str, after: datetime, until: datetime, cap: int, expected: int) -> None:
    assert count_slots(cron(expression), after, until, ANCHOR, cap=cap) == expected


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(slots_after(cron("0 * * * * *"), datetime(2024, 1, 1), ANCHOR))


DESCRIPTIONS = [
    ("0 30 9 * * 1-5", "Europe/Berlin", "at 09:30 on Mon-Fri Europe/Berlin (cron '0 30 9 * * 1-5')"),
    ("0 */5 * * * *", "UTC", "at minute */5 of hour * on every day UTC (cron '0 */5 * * * *')"),
    ("0 0 0 13 * Fri", "UTC", "at 00:00 on day 13 if Fri UTC (cron '0 0 0 13 * Fri')"),
    ("15 0 12 1 Jan,Jul *", "UTC", "at 12:00:15 on day 1 in Jan,Jul UTC (cron '15 0 12 1 Jan,Jul *')"),
    ("0 0 6,18 * * Sat,Sun", "UTC", "at 06:00,18:00 on Sun,Sat UTC (cron '0 0 6,18 * * Sat,Sun')"),
]


@pytest.mark.parametrize(("expression", "zone", "expected"), DESCRIPTIONS)
def test_describe(expression: str, zone: str, expected: str) -> None:
    assert describe(cron(expression, zone)) == expected


# --- properties ----------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
TOKENS = st.sampled_from(["*", "/", "-", ",", " ", "0", "5", "7", "31", "60", "99999999999999999999", "Mon", "jan",
                          "L", "?", "#", "W", "\u0663", "Sept", "sunday"])
SOUP = st.lists(TOKENS, max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(expression=SOUP | st.text(max_size=40) | JSON, time_zone=st.sampled_from(["UTC", "Europe/Berlin"]) | JSON)
def test_parse_never_raises(expression: object, time_zone: object) -> None:
    parsed, problems = parse_cron(expression, time_zone)
    assert (parsed is None) == bool(problems)
    assert all(isinstance(problem, str) and problem.startswith("cron") for problem in problems)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
MOMENTS = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))


@st.composite
def schedules(draw: st.DrawFn) -> CronSchedule:
    fields = [
        str(draw(st.integers(0, 59))),
        draw(st.sampled_from(["*", "*/5", "*/15", "0", "30", "0,30", "10-20", "5-50/15", "7/20"])),
        draw(st.sampled_from(["*", "*/6", "0", "2", "9", "1-3", "2,3", "22/1"])),
        draw(st.sampled_from(["*", "1", "13", "29", "31", "1-7", "*/10", "15,30,31"])),
        draw(st.sampled_from(["*", "1", "2", "Feb", "Mar-Oct", "*/3", "11,12"])),
        draw(st.sampled_from(["*", "0", "Mon-Fri", "Sat,Sun", "5", "1/2"])),
    ]
    parsed, _ = parse_cron(" ".join(fields), draw(st.sampled_from(ZONES)))
    assume(parsed is not None)
    assert parsed is not None
    return parsed


@settings(max_examples=250, deadline=None)
@given(schedule=schedules(), moment=MOMENTS)
def test_latest_slot_is_last_slot_up_to_moment(schedule: CronSchedule, moment: datetime) -> None:
    assert_latest_is_last_slot(schedule, moment, ANCHOR, span=timedelta(days=2),
                               none_since=moment - timedelta(days=LOOKBACK_DAYS - 2))


@settings(max_examples=200, deadline=None)
@given(schedule=schedules(), after=MOMENTS)
def test_slots_after_strictly_increasing(schedule: CronSchedule, after: datetime) -> None:
    assert_strictly_increasing(schedule, after, ANCHOR)


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), after=MOMENTS, hours=st.integers(0, 72))
def test_count_matches_enumeration(schedule: CronSchedule, after: datetime, hours: int) -> None:
    assert_count_matches_enumeration(schedule, after, after + timedelta(hours=hours), ANCHOR)
