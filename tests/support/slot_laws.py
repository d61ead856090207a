"""The laws every schedule form obeys, checked through `shared.schedules` so recurrence and cron tests share
one statement of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise, takewhile

from shared.config import Schedule
from shared.schedules import count_slots, latest_slot, slots_after


def assert_latest_is_last_slot(schedule: Schedule, moment: datetime, anchor: datetime, span: timedelta,
                               none_since: datetime) -> None:
    """`latest_slot` is the last slot up to `moment`; None only when no slot exists from `none_since` to it."""
    latest = latest_slot(schedule, moment, anchor)
    recent = list(takewhile(lambda slot: slot <= moment, slots_after(schedule, moment - span, anchor)))
    if recent:
        assert latest == recent[-1]
    else:
        assert latest is None or latest <= moment - span
    if latest is None:
        assert next(slots_after(schedule, none_since, anchor)) > moment
    else:
        assert latest <= moment
        assert next(slots_after(schedule, latest - timedelta(microseconds=1), anchor)) == latest
        assert next(slots_after(schedule, latest, anchor)) > moment


def assert_strictly_increasing(schedule: Schedule, after: datetime, anchor: datetime) -> None:
    slots = list(islice(slots_after(schedule, after, anchor), 40))
    assert slots[0] > after
    assert all(a < b for a, b in pairwise(slots))
    assert all(slot.tzinfo is UTC for slot in slots)


def assert_count_matches_enumeration(schedule: Schedule, after: datetime, until: datetime, anchor: datetime) -> int:
    """The O(1)/per-day count agrees with counting slot by slot; returns the count for further checks."""
    expected = len(list(takewhile(lambda slot: slot < until, slots_after(schedule, after, anchor))))
    assert count_slots(schedule, after, until, anchor, cap=10**9) == expected
    return expected
