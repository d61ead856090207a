"""The timer path: every tick, fire due schedule slots, then run due polling sweeps until a deadline.

- Schedules first: a large sweep or backfill never delays a recurrence (whose missed slots would
  then be skipped).
- Sweeps run under the tick's deadline (`shared/deadline.py`): one that is not done stops starting
  blobs, lets those in flight finish, saves its place and continues on the next tick, so a timeout
  kill never strands claims.
- The sweep that waited longest goes first, so one slow or huge trigger never starves the others: a
  checkpointed one goes to the back of the queue.
- Each trigger is handled on its own: one failing trigger does not stop the others, but the tick still
  fails loudly at the end (the host logs it as a failed invocation) naming what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial

from azure.core.exceptions import AzureError

from .checkpoints import StateStore
from .clock import utc_now
from .config import Trigger
from .deadline import Deadline
from .logs import log_decision
from .runtime import Runtime, current_runtime
from .schedule_path import run_schedule
from .sweep import sweep_trigger
from .watermark import SweepState


class TickFailedError(RuntimeError):
    """At least one trigger could not be handled this tick; the others were."""


def handle_tick(past_due: bool = False, now: datetime | None = None, runtime: Runtime | None = None,
                deadline: Deadline | None = None) -> None:
    runtime = runtime or current_runtime()
    now = now or utc_now()
    deadline = deadline or Deadline.for_tick()
    store = runtime.state
    triggers = runtime.config.triggers
    log_decision("tick", past_due=past_due or None, triggers=len(triggers))
    problems: list[str] = []
    for trigger in (t for t in triggers if t.schedule is not None):
        guarded(trigger, problems, partial(run_schedule, trigger, runtime, store, now, past_due))
    for trigger in sweep_order([t for t in triggers if t.watch is not None and t.watch.polling_interval > 0], store):
        if deadline.passed:
            log_decision("sweep_deferred", trigger=trigger.name, reason="tick_deadline")
            continue
        guarded(trigger, problems, partial(sweep_problems, trigger, runtime, store, now, deadline, problems))
    if problems:
        raise TickFailedError("timer tick failed for: " + "; ".join(problems))


def guarded(trigger: Trigger, problems: list[str], work: Callable[[], object]) -> None:
    try:
        work()
    except Exception as error:  # one trigger's storage or config trouble must not starve the others
        log_decision("failed", logging.ERROR, trigger=trigger.name, message=f"{type(error).__name__}: {error}",
                     source="timer")
        problems.append(f"{trigger.name}: {type(error).__name__}: {error}")


def sweep_order(triggers: list[Trigger], store: StateStore) -> list[Trigger]:
    """Longest wait first: by when each trigger's sweep last got a turn (never: first of all)."""

    def turn(trigger: Trigger) -> str:
        try:
            return SweepState.read(store, trigger.name).turn
        except AzureError:
            return ""  # first, then: its sweep reads the same document and reports the failure
    return sorted(triggers, key=turn)


def sweep_problems(trigger: Trigger, runtime: Runtime, store: StateStore, now: datetime, deadline: Deadline,
                   problems: list[str]) -> None:
    report = sweep_trigger(trigger, runtime, store, now=now, deadline=deadline)
    problems.extend(f"{trigger.name}: {error}" for error in report.errors[:5])
