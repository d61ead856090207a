"""Recurrence and cron triggers: on each timer tick, fire the most recent due slot once.

A slot is claimed in the ledger as (trigger, scheduled time), so a restart, a `past_due` tick or two
hosts never fire it twice. After an outage only the most recent missed slot fires (Azure ML and the
Functions timer behave the same way); the number skipped is logged. A slot that was fired but not
settled (a transient failure, or another host's claim) is pending: every tick fires it again until it is
submitted or recorded `failed`, also when newer slots have come due meanwhile. Per-trigger progress
lives in a state document: where the schedule is anchored, the last slot fired and the pending ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .checkpoints import StateStore, schedule_state
from .clock import iso, parse_iso
from .config import Schedule, Trigger
from .dispatch import FiringResult, Outcome, fire
from .firing import ScheduledSlot
from .logs import log_decision
from .runtime import Runtime
from .schedules import count_slots, describe, fires_on_first_tick, latest_slot

SETTLED = (Outcome.SUBMITTED, Outcome.DUPLICATE, Outcome.FAILED)


def minute_floor(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def arm(schedule: Schedule, now: datetime, previous: dict[str, Any]) -> dict[str, Any]:
    """First sight of a schedule, or first tick after it was disabled or changed.

    Slots before this tick's minute are history, except that a new recurrence without start_time
    runs on this first tick. A resumed or changed schedule keeps its anchor (its cadence) and
    continues from the next slot after this minute. Slots already fired and still pending stay pending.
    """
    this_minute = minute_floor(now)
    anchor = parse_iso(previous["anchor"]) if previous.get("anchor") else this_minute
    if previous:
        last = latest_slot(schedule, this_minute, anchor)
    elif fires_on_first_tick(schedule):
        last = None
    else:
        last = latest_slot(schedule, this_minute - timedelta(microseconds=1), anchor)
    return {"definition": repr(schedule), "anchor": iso(anchor), "last_slot": last and iso(last),
            "pending": previous.get("pending", [])}


STATE_WRITE_TRIES = 5  # another host writing the same schedule's state between our read and write, in a row


class StateChanged(Exception):
    """Another host wrote this schedule's state since it was read: decide again from what it wrote."""


@dataclass(frozen=True)
class DueSlot:
    """A slot written pending (and last fired) in the schedule's state, to be fired now."""

    slot: datetime
    missed: int  # slots between the last one fired and this one, skipped
    last: datetime | None
    state: dict[str, Any]
    etag: str  # of the state as written: taking the slot off the pending list is conditional on it


def run_schedule(trigger: Trigger, runtime: Runtime, store: StateStore, now: datetime,
                 past_due: bool) -> FiringResult | None:
    """The due slot is written pending (and last fired) before it is fired: a tick killed after its claim leaves
    it pending, so later ticks fire it again until it is settled, however many newer slots come due meanwhile
    (it was fired, so it is never counted as missed). Settled, it leaves the pending list."""
    for _ in range(STATE_WRITE_TRIES):
        try:
            due = write_due_slot(trigger, runtime, store, now)
        except StateChanged:
            continue
        return None if due is None else fire_due_slot(trigger, runtime, store, due, past_due)
    raise RuntimeError(f"schedule state of {trigger.name!r} kept changing under this tick "
                       f"({STATE_WRITE_TRIES} conditional writes lost in a row); the next tick tries again")


def write_due_slot(trigger: Trigger, runtime: Runtime, store: StateStore, now: datetime) -> DueSlot | None:
    """Pause, arm, retry the pending slots; then the slot due now, written pending, or None if none is due."""
    schedule = trigger.schedule
    assert schedule is not None
    state_name = schedule_state(trigger.name)
    state, etag = store.read(state_name)
    if not trigger.active:
        if state and not state.get("paused"):
            store.write(state_name, {**state, "paused": True}, etag)
        return None
    armed = state.get("definition") != repr(schedule) or bool(state.get("paused"))
    if armed:
        if state:
            log_decision("schedule_rearmed", trigger=trigger.name, definition=describe(schedule),
                         reason="resumed" if state.get("paused") else "changed")
        state = arm(schedule, now, state)
    changed = retry_pending(trigger, runtime, state) or armed
    anchor = parse_iso(str(state["anchor"]))
    last = parse_iso(str(state["last_slot"])) if state.get("last_slot") else None
    due = latest_slot(schedule, now, anchor)
    if due is None or (last is not None and due <= last):
        if changed:
            store.write(state_name, state, etag)
        return None
    slot = iso(due)
    state["last_slot"] = slot
    state["pending"] = [*(p for p in state.get("pending", []) if p != slot), slot]
    written = store.write(state_name, state, etag)
    if written is None:
        raise StateChanged(state_name)
    missed = count_slots(schedule, last, due, anchor) if last is not None else 0
    return DueSlot(due, missed, last, state, written)


def fire_due_slot(trigger: Trigger, runtime: Runtime, store: StateStore, due: DueSlot,
                  past_due: bool) -> FiringResult:
    slot = iso(due.slot)
    if due.missed:
        log_decision("missed_slots_skipped", logging.WARNING, trigger=trigger.name, skipped=due.missed,
                     last_slot=iso(due.last) if due.last else None, firing_slot=slot)
    log_decision("matched", trigger=trigger.name, slot=slot, past_due=past_due or None)
    result = fire(trigger, ScheduledSlot(due.slot), ledger=runtime.ledger, submitter=runtime.submitter,
                  source="schedule")
    if result.outcome in SETTLED:  # if this write loses, the slot stays pending and a later tick settles it
        settled = {**due.state, "pending": [p for p in due.state["pending"] if p != slot]}
        store.write(schedule_state(trigger.name), settled, due.etag)
    return result


def retry_pending(trigger: Trigger, runtime: Runtime, state: dict[str, Any]) -> bool:
    """Fire again each slot that was fired but not settled; True when the pending list changed."""
    pending = list(state.get("pending", []))
    still = []
    for slot in pending:
        log_decision("matched", trigger=trigger.name, slot=slot, retry=True)
        result = fire(trigger, ScheduledSlot(parse_iso(slot)), ledger=runtime.ledger, submitter=runtime.submitter,
                      source="schedule")
        if result.outcome not in SETTLED:
            still.append(slot)
    state["pending"] = still
    return still != pending
