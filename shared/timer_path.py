"""The timer path: every tick, fire due schedule slots and run due polling sweeps.

Each trigger is handled on its own: one failing trigger does not stop the others, but the tick still
fails loudly at the end (the host logs it as a failed invocation) naming what went wrong.
"""

from __future__ import annotations

import logging
from datetime import datetime

from .checkpoints import StateStore
from .clock import utc_now
from .config import Trigger
from .logs import log_decision
from .runtime import Runtime, current_runtime
from .schedule_path import run_schedule
from .sweep import sweep_trigger


class TickFailedError(RuntimeError):
    """At least one trigger could not be handled this tick; the others were."""


def handle_tick(past_due: bool = False, now: datetime | None = None, runtime: Runtime | None = None) -> None:
    runtime = runtime or current_runtime()
    now = now or utc_now()
    store = runtime.state
    log_decision("tick", past_due=past_due or None, triggers=len(runtime.config.triggers))
    problems: list[str] = []
    for trigger in runtime.config.triggers:
        try:
            handle_trigger(trigger, runtime, store, now, past_due, problems)
        except Exception as error:  # one trigger's storage or config trouble must not starve the others
            log_decision("failed", logging.ERROR, trigger=trigger.name, message=f"{type(error).__name__}: {error}",
                         source="timer")
            problems.append(f"{trigger.name}: {type(error).__name__}: {error}")
    if problems:
        raise TickFailedError("timer tick failed for: " + "; ".join(problems))


def handle_trigger(trigger: Trigger, runtime: Runtime, store: StateStore, now: datetime, past_due: bool,
                   problems: list[str]) -> None:
    if trigger.schedule is not None:
        run_schedule(trigger, runtime, store, now, past_due)
        return
    if trigger.watch is not None and trigger.watch.polling_interval > 0:
        report = sweep_trigger(trigger, runtime, store, now=now)
        problems.extend(f"{trigger.name}: {error}" for error in report.errors[:5])
