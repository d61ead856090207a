"""Azure ML SDK v1 `ScheduleRecurrence` semantics as pure slot arithmetic.

A timer that ticks once a minute asks "which slot is due now?" and "how many slots did an outage
skip?"; answering from arithmetic (not from remembered state) keeps every instance of the app in
agreement and makes catching up after downtime cheap. All public functions take and return aware
UTC datetimes; wall-clock rules live in the recurrence's IANA time zone.

DST rules (shared with `shared.ncrontab` through `wall_instants`):
- a wall-clock time that does not exist (spring forward) is shifted forward by the length of the gap,
  e.g. 02:30 Europe/Berlin on the last Sunday of March fires at 03:30 CEST (01:30Z). This is
  RFC 5545's rule, what `zoneinfo` does for fold=0 and what the Functions timer does;
- an ambiguous wall-clock time (fall back) fires once, at its first occurrence (fold=0), unless the
  schedule repeats it (`both_folds`: NCRONTAB interval schedules fire in both copies of the hour);
- Day/Week/Month keep the wall-clock time across DST (09:00 Berlin is 08:00Z in winter, 07:00Z in
  summer); Minute/Hour are absolute durations from the start.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .time_zones import parse_time_zone
from .validation import json_type

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RECURRENCE_FIELDS = frozenset(
    {"frequency", "interval", "start_time", "time_zone", "hours", "minutes", "week_days", "time_of_day"}
)
START_YEARS = (1970, 2999)
_FREQUENCY_HINTS = {
    "minutely": "Minute", "hourly": "Hour", "daily": "Day", "weekly": "Week", "monthly": "Month"
}
_START_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_HH_MM = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DAY = timedelta(days=1)
_FIRST_DAY = date(1, 1, 3)
_LAST_DAY = date(9999, 12, 29)

_CALENDAR_DAYS = (_LAST_DAY - _FIRST_DAY).days
# The SDK accepts any interval >= 1; beyond the calendar's span (years 1-9999) a second slot cannot exist.
MAX_INTERVAL = {"Minute": _CALENDAR_DAYS * 1440, "Hour": _CALENDAR_DAYS * 24, "Day": _CALENDAR_DAYS,
                "Week": _CALENDAR_DAYS // 7, "Month": _CALENDAR_DAYS // 28}

DayTimes = Callable[[date], Sequence[time]]
"""The local wall-clock times a schedule fires on one local day (empty when the day is off)."""
NearestDay = Callable[[date, int], date | None]
"""The nearest local day at or after (`+1`) or at or before (`-1`) a day that may have times; None if none."""


def _every_day(day: date, direction: int) -> date | None:
    return day


@dataclass(frozen=True)
class Recurrence:
    """A validated recurrence; build it with `parse_recurrence` so the invariants hold."""

    frequency: str
    interval: int = 1
    start_time: datetime | None = None
    time_zone: str = "UTC"
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    week_days: tuple[str, ...] = ()
    time_of_day: str | None = None


# --- shared wall-clock engine (also used by shared.ncrontab) --------------------------------------


def wall_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """One local wall-clock time as UTC: gaps shift forward by the gap, ambiguous times take fold=0."""
    return datetime.combine(day, at.replace(fold=0), tzinfo=zone).astimezone(UTC)


def wall_instants(day: date, at: time, zone: ZoneInfo, both_folds: bool) -> tuple[datetime, ...]:
    """A wall-clock time's instants: the first (fold=0) only, or with `both_folds` also the second copy of an
    ambiguous time (a gap time has one instant either way)."""
    first = wall_to_utc(day, at, zone)
    if not both_folds:
        return (first,)
    local = datetime.combine(day, at.replace(fold=1), tzinfo=zone)
    second = local.astimezone(UTC)
    repeated = second != first and second.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None)
    return (first, second) if repeated else (first,)


def require_utc(value: datetime, name: str) -> datetime:
    """Normalise an aware datetime to UTC; a naive one is a caller bug that would silently shift slots."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (got {value!r})")
    return value.astimezone(UTC)


def _clamped(day: date, days: int) -> date:
    """`day` moved by `days`, kept inside the range where UTC conversion cannot overflow."""
    ordinal = day.toordinal() + days
    return date.fromordinal(min(max(ordinal, _FIRST_DAY.toordinal()), _LAST_DAY.toordinal()))


def _midnight_utc(day: date) -> datetime:
    """A local day's naive midnight read as UTC: its instants lie within 24h of it (offsets < 24h)."""
    return datetime.combine(day, time(), tzinfo=UTC)


def wall_clock_slots_after(
    day_times: DayTimes, zone: ZoneInfo, after: datetime, first_day: date, *, both_folds: bool = False,
    nearest_day: NearestDay = _every_day,
) -> Iterator[datetime]:
    """Ascending instants strictly after `after` of a schedule given by its per-day wall-clock times.

    Instants are buffered until no later local day can produce an earlier one, so the output stays
    sorted even when a DST gap pushes a time past its neighbours; duplicates are dropped. `nearest_day`
    skips days that cannot fire (a long interval then costs no more than a short one).
    """
    pending: list[datetime] = []
    last = after
    start = max(first_day, _clamped(after.date(), -2))
    day = nearest_day(start, 1)
    while True:
        finished = day is None or day > _LAST_DAY
        if not finished:
            for at in day_times(day):
                pending.extend(i for i in wall_instants(day, at, zone, both_folds) if i > after)
            heapq.heapify(pending)
        watermark = None if finished else _midnight_utc(day)  # every instant of a later local day is > this
        while pending and (watermark is None or pending[0] <= watermark):
            instant = heapq.heappop(pending)
            if instant > last:
                last = instant
                yield instant
        if finished:
            return
        day = nearest_day(day + _DAY, 1)


def wall_clock_latest(
    day_times: DayTimes, zone: ZoneInfo, at_or_before: datetime, first_day: date, max_days: int, *,
    both_folds: bool = False, nearest_day: NearestDay = _every_day,
) -> datetime | None:
    """The latest instant <= `at_or_before`, scanning local days backwards (at most `max_days`)."""
    day: date | None = _clamped(at_or_before.date(), 1)
    stop = max(first_day, _clamped(day, -max_days))
    best: datetime | None = None
    while day is not None and (day := nearest_day(day, -1)) is not None and day >= stop:
        for at in day_times(day):
            for instant in wall_instants(day, at, zone, both_folds):
                if instant <= at_or_before and (best is None or instant > best):
                    best = instant
        if best is not None and best >= _midnight_utc(day) + _DAY:
            return best  # earlier local days only give instants before this day's midnight + 24h
        day = day - _DAY if day > date.min else None
    return best


def count_before(slots: Iterable[datetime], until: datetime, cap: int) -> int:
    """How many of the ascending `slots` come before `until`, stopping at `cap`."""
    count = 0
    for slot in slots:
        if slot >= until or count >= cap:
            break
        count += 1
    return count


# --- slot maths ------------------------------------------------------------------------------------


def slots_after(rec: Recurrence, after: datetime, anchor: datetime) -> Iterator[datetime]:
    """Ascending slots strictly after `after` (lazy, infinite).

    `anchor` (when the trigger was first seen) stands in for a missing start_time. Month slots fall
    on the start's day-of-month; months without that day (e.g. the 31st in April) are skipped.
    """
    after = require_utc(after, "after")
    anchor = require_utc(anchor, "anchor")
    if rec.frequency in ("Minute", "Hour"):
        return _fixed_slots_after(_start_utc(rec, anchor), _step(rec), after)
    start = _start_wall(rec, anchor)
    return wall_clock_slots_after(_day_times(rec, start), ZoneInfo(rec.time_zone), after, start.date(),
                                  nearest_day=_nearest_day(rec, start.date()))


def latest_slot(rec: Recurrence, at_or_before: datetime, anchor: datetime) -> datetime | None:
    """The most recent slot <= `at_or_before`, or None before the first slot.

    O(1) for Minute/Hour; Day/Week/Month scan local days backwards to the latest slot.
    """
    moment = require_utc(at_or_before, "at_or_before")
    anchor = require_utc(anchor, "anchor")
    if rec.frequency in ("Minute", "Hour"):
        first = _start_utc(rec, anchor)
        return None if moment < first else first + _step(rec) * ((moment - first) // _step(rec))
    start = _start_wall(rec, anchor)
    max_days = (moment.date() - start.date()).days + 2
    return wall_clock_latest(_day_times(rec, start), ZoneInfo(rec.time_zone), moment, start.date(), max_days,
                             nearest_day=_nearest_day(rec, start.date()))


def count_slots(
    rec: Recurrence, after: datetime, until: datetime, anchor: datetime, cap: int = 100_000
) -> int:
    """Slots strictly between `after` and `until` (for "N missed slots skipped"), at most `cap`."""
    after = require_utc(after, "after")
    until = require_utc(until, "until")
    anchor = require_utc(anchor, "anchor")
    if rec.frequency in ("Minute", "Hour"):
        return min(cap, _fixed_count(_start_utc(rec, anchor), _step(rec), after, until))
    return count_before(slots_after(rec, after, anchor), until, cap)


def _step(rec: Recurrence) -> timedelta:
    unit = timedelta(minutes=1) if rec.frequency == "Minute" else timedelta(hours=1)
    return unit * rec.interval


def _start_utc(rec: Recurrence, anchor: datetime) -> datetime:
    """Where Minute/Hour slots count from: the localised start_time, else the anchor itself."""
    if rec.start_time is None:
        return anchor
    return wall_to_utc(rec.start_time.date(), rec.start_time.time(), ZoneInfo(rec.time_zone))


def _start_wall(rec: Recurrence, anchor: datetime) -> datetime:
    """Where Day/Week/Month count from, as local wall clock: start_time, else the anchor's."""
    if rec.start_time is not None:
        return rec.start_time
    anchor = min(max(anchor, _midnight_utc(_FIRST_DAY)), _midnight_utc(_LAST_DAY))  # no overflow at the extremes
    return anchor.astimezone(ZoneInfo(rec.time_zone)).replace(tzinfo=None, fold=0)


def _fixed_slots_after(first: datetime, step: timedelta, after: datetime) -> Iterator[datetime]:
    index = 0 if after < first else (after - first) // step + 1
    try:
        while True:
            yield first + step * index
            index += 1
    except OverflowError:
        return


def _fixed_count(first: datetime, step: timedelta, after: datetime, until: datetime) -> int:
    """Count k >= 0 with after < first + k*step < until, without iterating."""
    low = 0 if after < first else (after - first) // step + 1
    high = -1 if until <= first else -((first - until) // step) - 1
    return max(0, high - low + 1)


def _times_of_day(rec: Recurrence, start: datetime) -> tuple[time, ...]:
    """hours x minutes (a missing half taken from the start), time_of_day, or the start's clock."""
    if rec.time_of_day is not None:
        hour, minute = _split_hh_mm(rec.time_of_day)
        return (time(hour, minute),)
    if rec.hours or rec.minutes:
        hours = rec.hours or (start.hour,)
        minutes = rec.minutes or (start.minute,)
        return tuple(sorted({time(hour, minute) for hour in hours for minute in minutes}))
    return (start.time(),)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _day_matches(rec: Recurrence, start: date, day: date) -> bool:
    """Whether local `day` is one of the recurrence's days (never before the start date)."""
    if day < start:
        return False
    if rec.frequency == "Day":
        return (day - start).days % rec.interval == 0
    if rec.frequency == "Week":
        weeks = (_monday(day) - _monday(start)).days // 7
        days = rec.week_days or (WEEK_DAYS[start.weekday()],)
        return weeks % rec.interval == 0 and WEEK_DAYS[day.weekday()] in days
    months = (day.year - start.year) * 12 + day.month - start.month
    return months % rec.interval == 0 and day.day == start.day


def _period_start(rec: Recurrence, start: date, index: int) -> date | None:
    """The first day of the `index`-th Day/Week/Month period counted from the start's; None past the calendar."""
    try:
        if rec.frequency == "Day":
            return start + timedelta(days=index)
        if rec.frequency == "Week":
            return _monday(start) + timedelta(weeks=index)
        months = start.year * 12 + start.month - 1 + index
        return date(months // 12, months % 12 + 1, 1)
    except (OverflowError, ValueError):
        return None


def _period_index(rec: Recurrence, start: date, day: date) -> int:
    if rec.frequency == "Day":
        return (day - start).days
    if rec.frequency == "Week":
        return (_monday(day) - _monday(start)).days // 7
    return (day.year - start.year) * 12 + day.month - start.month


def _nearest_day(rec: Recurrence, start: date) -> NearestDay:
    """Jumps over the periods an interval skips, so an interval of years costs no more than one of days."""
    def nearest(day: date, direction: int) -> date | None:
        index = _period_index(rec, start, day)
        if index % rec.interval == 0:
            return day  # inside a period that fires: its days are checked one by one (at most 31)
        if direction > 0:
            return _period_start(rec, start, (index // rec.interval + 1) * rec.interval)
        following = _period_start(rec, start, (index // rec.interval) * rec.interval + 1)
        return None if following is None else following - _DAY  # the last day of the firing period before

    return nearest


def _day_times(rec: Recurrence, start: datetime) -> DayTimes:
    """Per-day wall-clock times; on the start day, times before the start do not exist."""
    times = _times_of_day(rec, start)
    first_day_times = tuple(at for at in times if at >= start.time())

    def day_times(day: date) -> Sequence[time]:
        if not _day_matches(rec, start.date(), day):
            return ()
        return first_day_times if day == start.date() else times

    return day_times


# --- description -----------------------------------------------------------------------------------


def describe(rec: Recurrence) -> str:
    """One line for logs and listings, e.g. "every 2 Day at 06:00,18:00 Europe/Berlin from ..."."""
    parts = [f"every {rec.interval} {rec.frequency}"]
    start = rec.start_time
    if rec.frequency == "Week":
        default_day = start.strftime("%A") if start else "the first-seen weekday"
        parts.append("on " + (",".join(rec.week_days) or default_day))
    if rec.frequency == "Month":
        parts.append(f"on day {start.day}" if start else "on the first-seen day")
    if rec.frequency in ("Day", "Week", "Month"):
        parts.append("at " + _times_text(rec))
    parts.append(rec.time_zone)
    parts.append(f"from {start.isoformat() if start else 'when first seen'}")
    return " ".join(parts)


def _clock(at: time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def _times_text(rec: Recurrence) -> str:
    """The firing times, or which parts come from the first-seen moment when there is no start."""
    needs_start = rec.time_of_day is None and not (rec.hours and rec.minutes)
    if needs_start and rec.start_time is None:
        if not (rec.hours or rec.minutes):
            return "the first-seen time"
        hours = ",".join(map(str, rec.hours)) or "of first run"
        minutes = ",".join(map(str, rec.minutes)) or "of first run"
        return f"hour {hours} minute {minutes}"
    times = _times_of_day(rec, rec.start_time or datetime(2000, 1, 1))
    if len(times) > 8:
        return f"minute {','.join(map(str, rec.minutes))} of hour {','.join(map(str, rec.hours))}"
    return ",".join(_clock(at) for at in times)


# --- validation ------------------------------------------------------------------------------------


def parse_recurrence(raw: object) -> tuple[Recurrence | None, list[str]]:
    """Validate a user's JSON recurrence, reporting every problem at once (never raises)."""
    if not isinstance(raw, Mapping):
        return None, [f"recurrence must be a JSON object with at least 'frequency' (got {json_type(raw)})"]
    problems = [f"recurrence.{key} is not a recognised field" for key in raw if key not in RECURRENCE_FIELDS]
    frequency = _parse_frequency(raw, problems)
    interval = _parse_interval(raw.get("interval"), frequency, problems)
    start_time = _parse_start_time(raw.get("start_time"), problems)
    time_zone = parse_time_zone(raw.get("time_zone"), "recurrence.time_zone", problems)
    hours = _parse_numbers(raw.get("hours"), "hours", 23, problems)
    minutes = _parse_numbers(raw.get("minutes"), "minutes", 59, problems)
    week_days = _parse_week_days(raw.get("week_days"), problems)
    time_of_day = _parse_time_of_day(raw.get("time_of_day"), problems)
    _check_combinations(raw, frequency, problems)
    if problems or frequency is None:
        return None, problems
    return Recurrence(
        frequency, interval, start_time, time_zone, hours, minutes, week_days, time_of_day
    ), []


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _given(value: object) -> bool:
    """JSON null and an empty list both mean "not set" (UIs send either for an empty field)."""
    return value is not None and value != [] and value != ()


def _parse_frequency(raw: Mapping[object, object], problems: list[str]) -> str | None:
    value = raw.get("frequency")
    if value is None:
        problems.append(f"recurrence.frequency is required (one of {', '.join(FREQUENCIES)})")
        return None
    if value in FREQUENCIES:
        return str(value)
    hint = ""
    if isinstance(value, str):
        guess = _FREQUENCY_HINTS.get(value.lower()) or value.capitalize()
        hint = f"; did you mean {guess!r}?" if guess in FREQUENCIES else ""
    choices = ", ".join(FREQUENCIES)
    problems.append(f"recurrence.frequency must be one of {choices} (got {_show(value)}){hint}")
    return None


def _parse_interval(value: object, frequency: str | None, problems: list[str]) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"recurrence.interval must be an integer >= 1 (got {_show(value)})")
        return 1
    limit = MAX_INTERVAL.get(frequency or "")
    if limit is not None and value > limit:
        problems.append(f"recurrence.interval must be at most {limit} for frequency {frequency}: a longer interval "
                        "never reaches a second slot within the calendar (years 1-9999)")
    return value


def _parse_start_time(value: object, problems: list[str]) -> datetime | None:
    if value is None:
        return None
    expected = "recurrence.start_time must be a naive datetime 'YYYY-MM-DDThh:mm:ss'"
    if not isinstance(value, str) or not _START_FORMAT.fullmatch(value):
        problems.append(f"{expected} (got {_show(value)}){_offset_hint(value)}")
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        problems.append(f"{expected} (got {_show(value)}): that date or time does not exist")
        return None
    if not START_YEARS[0] <= parsed.year <= START_YEARS[1]:
        problems.append(f"recurrence.start_time must be in the years {START_YEARS[0]}-{START_YEARS[1]}"
                        f" (got {_show(value)})")
        return None
    return parsed


def _offset_hint(value: object) -> str:
    """Explain why an ISO string with an offset is refused: the zone belongs in time_zone."""
    if not isinstance(value, str):
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if parsed.tzinfo is None:
        return ""
    return (": it carries a UTC offset; give the local wall-clock time without 'Z' or '+hh:mm'"
            " and set recurrence.time_zone instead")


def _parse_numbers(value: object, name: str, highest: int, problems: list[str]) -> tuple[int, ...]:
    if not _given(value):
        return ()
    if not isinstance(value, list | tuple):
        problems.append(f"recurrence.{name} must be a list of whole numbers 0-{highest} (got {_show(value)})")
        return ()
    found: set[int] = set()
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= highest:
            problems.append(
                f"recurrence.{name}[{index}] must be a whole number 0-{highest} (got {_show(item)})"
            )
        else:
            found.add(item)
    return tuple(sorted(found))


def _parse_week_days(value: object, problems: list[str]) -> tuple[str, ...]:
    if not _given(value):
        return ()
    if not isinstance(value, list | tuple):
        problems.append(f'recurrence.week_days must be a list of day names such as ["Monday", "Friday"]'
                        f" (got {_show(value)})")
        return ()
    found: set[str] = set()
    for item in value:
        if item in WEEK_DAYS:
            found.add(str(item))
        else:
            problems.append(f"recurrence.week_days has unknown day {_show(item)} (use Monday..Sunday)")
    return tuple(day for day in WEEK_DAYS if day in found)


def _split_hh_mm(value: str) -> tuple[int, int]:
    match = _HH_MM.fullmatch(value)
    if match is None:
        raise ValueError(value)
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(value)
    return hour, minute


def _parse_time_of_day(value: object, problems: list[str]) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        hour, minute = _split_hh_mm(value)
    except ValueError:
        problems.append(f"recurrence.time_of_day must be 'hh:mm' on a 24-hour clock (got {_show(value)})")
        return None
    return f"{hour:02d}:{minute:02d}"


def _check_combinations(raw: Mapping[object, object], frequency: str | None, problems: list[str]) -> None:
    """Field combinations Azure ML refuses, reported only once the frequency itself is valid."""
    if frequency is None:
        return
    for name in ("hours", "minutes", "time_of_day"):
        if _given(raw.get(name)) and frequency not in ("Day", "Week"):
            problems.append(f"recurrence.{name} is only allowed with frequency Day or Week")
    if _given(raw.get("week_days")) and frequency != "Week":
        problems.append("recurrence.week_days is only allowed with frequency Week")
    if _given(raw.get("time_of_day")) and (_given(raw.get("hours")) or _given(raw.get("minutes"))):
        problems.append("recurrence.time_of_day cannot be combined with hours/minutes")
