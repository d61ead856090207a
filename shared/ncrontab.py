"""NCRONTAB schedules as the Azure Functions timer fires them, as pure slot arithmetic.

`{second} {minute} {hour} {day} {month} {day-of-week}`, or five fields without the second (the host
parses six fields only when there are not exactly five; the second is then 0), with `*`, `a`, `a-b`,
`*/n`, `a-b/n`, `a/n` (= a to the field's maximum, step n) and comma lists; months Jan..Dec and days Sun..Sat by name
(case-insensitive; like NCrontab, any prefix of at least three letters of the full name also works,
e.g. `Thurs`, `Sept`). Day-of-week is 0-6 with 0 = Sunday; 7 is rejected as NCrontab does
(`CrontabFieldImpl.DayOfWeek` has range 0-6).

Day-of-month and day-of-week are combined with AND, unlike Vixie cron's OR: NCrontab's
`CrontabSchedule.TryGetNextOccurrence` first finds the next day/month/time match and then returns it
only if `_daysOfWeek.Contains(...)`, otherwise it retries from the end of that day; its tests expect
`45 16 1 * Mon` after 2003-01-01 to fire on 2003-09-01, the next 1st that is a Monday
(github.com/atifaziz/NCrontab, NCrontab/CrontabSchedule.cs and NCrontab.Tests/CrontabScheduleTests.cs).

Deliberate differences from NCrontab, all rejected with a message instead of guessed at: the second
field must be one value (our timer ticks once a minute), reversed ranges (`5-2`, which NCrontab swaps
silently), step 0 (which NCrontab treats as 1) and expressions that can never fire (`0 0 0 31 Feb *`).
Times are wall clock in `time_zone`, with the timer's DST rule (docs/services.md, "Schedules"): a time
inside a spring-forward gap fires after the gap; at fall-back an *interval* schedule (the second, minute
or hour field, as NCrontab normalises it, is `*` or holds two consecutive values: `0 */20 * * * *`,
`0 30 * * * *`, `0 0-15 9 * * *`) fires in both copies of the repeated hour, a point-in-time one
(`0 30 1 * * *`) once, in the first copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from .recurrence import (
    count_before,
    require_utc,
    wall_clock_latest,
    wall_clock_slots_after,
)
from .time_zones import parse_time_zone
from .validation import json_type

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
FIELD_LAYOUT = "{second} {minute} {hour} {day} {month} {day-of-week}"
LOOKBACK_DAYS = 5 * 366
"""`latest_slot` looks back this far (about five years) and reports None beyond it."""
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 29: Feb 29 exists in leap years
_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


SECOND, MINUTE, HOUR = _Field("second", 0, 59), _Field("minute", 0, 59), _Field("hour", 0, 23)
DAY, MONTH = _Field("day", 1, 31), _Field("month", 1, 12, MONTH_NAMES)
DAY_OF_WEEK = _Field("day-of-week", 0, 6, DAY_NAMES)


@dataclass(frozen=True)
class CronSchedule:
    """A validated NCRONTAB schedule; values are sorted, day_of_week uses 0 = Sunday."""

    expression: str
    second: int
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]
    time_zone: str = "UTC"
    is_interval: bool = False  # fires in both copies of a repeated (fall-back) hour


# --- parsing ---------------------------------------------------------------------------------------


def parse_cron(expr: object, time_zone: object = "UTC") -> tuple[CronSchedule | None, list[str]]:
    """Validate an NCRONTAB expression and its zone, reporting every problem at once (never raises)."""
    problems: list[str] = []
    zone = parse_time_zone(time_zone, "cron time_zone", problems)
    if not isinstance(expr, str):
        problems.insert(0, f"cron must be a string like '0 */5 * * * *' (got {json_type(expr)})")
        return None, problems
    tokens = expr.split()
    if len(tokens) not in (5, 6):
        problems.insert(0, f"cron must have 6 fields {FIELD_LAYOUT} or 5 without the second (got {len(tokens)})")
        return None, problems
    second = 0 if len(tokens) == 5 else _parse_second(tokens[0], problems)
    fields = (MINUTE, HOUR, DAY, MONTH, DAY_OF_WEEK)
    minutes, hours, days, months, weekdays = (
        _parse_field(field, token, problems) for field, token in zip(fields, tokens[-5:], strict=True)
    )
    if days and months and not _can_fire(days, months):
        problems.append(f"cron never fires: day {_format(days, DAY)} does not occur in month "
                        f"{_format(months, MONTH)}")
    if problems or second is None:
        return None, list(dict.fromkeys(problems))
    interval = _interval_field(minutes, MINUTE) or _interval_field(hours, HOUR)
    return CronSchedule(" ".join(tokens), second, minutes, hours, days, months, weekdays, zone, interval), []


def _interval_field(values: Sequence[int], field: _Field) -> bool:
    """The WebJobs timer's test, made on NCrontab's normalised text (`*/20` -> `0,20,40`): `*` or a range `a-b`."""
    return len(values) == field.high - field.low + 1 or any(b - a == 1 for a, b in pairwise(values))


def _parse_second(token: str, problems: list[str]) -> int | None:
    """A single second: the timer ticks once a minute, so more than one firing a minute is unservable."""
    if not _NUMBER.fullmatch(token):
        problems.append(f"cron field second must be a single value such as 0 (got {token!r}): the timer "
                        "ticks once a minute, so a schedule cannot fire more than once per minute")
        return None
    value = int(token)
    if value > SECOND.high:
        problems.append(f"cron field second: {value} is out of range 0-59")
        return None
    return value


def _parse_field(field: _Field, token: str, problems: list[str]) -> tuple[int, ...]:
    """All values of one field; problems are appended and the field comes back empty."""
    values: set[int] = set()
    before = len(problems)
    for item in token.split(","):
        values.update(_parse_item(field, item, problems))
    return () if len(problems) > before else tuple(sorted(values))


def _parse_item(field: _Field, item: str, problems: list[str]) -> range:
    label = f"cron field {field.name}"
    if not item:
        problems.append(f"{label}: empty value in a comma list")
        return range(0)
    base, slash, step_text = item.partition("/")
    step = int(step_text) if _NUMBER.fullmatch(step_text) else 0
    if slash and step < 1:
        problems.append(f"{label}: step {step_text!r} must be a whole number >= 1")
        return range(0)
    if base == "*":
        return range(field.low, field.high + 1, step or 1)
    first_text, dash, last_text = base.partition("-")
    first = _parse_value(field, first_text, item, problems)
    last = _parse_value(field, last_text, item, problems) if dash else (field.high if slash else first)
    if first is None or last is None:
        return range(0)
    if first > last:
        problems.append(f"{label}: range {base!r} is reversed; write it low-high")
        return range(0)
    return range(first, last + 1, step or 1)


def _parse_value(field: _Field, text: str, item: str, problems: list[str]) -> int | None:
    label = f"cron field {field.name}"
    if not text:
        problems.append(f"{label}: {item!r} is missing a value")
        return None
    if _NUMBER.fullmatch(text):
        value = int(text)
        if field.low <= value <= field.high:
            return value
        note = " (0 = Sunday; NCrontab does not accept 7)" if field is DAY_OF_WEEK else ""
        problems.append(f"{label}: {value} is out of range {field.low}-{field.high}{note}")
        return None
    if len(text) >= 3:
        for index, name in enumerate(field.names):
            if name.lower().startswith(text.lower()):
                return field.low + index
    if field.names:
        examples = f"{field.names[0][:3]}..{field.names[-1][:3]}"
        problems.append(f"{label}: {text!r} is not a number {field.low}-{field.high} or a name {examples}")
    else:
        problems.append(f"{label}: {text!r} is not a number {field.low}-{field.high}")
    return None


def _can_fire(days: Sequence[int], months: Sequence[int]) -> bool:
    """Some chosen day exists in some chosen month; every such date meets every weekday eventually."""
    return any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months)


# --- slot maths ------------------------------------------------------------------------------------


def slots_after(sched: CronSchedule, after: datetime, anchor: datetime) -> Iterator[datetime]:
    """Ascending slots strictly after `after` (lazy, infinite); `anchor` is unused (uniform signature)."""
    after = require_utc(after, "after")
    require_utc(anchor, "anchor")
    return wall_clock_slots_after(_day_times(sched), ZoneInfo(sched.time_zone), after, date.min,
                                  both_folds=sched.is_interval)


def latest_slot(sched: CronSchedule, at_or_before: datetime, anchor: datetime) -> datetime | None:
    """The most recent slot <= `at_or_before`, or None if there was none in the last ~5 years.

    Scans local days backwards (a cheap membership test each), so a yearly cron costs ~365 checks.
    """
    moment = require_utc(at_or_before, "at_or_before")
    require_utc(anchor, "anchor")
    return wall_clock_latest(_day_times(sched), ZoneInfo(sched.time_zone), moment, date.min, LOOKBACK_DAYS,
                             both_folds=sched.is_interval)


def count_slots(
    sched: CronSchedule, after: datetime, until: datetime, anchor: datetime, cap: int = 100_000
) -> int:
    """Slots strictly between `after` and `until` (for "N missed slots skipped"), at most `cap`."""
    until = require_utc(until, "until")
    return count_before(slots_after(sched, after, anchor), until, cap)


def _day_matches(sched: CronSchedule, day: date) -> bool:
    """Day-of-month AND month AND day-of-week, as NCrontab combines them."""
    weekday = (day.weekday() + 1) % 7  # Python's Monday=0 to cron's Sunday=0
    return day.day in sched.days and day.month in sched.months and weekday in sched.days_of_week


@lru_cache(maxsize=256)
def _times(hours: tuple[int, ...], minutes: tuple[int, ...], second: int) -> tuple[time, ...]:
    return tuple(time(hour, minute, second) for hour in hours for minute in minutes)


def _day_times(sched: CronSchedule) -> _DayTimes:
    return _DayTimes(sched, _times(sched.hours, sched.minutes, sched.second))


@dataclass(frozen=True)
class _DayTimes:
    """The schedule's wall-clock times on matching days (same for every matching day)."""

    sched: CronSchedule
    times: tuple[time, ...]

    def __call__(self, day: date) -> Sequence[time]:
        return self.times if _day_matches(self.sched, day) else ()


# --- description -----------------------------------------------------------------------------------


def describe(sched: CronSchedule) -> str:
    """One line for logs and listings, e.g. "at 09:30 on Mon-Fri Europe/Berlin (cron '0 30 9 * * 1-5')"."""
    return f"at {_times_text(sched)} on {_days_text(sched)} {sched.time_zone} (cron '{sched.expression}')"


def _times_text(sched: CronSchedule) -> str:
    times = _times(sched.hours, sched.minutes, sched.second)
    if len(times) <= 6:
        return ",".join(at.strftime("%H:%M:%S" if sched.second else "%H:%M") for at in times)
    seconds = f" second {sched.second}" if sched.second else ""
    return f"minute {_format(sched.minutes, MINUTE)} of hour {_format(sched.hours, HOUR)}{seconds}"


def _days_text(sched: CronSchedule) -> str:
    parts = []
    if len(sched.days) < 31:
        parts.append(f"day {_format(sched.days, DAY)}")
    if len(sched.days_of_week) < 7:
        parts.append(_format(sched.days_of_week, DAY_OF_WEEK))
    text = " if ".join(parts) or "every day"
    if len(sched.months) < 12:
        text += f" in {_format(sched.months, MONTH)}"
    return text


def _format(values: Sequence[int], field: _Field) -> str:
    """Compact field text: `*`, `*/5`, or runs such as `1-5,7` (names for months and weekdays)."""
    if len(values) == field.high - field.low + 1:
        return "*"
    step = values[1] - values[0] if len(values) > 2 else 0
    regular = step > 1 and all(b - a == step for a, b in pairwise(values))
    if regular and values[0] == field.low and values[-1] + step > field.high:
        return f"*/{step}"
    runs: list[str] = []
    start = previous = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(_name(start, field) + (f"-{_name(previous, field)}" if previous > start else ""))
        if value is not None:
            start = previous = value
    return ",".join(runs)


def _name(value: int, field: _Field) -> str:
    return field.names[value - field.low][:3] if field.names else str(value)
