"""When a schedule fires next, computed the way the timer path will compute it.

The anchor comes from the schedule's state document when the timer has seen the trigger; otherwise
the timer will anchor it at its next tick (the next whole minute), and a recurrence without
`start_time` fires on that tick. Reading never creates the state container: listing writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..checkpoints import StateStore, schedule_state
from ..clock import parse_iso
from ..config import Schedule, Trigger
from ..ledger import Ledger
from ..schedules import fires_on_first_tick, next_slots

TICK = timedelta(minutes=1)


def read_only_state() -> StateStore:
    return StateStore(Ledger.from_settings().container)


def schedule_anchor(store: StateStore | None, trigger: Trigger) -> datetime | None:
    if store is None:
        return None
    state, _ = store.read(schedule_state(trigger.name))
    return parse_iso(str(state["anchor"])) if state.get("anchor") else None


def next_tick(now: datetime) -> datetime:
    floor = now.replace(second=0, microsecond=0)
    return floor if floor == now else floor + TICK


def upcoming(trigger: Trigger, store: StateStore | None, now: datetime, count: int = 3) -> list[datetime]:
    """The next `count` slots (aware UTC) after `now`; without a state store, as if the timer had not seen
    the trigger yet."""
    schedule = trigger.schedule
    assert schedule is not None
    anchor = schedule_anchor(store, trigger)
    if anchor is not None:
        return next_slots(schedule, now, anchor, count)
    first_tick = next_tick(now)
    after = first_tick - timedelta(microseconds=1) if fires_on_first_tick(schedule) else now
    return next_slots(schedule, after, first_tick, count)


def in_zone(slot: datetime, schedule: Schedule) -> datetime:
    return slot.astimezone(ZoneInfo(schedule.time_zone))


def show_time(slot: datetime) -> str:
    """E.g. `Wed 2026-11-25 09:30 CET`, seconds only when there are any."""
    return slot.strftime("%a %Y-%m-%d %H:%M:%S %Z" if slot.second else "%a %Y-%m-%d %H:%M %Z")
