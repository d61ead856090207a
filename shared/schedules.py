"""One slot API over both schedule forms (`recurrence` and NCRONTAB `cron`), so callers need not care."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import ModuleType

from . import ncrontab, recurrence
from .config import Schedule


def _module(schedule: Schedule) -> ModuleType:
    return recurrence if isinstance(schedule, recurrence.Recurrence) else ncrontab


def latest_slot(schedule: Schedule, at_or_before: datetime, anchor: datetime) -> datetime | None:
    return _module(schedule).latest_slot(schedule, at_or_before, anchor)


def slots_after(schedule: Schedule, after: datetime, anchor: datetime) -> Iterator[datetime]:
    return _module(schedule).slots_after(schedule, after, anchor)


def count_slots(schedule: Schedule, after: datetime, until: datetime, anchor: datetime, cap: int = 100_000) -> int:
    return _module(schedule).count_slots(schedule, after, until, anchor, cap=cap)


def describe(schedule: Schedule) -> str:
    return _module(schedule).describe(schedule)


def next_slots(schedule: Schedule, after: datetime, anchor: datetime, count: int) -> list[datetime]:
    slots = slots_after(schedule, after, anchor)
    return [slot for _, slot in zip(range(count), slots, strict=False)]


def fires_on_first_tick(schedule: Schedule) -> bool:
    """Azure ML runs a recurrence without start_time immediately; cron has no such notion."""
    return isinstance(schedule, recurrence.Recurrence) and schedule.start_time is None
