"""Recurrence parsing and slot maths.

Expected instants are worked out by hand from the zone rules (Europe/Berlin CET +1 / CEST +2, switching
on 2024-03-31 02:00 and 2024-10-27 03:00; America/New_York EST -5 / EDT -4, switching on 2024-03-10
02:00 and 2024-11-03 02:00; Australia/Lord_Howe +10:30 / +11, DST from 2024-10-06 02:00 to 02:30),
never computed with the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.recurrence import (
    FREQUENCIES,
    RECURRENCE_FIELDS,
    WEEK_DAYS,
    Recurrence,
    count_slots,
    describe,
    latest_slot,
    parse_recurrence,
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


ANCHOR = utc(2024, 1, 1)


def rec(**raw: object) -> Recurrence:
    parsed, problems = parse_recurrence(raw)
    assert problems == []
    assert parsed is not None
    return parsed


BERLIN_2_DAY = {"frequency": "Day", "interval": 2, "hours": [6, 18], "time_zone": "Europe/Berlin",
                "start_time": "2024-10-25T12:00:00"}
MON_FRI_2_WEEK = {"frequency": "Week", "interval": 2, "week_days": ["Monday", "Friday"],
                  "start_time": "2024-01-03T10:00:00"}
MONTH_31 = {"frequency": "Month", "start_time": "2024-01-31T09:00:00"}

# id, recurrence, after, anchor, the first slots strictly after `after`
SLOTS_AFTER = [
    ("minute-15", {"frequency": "Minute", "interval": 15, "start_time": "2024-01-01T00:00:00"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 0, 45)]),
    ("minute-start-in-past", {"frequency": "Minute", "interval": 15, "start_time": "2024-01-01T00:07:00"},
     utc(2024, 5, 5, 10), ANCHOR, [utc(2024, 5, 5, 10, 7), utc(2024, 5, 5, 10, 22), utc(2024, 5, 5, 10, 37)]),
    ("minute-start-in-future", {"frequency": "Minute", "interval": 5, "start_time": "2030-01-01T00:00:00"},
     utc(2024, 1, 1), ANCHOR, [utc(2030, 1, 1), utc(2030, 1, 1, 0, 5)]),
    ("minute-anchor", {"frequency": "Minute", "interval": 10},
     utc(2024, 2, 10, 12, 34, 55), utc(2024, 2, 10, 12, 34, 56),
     [utc(2024, 2, 10, 12, 34, 56), utc(2024, 2, 10, 12, 44, 56), utc(2024, 2, 10, 12, 54, 56)]),
    ("hour-absolute-across-spring-dst",
     {"frequency": "Hour", "interval": 5, "start_time": "2024-03-30T22:00:00", "time_zone": "Europe/Berlin"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 3, 30, 21), utc(2024, 3, 31, 2), utc(2024, 3, 31, 7)]),
    ("hour-absolute-across-fall-dst",
     {"frequency": "Hour", "start_time": "2024-11-03T00:00:00", "time_zone": "America/New_York"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 11, 3, 4), utc(2024, 11, 3, 5), utc(2024, 11, 3, 6), utc(2024, 11, 3, 7)]),
    ("day-keeps-wall-clock-across-dst",
     {"frequency": "Day", "start_time": "2024-03-29T09:00:00", "time_zone": "Europe/Berlin"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 3, 29, 8), utc(2024, 3, 30, 8), utc(2024, 3, 31, 7), utc(2024, 4, 1, 7)]),
    ("day-interval-2-hours-across-fall-dst", BERLIN_2_DAY, utc(2024, 1, 1), ANCHOR,
     [utc(2024, 10, 25, 16), utc(2024, 10, 27, 5), utc(2024, 10, 27, 17), utc(2024, 10, 29, 5)]),
    ("day-hours-only-minute-from-start",
     {"frequency": "Day", "hours": [20, 8], "start_time": "2024-01-01T07:45:00"},
     utc(2023, 1, 1), ANCHOR, [utc(2024, 1, 1, 8, 45), utc(2024, 1, 1, 20, 45), utc(2024, 1, 2, 8, 45)]),
    ("day-minutes-only-hour-from-start",
     {"frequency": "Day", "minutes": [0, 30], "start_time": "2024-01-01T07:45:00"},
     utc(2023, 1, 1), ANCHOR, [utc(2024, 1, 2, 7), utc(2024, 1, 2, 7, 30), utc(2024, 1, 3, 7)]),
    ("day-time-of-day-new-york-spring",
     {"frequency": "Day", "time_of_day": "23:15", "start_time": "2024-03-09T00:00:00",
      "time_zone": "America/New_York"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 3, 10, 4, 15), utc(2024, 3, 11, 3, 15), utc(2024, 3, 12, 3, 15)]),
    ("day-nonexistent-berlin-shifts-by-gap",
     {"frequency": "Day", "time_of_day": "02:30", "start_time": "2024-03-30T00:00:00",
      "time_zone": "Europe/Berlin"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)]),
    ("day-ambiguous-berlin-fires-once-first",
     {"frequency": "Day", "time_of_day": "02:30", "start_time": "2024-10-26T00:00:00",
      "time_zone": "Europe/Berlin"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]),
    ("day-nonexistent-new-york",
     {"frequency": "Day", "time_of_day": "02:30", "start_time": "2024-03-09T00:00:00",
      "time_zone": "America/New_York"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 30), utc(2024, 3, 11, 6, 30)]),
    ("day-ambiguous-new-york",
     {"frequency": "Day", "time_of_day": "01:30", "start_time": "2024-11-02T00:00:00",
      "time_zone": "America/New_York"},
     utc(2024, 1, 1), ANCHOR, [utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]),
    ("day-gap-collision-deduplicated",
     {"frequency": "Day", "hours": [2, 3], "minutes": [30], "start_time": "2024-03-30T00:00:00",
      "time_zone": "Europe/Berlin"},
     utc(2024, 1, 1), ANCHOR,
     [utc(2024, 3, 30, 1, 30), utc(2024, 3, 30, 2, 30), utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30),
      utc(2024, 4, 1, 1, 30)]),
    ("day-gap-reorders-lord-howe",
     {"frequency": "Day", "hours": [2], "minutes": [20, 40], "start_time": "2024-10-05T00:00:00",
      "time_zone": "Australia/Lord_Howe"},
     utc(2024, 1, 1), ANCHOR,
     [utc(2024, 10, 4, 15, 50), utc(2024, 10, 4, 16, 10), utc(2024, 10, 5, 15, 40), utc(2024, 10, 5, 15, 50),
      utc(2024, 10, 6, 15, 20), utc(2024, 10, 6, 15, 40)]),
    ("week-days-interval-2", MON_FRI_2_WEEK, utc(2023, 1, 1), ANCHOR,
     [utc(2024, 1, 5, 10), utc(2024, 1, 15, 10), utc(2024, 1, 19, 10), utc(2024, 1, 29, 10)]),
    ("week-default-weekday-across-dst",
     {"frequency": "Week", "start_time": "2024-02-29T09:00:00", "time_zone": "Europe/Berlin"},
     utc(2024, 3, 20), ANCHOR, [utc(2024, 3, 21, 8), utc(2024, 3, 28, 8), utc(2024, 4, 4, 7)]),
    ("week-hours-minutes-new-york-fall-back",
     {"frequency": "Week", "week_days": ["Sunday"], "hours": [1, 2], "minutes": [0, 30],
      "start_time": "2024-11-01T00:00:00", "time_zone": "America/New_York"},
     utc(2024, 1, 1), ANCHOR,
     [utc(2024, 11, 3, 5), utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 7), utc(2024, 11, 3, 7, 30),
      utc(2024, 11, 10, 6), utc(2024, 11, 10, 6, 30)]),
    ("month-31-skips-short-months", MONTH_31, utc(2023, 1, 1), ANCHOR,
     [utc(2024, 1, 31, 9), utc(2024, 3, 31, 9), utc(2024, 5, 31, 9), utc(2024, 7, 31, 9), utc(2024, 8, 31, 9)]),
    ("month-interval-2-berlin",
     {"frequency": "Month", "interval": 2, "start_time": "2024-01-31T09:00:00", "time_zone": "Europe/Berlin"},
     utc(2023, 1, 1), ANCHOR,
     [utc(2024, 1, 31, 8), utc(2024, 3, 31, 7), utc(2024, 5, 31, 7), utc(2024, 7, 31, 7), utc(2025, 1, 31, 8)]),
    ("month-feb-29-yearly",
     {"frequency": "Month", "interval": 12, "start_time": "2024-02-29T12:00:00"},
     utc(2023, 1, 1), ANCHOR, [utc(2024, 2, 29, 12), utc(2028, 2, 29, 12), utc(2032, 2, 29, 12)]),
    ("day-anchor-is-first-slot", {"frequency": "Day", "time_zone": "Europe/Berlin"},
     utc(2024, 6, 15, 10, 20, 29), utc(2024, 6, 15, 10, 20, 30),
     [utc(2024, 6, 15, 10, 20, 30), utc(2024, 6, 16, 10, 20, 30)]),
    ("day-anchor-hours-minute-from-anchor", {"frequency": "Day", "hours": [6], "time_zone": "Europe/Berlin"},
     utc(2024, 6, 1), utc(2024, 6, 15, 10, 20, 30), [utc(2024, 6, 16, 4, 20), utc(2024, 6, 17, 4, 20)]),
    ("week-anchor", {"frequency": "Week"}, utc(2024, 6, 1), utc(2024, 6, 12, 8),
     [utc(2024, 6, 12, 8), utc(2024, 6, 19, 8)]),
    ("month-anchor", {"frequency": "Month"}, utc(2024, 1, 1), utc(2024, 1, 31),
     [utc(2024, 1, 31), utc(2024, 3, 31)]),
]


@pytest.mark.parametrize(("raw", "after", "anchor", "expected"), [case[1:] for case in SLOTS_AFTER],
                         ids=[case[0] for case in SLOTS_AFTER])
def test_slots_after(raw: dict[str, object], after: datetime, anchor: datetime, expected: list[datetime]) -> None:
    assert list(islice(slots_after(rec(**raw), after, anchor), len(expected))) == expected


# id, recurrence, moment, anchor, latest slot at or before the moment
LATEST = [
    ("minute-grid", {"frequency": "Minute", "interval": 15, "start_time": "2024-01-01T00:07:00"},
     utc(2024, 5, 5, 10), ANCHOR, utc(2024, 5, 5, 9, 52)),
    ("minute-exactly-on-slot", {"frequency": "Minute", "interval": 15, "start_time": "2024-01-01T00:07:00"},
     utc(2024, 5, 5, 10, 7), ANCHOR, utc(2024, 5, 5, 10, 7)),
    ("minute-start-in-future", {"frequency": "Minute", "start_time": "2030-01-01T00:00:00"},
     utc(2024, 5, 5), ANCHOR, None),
    ("minute-centuries-is-constant-time", {"frequency": "Minute", "start_time": "1970-01-01T00:00:00"},
     utc(2999, 6, 1, 12, 34, 56), ANCHOR, utc(2999, 6, 1, 12, 34)),
    ("hour-anchor", {"frequency": "Hour", "interval": 3}, utc(2024, 1, 2, 2), utc(2024, 1, 1, 0, 30),
     utc(2024, 1, 2, 0, 30)),
    ("hour-before-anchor", {"frequency": "Hour"}, utc(2024, 1, 1, 0, 29), utc(2024, 1, 1, 0, 30), None),
    ("day-interval-2-slot-day", BERLIN_2_DAY, utc(2024, 10, 27, 12), ANCHOR, utc(2024, 10, 27, 5)),
    ("day-interval-2-off-day", BERLIN_2_DAY, utc(2024, 10, 26, 12), ANCHOR, utc(2024, 10, 25, 16)),
    ("day-before-start", BERLIN_2_DAY, utc(2024, 10, 25, 15, 59), ANCHOR, None),
    ("day-exactly-on-slot", BERLIN_2_DAY, utc(2024, 10, 29, 17), ANCHOR, utc(2024, 10, 29, 17)),
    ("day-years-later", {"frequency": "Day", "start_time": "2020-01-01T06:00:00"}, utc(2024, 6, 1, 5), ANCHOR,
     utc(2024, 5, 31, 6)),
    ("day-nonexistent-before",
     {"frequency": "Day", "time_of_day": "02:30", "start_time": "2024-03-30T00:00:00",
      "time_zone": "Europe/Berlin"}, utc(2024, 3, 31, 1, 29), ANCHOR, utc(2024, 3, 30, 1, 30)),
    ("day-nonexistent-on",
     {"frequency": "Day", "time_of_day": "02:30", "start_time": "2024-03-30T00:00:00",
      "time_zone": "Europe/Berlin"}, utc(2024, 3, 31, 1, 30), ANCHOR, utc(2024, 3, 31, 1, 30)),
    ("day-anchor", {"frequency": "Day"}, utc(2024, 6, 20, 10), utc(2024, 6, 15, 10, 20, 30),
     utc(2024, 6, 19, 10, 20, 30)),
    ("week-days-interval-2", MON_FRI_2_WEEK, utc(2024, 1, 14, 23, 59), ANCHOR, utc(2024, 1, 5, 10)),
    ("month-31", MONTH_31, utc(2024, 7, 15), ANCHOR, utc(2024, 5, 31, 9)),
    ("month-start-in-future", {"frequency": "Month", "start_time": "2030-01-31T00:00:00"}, utc(2024, 7, 15),
     ANCHOR, None),
]


@pytest.mark.parametrize(("raw", "moment", "anchor", "expected"), [case[1:] for case in LATEST],
                         ids=[case[0] for case in LATEST])
def test_latest_slot(raw: dict[str, object], moment: datetime, anchor: datetime, expected: datetime | None) -> None:
    assert latest_slot(rec(**raw), moment, anchor) == expected


# id, recurrence, after, until, cap, slots strictly between
COUNTS = [
    ("minute-day", {"frequency": "Minute", "interval": 15, "start_time": "2024-01-01T00:00:00"},
     utc(2024, 1, 1), utc(2024, 1, 2), 100_000, 95),
    ("minute-year-capped", {"frequency": "Minute", "start_time": "2023-01-01T00:00:00"},
     utc(2023, 1, 1), utc(2024, 1, 1), 100_000, 100_000),
    ("minute-year-uncapped", {"frequency": "Minute", "start_time": "2023-01-01T00:00:00"},
     utc(2023, 1, 1), utc(2024, 1, 1), 10**9, 525_599),
    ("minute-before-start", {"frequency": "Minute", "start_time": "2023-01-01T00:00:00"},
     utc(2022, 12, 31, 23, 58), utc(2023, 1, 1, 0, 2), 100, 2),
    ("hour-anchor", {"frequency": "Hour"}, utc(2024, 1, 1), utc(2024, 1, 1, 10), 100, 9),
    ("empty-range", {"frequency": "Hour"}, utc(2024, 1, 2), utc(2024, 1, 1), 100, 0),
    ("day-berlin-january", {"frequency": "Day", "start_time": "2024-01-01T09:00:00", "time_zone": "Europe/Berlin"},
     utc(2024, 1, 1), utc(2024, 2, 1), 100, 31),
    ("day-capped", {"frequency": "Day", "start_time": "2024-01-01T09:00:00"}, utc(2024, 1, 1), utc(2024, 2, 1), 5, 5),
    ("week-days-interval-2", MON_FRI_2_WEEK, utc(2024, 1, 1), utc(2024, 2, 1), 100, 4),
    ("month-31-year", MONTH_31, utc(2024, 1, 1), utc(2025, 1, 1), 100, 7),
]


@pytest.mark.parametrize(("raw", "after", "until", "cap", "expected"), [case[1:] for case in COUNTS],
                         ids=[case[0] for case in COUNTS])
def test_count_slots(raw: dict[str, object], after: datetime, until: datetime, cap: int, expected: int) -> None:
    assert count_slots(rec(**raw), after, until, ANCHOR, cap=cap) == expected


def test_aware_non_utc_inputs_are_accepted_and_results_are_utc() -> None:
    berlin_1330 = datetime(2024, 1, 1, 13, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    slot = latest_slot(rec(frequency="Hour"), berlin_1330, ANCHOR)
    assert slot == utc(2024, 1, 1, 12)
    assert slot is not None and slot.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_slot(rec(frequency="Hour"), datetime(2024, 1, 1), ANCHOR)


DESCRIPTIONS = [
    (BERLIN_2_DAY | {"minutes": [0]}, "every 2 Day at 06:00,18:00 Europe/Berlin from 2024-10-25T12:00:00"),
    ({"frequency": "Minute", "interval": 15}, "every 15 Minute UTC from when first seen"),
    ({"frequency": "Week", "week_days": ["Friday", "Monday"], "time_of_day": "09:30",
      "start_time": "2024-01-01T00:00:00"},
     "every 1 Week on Monday,Friday at 09:30 UTC from 2024-01-01T00:00:00"),
    ({"frequency": "Week", "start_time": "2024-01-03T10:00:00"},
     "every 1 Week on Wednesday at 10:00 UTC from 2024-01-03T10:00:00"),
    (MONTH_31, "every 1 Month on day 31 at 09:00 UTC from 2024-01-31T09:00:00"),
    ({"frequency": "Month"}, "every 1 Month on the first-seen day at the first-seen time UTC from when first seen"),
    ({"frequency": "Day", "hours": [6, 18]}, "every 1 Day at hour 6,18 minute of first run UTC from when first seen"),
]


@pytest.mark.parametrize(("raw", "expected"), DESCRIPTIONS)
def test_describe(raw: dict[str, object], expected: str) -> None:
    assert describe(rec(**raw)) == expected


# --- validation --------------------------------------------------------------------------------------

FREQ_LIST = "Minute, Hour, Day, Week, Month"
START_FORMAT = "recurrence.start_time must be a naive datetime 'YYYY-MM-DDThh:mm:ss'"
OFFSET_HINT = (": it carries a UTC offset; give the local wall-clock time without 'Z' or '+hh:mm' and set"
               " recurrence.time_zone instead")

INVALID = [
    (None, ["recurrence must be a JSON object with at least 'frequency' (got null)"]),
    ([], ["recurrence must be a JSON object with at least 'frequency' (got array)"]),
    ("Day", ["recurrence must be a JSON object with at least 'frequency' (got string)"]),
    (True, ["recurrence must be a JSON object with at least 'frequency' (got boolean)"]),
    ({}, [f"recurrence.frequency is required (one of {FREQ_LIST})"]),
    ({"frequency": "Daily"}, [f"recurrence.frequency must be one of {FREQ_LIST} (got 'Daily'); did you mean 'Day'?"]),
    ({"frequency": "week"}, [f"recurrence.frequency must be one of {FREQ_LIST} (got 'week'); did you mean 'Week'?"]),
    ({"frequency": "Year"}, [f"recurrence.frequency must be one of {FREQ_LIST} (got 'Year')"]),
    ({"frequency": ["Day"]}, [f"recurrence.frequency must be one of {FREQ_LIST} (got ['Day'])"]),
    ({"frequency": "Day", "interval": True}, ["recurrence.interval must be an integer >= 1 (got True)"]),
    ({"frequency": "Day", "interval": 0}, ["recurrence.interval must be an integer >= 1 (got 0)"]),
    ({"frequency": "Day", "interval": -3}, ["recurrence.interval must be an integer >= 1 (got -3)"]),
    ({"frequency": "Day", "interval": 1.5}, ["recurrence.interval must be an integer >= 1 (got 1.5)"]),
    ({"frequency": "Day", "interval": "2"}, ["recurrence.interval must be an integer >= 1 (got '2')"]),
    ({"frequency": "Day", "interval": 3_652_055},
     ["recurrence.interval must be at most 3652054 for frequency Day: a longer interval never reaches a second "
      "slot within the calendar (years 1-9999)"]),
    ({"frequency": "Day", "start_time": "2024-01-01T00:00:00Z"},
     [f"{START_FORMAT} (got '2024-01-01T00:00:00Z'){OFFSET_HINT}"]),
    ({"frequency": "Day", "start_time": "2024-01-01T00:00:00+01:00"},
     [f"{START_FORMAT} (got '2024-01-01T00:00:00+01:00'){OFFSET_HINT}"]),
    ({"frequency": "Day", "start_time": "2024-01-01"}, [f"{START_FORMAT} (got '2024-01-01')"]),
    ({"frequency": "Day", "start_time": "2024-01-01 06:00:00"}, [f"{START_FORMAT} (got '2024-01-01 06:00:00')"]),
    ({"frequency": "Day", "start_time": 1704067200}, [f"{START_FORMAT} (got 1704067200)"]),
    ({"frequency": "Day", "start_time": "2024-02-30T00:00:00"},
     [f"{START_FORMAT} (got '2024-02-30T00:00:00'): that date or time does not exist"]),
    ({"frequency": "Day", "start_time": "1900-01-01T00:00:00"},
     ["recurrence.start_time must be in the years 1970-2999 (got '1900-01-01T00:00:00')"]),
    ({"frequency": "Day", "time_zone": "Mars/Base"},
     [f"recurrence.time_zone 'Mars/Base' is not a known time zone {ZONE_FORMS}"]),
    ({"frequency": "Day", "time_zone": "europe/berlin"},
     [f"recurrence.time_zone 'europe/berlin' is not a known time zone {ZONE_FORMS}; did you mean 'Europe/Berlin'?"]),
    ({"frequency": "Day", "time_zone": "W. Europe Standard Tim"},
     [f"recurrence.time_zone 'W. Europe Standard Tim' is not a known time zone {ZONE_FORMS}; did you mean "
      "'W. Europe Standard Time' or 'E. Europe Standard Time' or 'Central Europe Standard Time'?"]),
    ({"frequency": "Day", "time_zone": 1},
     ["recurrence.time_zone must be a time zone name such as 'Europe/Berlin' or 'W. Europe Standard Time' "
      "(got number)"]),
    ({"frequency": "Minute", "hours": [1]}, ["recurrence.hours is only allowed with frequency Day or Week"]),
    ({"frequency": "Month", "minutes": [1]}, ["recurrence.minutes is only allowed with frequency Day or Week"]),
    ({"frequency": "Hour", "time_of_day": "06:00"},
     ["recurrence.time_of_day is only allowed with frequency Day or Week"]),
    ({"frequency": "Day", "week_days": ["Monday"]}, ["recurrence.week_days is only allowed with frequency Week"]),
    ({"frequency": "Week", "week_days": ["Funday"]},
     ["recurrence.week_days has unknown day 'Funday' (use Monday..Sunday)"]),
    ({"frequency": "Week", "week_days": ["monday", 1]},
     ["recurrence.week_days has unknown day 'monday' (use Monday..Sunday)",
      "recurrence.week_days has unknown day 1 (use Monday..Sunday)"]),
    ({"frequency": "Week", "week_days": "Monday"},
     ['recurrence.week_days must be a list of day names such as ["Monday", "Friday"] (got \'Monday\')']),
    ({"frequency": "Day", "time_of_day": "06:00", "hours": [6]},
     ["recurrence.time_of_day cannot be combined with hours/minutes"]),
    ({"frequency": "Day", "time_of_day": "25:00"},
     ["recurrence.time_of_day must be 'hh:mm' on a 24-hour clock (got '25:00')"]),
    ({"frequency": "Day", "time_of_day": 600}, ["recurrence.time_of_day must be 'hh:mm' on a 24-hour clock (got 600)"]),
    ({"frequency": "Day", "hours": [24]}, ["recurrence.hours[0] must be a whole number 0-23 (got 24)"]),
    ({"frequency": "Day", "hours": [6, True]}, ["recurrence.hours[1] must be a whole number 0-23 (got True)"]),
    ({"frequency": "Day", "minutes": [60]}, ["recurrence.minutes[0] must be a whole number 0-59 (got 60)"]),
    ({"frequency": "Day", "minutes": [-1]}, ["recurrence.minutes[0] must be a whole number 0-59 (got -1)"]),
    ({"frequency": "Day", "hours": "6"}, ["recurrence.hours must be a list of whole numbers 0-23 (got '6')"]),
    ({"frequency": "Day", "hours": {"a": 1}}, ["recurrence.hours must be a list of whole numbers 0-23 (got {'a': 1})"]),
    ({"frequency": "Day", "foo": 1}, ["recurrence.foo is not a recognised field"]),
]


@pytest.mark.parametrize(("raw", "expected"), INVALID)
def test_invalid_recurrence_messages(raw: object, expected: list[str]) -> None:
    assert parse_recurrence(raw) == (None, expected)


def test_all_problems_reported_at_once() -> None:
    _, problems = parse_recurrence({
        "frequency": "Minute", "interval": 0, "start_time": "2024-01-01T00:00:00Z", "time_zone": "Mars/Base",
        "hours": [25], "week_days": ["Funday"], "time_of_day": "06:00", "bar": None,
    })
    assert problems == [
        "recurrence.bar is not a recognised field",
        "recurrence.interval must be an integer >= 1 (got 0)",
        f"{START_FORMAT} (got '2024-01-01T00:00:00Z'){OFFSET_HINT}",
        f"recurrence.time_zone 'Mars/Base' is not a known time zone {ZONE_FORMS}",
        "recurrence.hours[0] must be a whole number 0-23 (got 25)",
        "recurrence.week_days has unknown day 'Funday' (use Monday..Sunday)",
        "recurrence.hours is only allowed with frequency Day or Week",
        "recurrence.time_of_day is only allowed with frequency Day or Week",
        "recurrence.week_days is only allowed with frequency Week",
        "recurrence.time_of_day cannot be combined with hours/minutes",
    ]


VALID = [
    ({"frequency": "Day"}, Recurrence("Day")),
    ({"frequency": "Day", "interval": None, "time_zone": None, "hours": [], "week_days": None},
     Recurrence("Day")),
    ({"frequency": "Week", "interval": 2, "start_time": "2024-01-03T10:00:00", "time_zone": "Europe/Berlin",
      "hours": [18, 6, 6], "minutes": [30], "week_days": ["Friday", "Monday", "Friday"]},
     Recurrence("Week", 2, datetime(2024, 1, 3, 10), "Europe/Berlin", (6, 18), (30,), ("Monday", "Friday"))),
    ({"frequency": "Day", "time_of_day": "6:05"}, Recurrence("Day", time_of_day="06:05")),
    ({"frequency": "Minute", "interval": 5_256_000}, Recurrence("Minute", 5_256_000)),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_recurrence(raw: dict[str, object], expected: Recurrence) -> None:
    assert parse_recurrence(raw) == (expected, [])


# --- properties ----------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELD_SOUP = st.fixed_dictionaries(
    {}, optional={key: JSON | st.sampled_from([*FREQUENCIES, *WEEK_DAYS, "2024-01-01T00:00:00", "06:00",
                                                "Europe/Berlin", [1, 2], ["Monday"]])
                  for key in sorted(RECURRENCE_FIELDS)},
)


@settings(max_examples=300, deadline=None)
@given(raw=JSON | FIELD_SOUP)
def test_parse_never_raises(raw: object) -> None:
    parsed, problems = parse_recurrence(raw)
    assert (parsed is None) == bool(problems)
    assert all(isinstance(problem, str) and problem.startswith("recurrence") for problem in problems)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
MOMENTS = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))


@st.composite
def recurrences(draw: st.DrawFn) -> Recurrence:
    frequency = draw(st.sampled_from(FREQUENCIES))
    raw: dict[str, object] = {"frequency": frequency, "interval": draw(st.integers(1, 4)),
                              "time_zone": draw(st.sampled_from(ZONES))}
    if draw(st.booleans()):
        start = draw(st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 1, 1)))
        raw["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%S")
    if frequency in ("Day", "Week"):
        style = draw(st.sampled_from(["start", "time_of_day", "hours", "minutes", "both"]))
        if style == "time_of_day":
            raw["time_of_day"] = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}"
        if style in ("hours", "both"):
            raw["hours"] = draw(st.lists(st.integers(0, 23), min_size=1, max_size=3))
        if style in ("minutes", "both"):
            raw["minutes"] = draw(st.lists(st.integers(0, 59), min_size=1, max_size=3))
    if frequency == "Week" and draw(st.booleans()):
        raw["week_days"] = draw(st.lists(st.sampled_from(WEEK_DAYS), min_size=1, max_size=3))
    return rec(**raw)


def window(recurrence: Recurrence) -> timedelta:
    """A span that always holds a slot once slots have begun."""
    unit = {"Minute": timedelta(minutes=1), "Hour": timedelta(hours=1), "Day": timedelta(days=1),
            "Week": timedelta(weeks=1), "Month": timedelta(days=31)}[recurrence.frequency]
    return unit * (recurrence.interval + 1) * (12 if recurrence.frequency == "Month" else 1) + timedelta(days=2)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recurrence=recurrences(), moment=MOMENTS, anchor=MOMENTS)
def test_latest_slot_is_last_slot_up_to_moment(recurrence: Recurrence, moment: datetime, anchor: datetime) -> None:
    span = window(recurrence) if recurrence.frequency != "Minute" else timedelta(minutes=recurrence.interval * 3)
    assert_latest_is_last_slot(recurrence, moment, anchor, span=span, none_since=utc(2000, 1, 1))


@settings(max_examples=200, deadline=None)
@given(recurrence=recurrences(), after=MOMENTS, anchor=MOMENTS)
def test_slots_after_strictly_increasing(recurrence: Recurrence, after: datetime, anchor: datetime) -> None:
    assert_strictly_increasing(recurrence, after, anchor)


@settings(max_examples=200, deadline=None)
@given(recurrence=recurrences(), after=MOMENTS, anchor=MOMENTS, hours=st.integers(0, 24 * 40))
def test_count_matches_enumeration(recurrence: Recurrence, after: datetime, anchor: datetime, hours: int) -> None:
    until = after + timedelta(hours=hours)
    expected = assert_count_matches_enumeration(recurrence, after, until, anchor)
    assert count_slots(recurrence, after, until, anchor, cap=3) == min(3, expected)


# --- intervals beyond ten years (the SDK has no cap) -------------------------------------------------------


@pytest.mark.parametrize(("raw", "after", "earlier", "expected"), [
    ({"frequency": "Day", "interval": 3651, "start_time": "2024-01-01T06:00:00"}, utc(2024, 1, 2),
     utc(2024, 1, 1, 6), [utc(2033, 12, 30, 6), utc(2043, 12, 29, 6)]),
    ({"frequency": "Month", "interval": 121, "start_time": "2024-01-15T06:00:00", "time_zone": "Europe/Berlin"},
     utc(2024, 1, 16), utc(2024, 1, 15, 5), [utc(2034, 2, 15, 5), utc(2044, 3, 15, 5)]),
    ({"frequency": "Week", "interval": 600, "start_time": "2024-01-03T10:00:00", "week_days": ["Monday"]},
     utc(2024, 1, 1), None, [utc(2035, 7, 2, 10), utc(2035, 7, 2, 10) + timedelta(weeks=600)]),
    ({"frequency": "Day", "interval": 3_000_000, "start_time": "2024-01-01T00:00:00"}, utc(2024, 1, 2),
     utc(2024, 1, 1), []),
    ({"frequency": "Minute", "interval": 5_256_001, "start_time": "2024-01-01T00:00:00"}, utc(2024, 1, 1),
     utc(2024, 1, 1), [utc(2024, 1, 1) + timedelta(minutes=5_256_001),
                       utc(2024, 1, 1) + timedelta(minutes=10_512_002)]),
], ids=["day-3651", "month-121", "week-600-monday", "day-beyond-the-calendar", "minute-over-ten-years"])
def test_long_intervals_are_accepted_and_jump_straight_to_their_slots(
    raw: dict[str, object], after: datetime, earlier: datetime | None, expected: list[datetime]
) -> None:
    schedule = rec(**raw)
    assert list(islice(slots_after(schedule, after, ANCHOR), 2)) == expected
    for slot in expected:
        assert latest_slot(schedule, slot + timedelta(days=1), ANCHOR) == slot
    first = expected[0] if expected else utc(9999, 1, 1)
    assert latest_slot(schedule, first - timedelta(seconds=1), ANCHOR) == earlier
