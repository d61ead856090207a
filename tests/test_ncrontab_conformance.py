"""NCRONTAB as the Azure Functions timer fires it, checked against the cases of the two public test suites it is
built from, written out here as data (start, expression, expected next occurrences):

- NCrontab (github.com/atifaziz/NCrontab), `NCrontab.Tests/CrontabScheduleTests.cs`, `Evaluations`: naive times,
  here in UTC; five-field cases as NCrontab parses them without `IncludingSeconds`, six-field ones with it.
- The WebJobs timer extension (github.com/Azure/azure-webjobs-sdk-extensions),
  `test/WebJobs.Extensions.Tests/Extensions/Timers/Scheduling/CronScheduleTests.cs` (`Interval_IntoDST`,
  `PointInTime_IntoDST`, `PointInTime_WithinAmbiguousHour`, `Interval_OutOfDST`, `PointInTime_OutOfDST`,
  `IsInterval_ReturnsExpectedValue`, `GetNextOccurrence_ThreeDaySchedule_MultipleScheduleIterations`) and
  `.../Timers/Listener/TimerListenerTests.cs` (`GetNextInterval_NextAfterDST`, `GetNextInterval_NextWithinDST`):
  Pacific time (America/Los_Angeles), expected times with their UTC offsets.

Every case passes, or is listed in DEVIATIONS with the bridge's message (README, "Porting an Azure ML schedule").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from shared.ncrontab import CronSchedule, parse_cron, slots_after

PACIFIC = "America/Los_Angeles"

# (start, expression, expected next): NCrontab's `Evaluations`, dd/MM/yyyy rewritten as ISO.
NCRONTAB_EVALUATIONS = [
    ("2003-01-01 00:00:00", "* * * * *", "2003-01-01 00:01:00"),
    ("2003-01-01 00:01:00", "* * * * *", "2003-01-01 00:02:00"),
    ("2003-01-01 00:02:00", "* * * * *", "2003-01-01 00:03:00"),
    ("2003-01-01 00:59:00", "* * * * *", "2003-01-01 01:00:00"),
    ("2003-01-01 01:59:00", "* * * * *", "2003-01-01 02:00:00"),
    ("2003-01-01 23:59:00", "* * * * *", "2003-01-02 00:00:00"),
    ("2003-12-31 23:59:00", "* * * * *", "2004-01-01 00:00:00"),
    ("2003-02-28 23:59:00", "* * * * *", "2003-03-01 00:00:00"),
    ("2004-02-28 23:59:00", "* * * * *", "2004-02-29 00:00:00"),
    ("2003-01-01 00:00:00", "45 * * * * *", "2003-01-01 00:00:45"),
    ("2003-01-01 00:00:00", "45 * * * *", "2003-01-01 00:45:00"),
    ("2003-01-01 00:00:00", "45-47,48,49 * * * *", "2003-01-01 00:45:00"),
    ("2003-01-01 00:45:00", "45-47,48,49 * * * *", "2003-01-01 00:46:00"),
    ("2003-01-01 00:46:00", "45-47,48,49 * * * *", "2003-01-01 00:47:00"),
    ("2003-01-01 00:47:00", "45-47,48,49 * * * *", "2003-01-01 00:48:00"),
    ("2003-01-01 00:48:00", "45-47,48,49 * * * *", "2003-01-01 00:49:00"),
    ("2003-01-01 00:49:00", "45-47,48,49 * * * *", "2003-01-01 01:45:00"),
    ("2003-01-01 00:00:00", "2/5 * * * *", "2003-01-01 00:02:00"),
    ("2003-01-01 00:02:00", "2/5 * * * *", "2003-01-01 00:07:00"),
    ("2003-01-01 00:50:00", "2/5 * * * *", "2003-01-01 00:52:00"),
    ("2003-01-01 00:52:00", "2/5 * * * *", "2003-01-01 00:57:00"),
    ("2003-01-01 00:57:00", "2/5 * * * *", "2003-01-01 01:02:00"),
    ("2003-01-01 00:00:30", "3 45 * * * *", "2003-01-01 00:45:03"),
    ("2003-01-01 00:00:30", "6 45-47,48,49 * * * *", "2003-01-01 00:45:06"),
    ("2003-01-01 00:45:30", "6 45-47,48,49 * * * *", "2003-01-01 00:46:06"),
    ("2003-01-01 00:49:30", "6 45-47,48,49 * * * *", "2003-01-01 01:45:06"),
    ("2003-01-01 00:00:30", "9 2/5 * * * *", "2003-01-01 00:02:09"),
    ("2003-01-01 00:02:30", "9 2/5 * * * *", "2003-01-01 00:07:09"),
    ("2003-01-01 00:50:30", "9 2/5 * * * *", "2003-01-01 00:52:09"),
    ("2003-01-01 00:52:30", "9 2/5 * * * *", "2003-01-01 00:57:09"),
    ("2003-01-01 00:57:30", "9 2/5 * * * *", "2003-01-01 01:02:09"),
    ("2003-12-20 10:00:00", " * 3/4 * * *", "2003-12-20 11:00:00"),
    ("2003-12-20 00:30:00", " * 3   * * *", "2003-12-20 03:00:00"),
    ("2003-12-20 01:45:00", "30 3   * * *", "2003-12-20 03:30:00"),
    ("2003-01-07 00:00:00", "30  *  1 * *", "2003-02-01 00:30:00"),
    ("2003-02-01 00:30:00", "30  *  1 * *", "2003-02-01 01:30:00"),
    ("2003-01-01 00:00:00", "10  * 22    * *", "2003-01-22 00:10:00"),
    ("2003-01-01 00:00:00", "30 23 19    * *", "2003-01-19 23:30:00"),
    ("2003-01-01 00:00:00", "30 23 21    * *", "2003-01-21 23:30:00"),
    ("2003-01-01 00:01:00", " *  * 21    * *", "2003-01-21 00:00:00"),
    ("2003-07-10 00:00:00", " *  * 30,31 * *", "2003-07-30 00:00:00"),
    ("2002-02-28 23:59:59", "* * * 3 *", "2002-03-01 00:00:00"),
    ("2004-02-29 23:59:59", "* * * 3 *", "2004-03-01 00:00:00"),
    ("2002-03-31 23:59:59", "* * * 4 *", "2002-04-01 00:00:00"),
    ("2002-04-30 23:59:59", "* * * 5 *", "2002-05-01 00:00:00"),
    ("2000-01-01 00:00:00", "0 0 15,30,31 * *", "2000-01-15 00:00:00"),
    ("2000-01-15 00:00:00", "0 0 15,30,31 * *", "2000-01-30 00:00:00"),
    ("2000-01-30 00:00:00", "0 0 15,30,31 * *", "2000-01-31 00:00:00"),
    ("2000-01-31 00:00:00", "0 0 15,30,31 * *", "2000-02-15 00:00:00"),
    ("2000-02-15 00:00:00", "0 0 15,30,31 * *", "2000-03-15 00:00:00"),
    ("2000-03-31 00:00:00", "0 0 15,30,31 * *", "2000-04-15 00:00:00"),
    ("2000-04-30 00:00:00", "0 0 15,30,31 * *", "2000-05-15 00:00:00"),
    ("2000-06-30 00:00:00", "0 0 15,30,31 * *", "2000-07-15 00:00:00"),
    ("2000-09-30 00:00:00", "0 0 15,30,31 * *", "2000-10-15 00:00:00"),
    ("2000-11-30 00:00:00", "0 0 15,30,31 * *", "2000-12-15 00:00:00"),
    ("2000-12-31 00:00:00", "0 0 15,30,31 * *", "2001-01-15 00:00:00"),
    ("2003-12-01 05:00:00", "10 * * 6 *", "2004-06-01 00:10:00"),
    ("2003-01-04 00:00:00", " 1 2 3 * *", "2003-02-03 02:01:00"),
    ("2002-07-01 05:00:00", "10 * * February,April-Jun *", "2003-02-01 00:10:00"),
    ("2003-01-01 00:00:00", "0 12 1 6 *", "2003-06-01 12:00:00"),
    ("1988-09-11 14:23:00", "* 12 1 6 *", "1989-06-01 12:00:00"),
    ("1988-03-11 14:23:00", "* 12 1 6 *", "1988-06-01 12:00:00"),
    ("1988-03-11 14:23:00", "* 2,4-8,15 * 6 *", "1988-06-01 02:00:00"),
    ("1988-03-11 14:23:00", "20 * * january,FeB,Mar,april,May,JuNE,July,Augu,SEPT-October,Nov,DECEM *",
     "1988-03-11 15:20:00"),
    ("2003-06-26 10:00:00", "30 6 * * 0", "2003-06-29 06:30:00"),
    ("2003-06-26 10:00:00", "30 6 * * sunday", "2003-06-29 06:30:00"),
    ("2003-06-26 10:00:00", "30 6 * * SUNDAY", "2003-06-29 06:30:00"),
    ("2003-06-19 00:00:00", "1 12 * * 2", "2003-06-24 12:01:00"),
    ("2003-06-24 12:01:00", "1 12 * * 2", "2003-07-01 12:01:00"),
    ("2003-06-01 14:55:00", "15 18 * * Mon", "2003-06-02 18:15:00"),
    ("2003-06-02 18:15:00", "15 18 * * Mon", "2003-06-09 18:15:00"),
    ("2003-06-30 18:15:00", "15 18 * * Mon", "2003-07-07 18:15:00"),
    ("2003-01-01 00:00:00", "* * * * Mon", "2003-01-06 00:00:00"),
    ("2003-01-01 12:00:00", "45 16 1 * Mon", "2003-09-01 16:45:00"),
    ("2003-09-01 23:45:00", "45 16 1 * Mon", "2003-12-01 16:45:00"),
    ("2000-01-01 12:00:00", "1 12 29 2 *", "2000-02-29 12:01:00"),
    ("2000-02-29 12:01:00", "1 12 29 2 *", "2004-02-29 12:01:00"),
    ("2004-02-29 12:01:00", "1 12 29 2 *", "2008-02-29 12:01:00"),
    ("2000-01-01 12:00:00", "1 12 28 2 *", "2000-02-28 12:01:00"),
    ("2000-02-28 12:01:00", "1 12 28 2 *", "2001-02-28 12:01:00"),
    ("2004-02-29 12:01:00", "1 12 28 2 *", "2005-02-28 12:01:00"),
    ("2000-01-01 12:00:00", "40 14/1 * * *", "2000-01-01 14:40:00"),
    ("2000-01-01 14:40:00", "40 14/1 * * *", "2000-01-01 15:40:00"),
]

# (name, expression, start in Pacific wall time, expected occurrences as "wall time offset"): the WebJobs suites.
WEBJOBS_DST = [
    ("Interval_IntoDST", "0 30 * * * *", "2018-03-11 00:00:00",
     ["2018-03-11 00:30 -08", "2018-03-11 01:30 -08", "2018-03-11 03:30 -07", "2018-03-11 04:30 -07",
      "2018-03-11 05:30 -07"]),
    ("PointInTime_IntoDST", "0 30 1 * * *", "2018-03-10 00:00:00",
     ["2018-03-10 01:30 -08", "2018-03-11 01:30 -08", "2018-03-12 01:30 -07", "2018-03-13 01:30 -07",
      "2018-03-14 01:30 -07"]),
    ("PointInTime_WithinAmbiguousHour", "0 */20 * * * *", "2018-11-04 00:30:00",
     ["2018-11-04 00:40 -07", "2018-11-04 01:00 -07", "2018-11-04 01:20 -07", "2018-11-04 01:40 -07",
      "2018-11-04 01:00 -08", "2018-11-04 01:20 -08", "2018-11-04 01:40 -08", "2018-11-04 02:00 -08",
      "2018-11-04 02:20 -08"]),
    ("Interval_OutOfDST", "0 30 * * * *", "2018-11-04 00:00:00",
     ["2018-11-04 00:30 -07", "2018-11-04 01:30 -07", "2018-11-04 01:30 -08", "2018-11-04 02:30 -08",
      "2018-11-04 03:30 -08"]),
    ("PointInTime_OutOfDST", "0 30 1 * * *", "2018-11-03 00:00:00",
     ["2018-11-03 01:30 -07", "2018-11-04 01:30 -07", "2018-11-05 01:30 -08", "2018-11-06 01:30 -08",
      "2018-11-07 01:30 -08"]),
    ("ThreeDaySchedule_MultipleScheduleIterations", "0 59 11 * * 1-5", "2015-05-23 09:00:00",
     ["2015-05-25 11:59 -07", "2015-05-26 11:59 -07", "2015-05-27 11:59 -07", "2015-05-28 11:59 -07",
      "2015-05-29 11:59 -07"]),
]

# (name, expression, start in Pacific wall time, hours until the next occurrence): TimerListenerTests.
WEBJOBS_INTERVALS = [
    ("GetNextInterval_NextAfterDST", "0 0 18 * * 5", "2018-03-09 18:00:00", 167),
    ("GetNextInterval_NextWithinDST", "0 59 * * * *", "2018-03-11 01:59:00", 1),
]

# CronScheduleTests.IsInterval_ReturnsExpectedValue: which schedules fire in both copies of a repeated hour.
WEBJOBS_IS_INTERVAL = [
    ("0 * * * * *", True), ("0 0 * * * *", True), ("0 0-15 * * * *", True), ("0 0 * * * 0", True),
    ("0 0 1-3 * * 0", True), ("0 0 0 * * *", False), ("0 0 0 1 * *", False), ("0 0 0 1 1 *", False),
    ("0 0 0 * * 1", False), ("* * * * *", True), ("0 * * * *", True), ("0-15 * * * *", True), ("0 * * * 0", True),
    ("0 1-3 * * 0", True), ("0 0 * * *", False), ("0 0 1 * *", False), ("0 0 1 1 *", False), ("0 0 * * 1", False),
]

SECOND_RULE = ("the timer ticks once a minute, so a schedule cannot fire more than once per minute")
# Cases of those suites the bridge refuses on purpose, with its message: its timer ticks once a minute.
DEVIATIONS = [
    ("* * * * * *", f"cron field second must be a single value such as 0 (got '*'): {SECOND_RULE}"),
    ("45-47,48,49 * * * * *", f"cron field second must be a single value such as 0 (got '45-47,48,49'): "
                              f"{SECOND_RULE}"),
    ("2/5 * * * * *", f"cron field second must be a single value such as 0 (got '2/5'): {SECOND_RULE}"),
    ("* 0-1 10 * * *", f"cron field second must be a single value such as 0 (got '*'): {SECOND_RULE}"),
    ("* 55 * * * *", f"cron field second must be a single value such as 0 (got '*'): {SECOND_RULE}"),
]


def schedule(expression: str, zone: str = "UTC") -> CronSchedule:
    parsed, problems = parse_cron(expression, zone)
    assert problems == [], problems
    assert parsed is not None
    return parsed


def wall(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def with_offset(text: str) -> datetime:
    """"2018-11-04 01:30 -08" -> that instant."""
    moment, offset = text.rsplit(" ", 1)
    return datetime.fromisoformat(f"{moment}{offset}:00")


@pytest.mark.parametrize(("start", "expression", "expected"), NCRONTAB_EVALUATIONS,
                         ids=[f"{c[1].strip()}@{c[0]}" for c in NCRONTAB_EVALUATIONS])
def test_ncrontab_evaluations(start: str, expression: str, expected: str) -> None:
    [next_slot] = islice(slots_after(schedule(expression), wall(start, "UTC"), wall(start, "UTC")), 1)
    assert next_slot == wall(expected, "UTC")


@pytest.mark.parametrize(("expression", "start", "expected"), [c[1:] for c in WEBJOBS_DST],
                         ids=[c[0] for c in WEBJOBS_DST])
def test_webjobs_timer_dst_cases(expression: str, start: str, expected: list[str]) -> None:
    after = wall(start, PACIFIC)
    slots = list(islice(slots_after(schedule(expression, PACIFIC), after, after), len(expected)))
    assert slots == [with_offset(text) for text in expected]
    assert [slot.astimezone(ZoneInfo(PACIFIC)).utcoffset() for slot in slots] == [
        with_offset(text).utcoffset() for text in expected]


@pytest.mark.parametrize(("expression", "start", "hours"), [c[1:] for c in WEBJOBS_INTERVALS],
                         ids=[c[0] for c in WEBJOBS_INTERVALS])
def test_webjobs_timer_listener_intervals(expression: str, start: str, hours: int) -> None:
    after = wall(start, PACIFIC)
    [next_slot] = islice(slots_after(schedule(expression, PACIFIC), after, after), 1)
    assert next_slot - after == timedelta(hours=hours)


@pytest.mark.parametrize(("expression", "expected"), WEBJOBS_IS_INTERVAL, ids=[c[0] for c in WEBJOBS_IS_INTERVAL])
def test_webjobs_is_interval(expression: str, expected: bool) -> None:
    assert schedule(expression).is_interval is expected


@pytest.mark.parametrize(("expression", "problem"), DEVIATIONS, ids=[c[0] for c in DEVIATIONS])
def test_documented_deviations_are_refused_with_the_reason(expression: str, problem: str) -> None:
    assert parse_cron(expression) == (None, [problem])
