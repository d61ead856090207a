"""Per trigger, what an operator needs at a glance: is it keeping up, and is anything waiting for a person.

Built from one listing of the ledger (its index metadata, `shared/ledger_index.py`) and the small state
documents of the sweeps and schedules; nothing is downloaded. "Needs an operator" is deliberately
narrow, so a monitor that alerts on it does not cry wolf: failed and uncertain entries, claims left by
a crash, retries that stopped, a sweep or a schedule that fell behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .checkpoints import StateStore, schedule_state, sweep_state
from .clock import parse_iso
from .config import BridgeConfig, Trigger
from .ledger import CLAIMED, FAILED, STALLED_HOURS, stalled
from .ledger_index import IndexRow, is_uncertain_error
from .schedules import latest_slot

TICK_GRACE = timedelta(minutes=2)  # a tick runs every minute; allow one late tick before calling it behind
WATERMARK_HELD = timedelta(hours=1)  # beyond the polling interval, a watermark this far back is stuck


def is_uncertain(row: IndexRow) -> bool:
    """Its run may exist: a person (or a lookup) must find out before anything is sent again."""
    return is_uncertain_error(row.error)


@dataclass
class TriggerHealth:
    name: str
    kind: str = "(not configured)"  # watch, schedule; or only the ledger still knows the trigger
    last_sweep: str | None = None
    watermark: str | None = None
    next_slot: datetime | None = None
    last_slot: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    uncertain: int = 0
    oldest_uncertain: str | None = None
    stale_claims: int = 0
    stalled_retries: int = 0  # released or uncertain entries nobody retried (or looked up) for RETRY_STALLED
    uncertain_failed: int = 0  # failed with an uncertain outcome: only a person can tell whether the run exists
    attention: list[str] = field(default_factory=list)


def ledger_health(rows: Iterable[IndexRow], now: datetime) -> dict[str, TriggerHealth]:
    """Counts per trigger from the listing alone."""
    found: dict[str, TriggerHealth] = {}
    for row in rows:
        health = found.setdefault(row.trigger, TriggerHealth(row.trigger))
        health.counts[row.state] += 1
        if row.state == CLAIMED and row.lease_until and parse_iso(row.lease_until) <= now:
            health.stale_claims += 1
        if stalled(row.state, row.updated_at, now):
            health.stalled_retries += 1
        if is_uncertain(row):
            health.uncertain += 1
            health.uncertain_failed += row.state == FAILED
            if health.oldest_uncertain is None or row.updated_at < health.oldest_uncertain:
                health.oldest_uncertain = row.updated_at
    return found


def sweep_health(health: TriggerHealth, trigger: Trigger, store: StateStore, now: datetime,
                 timer_disabled: bool) -> None:
    watch = trigger.watch
    assert watch is not None
    if watch.polling_interval == 0:
        return
    state, _ = store.read(sweep_state(trigger.name))
    health.last_sweep, health.watermark = state.get("last_sweep_at"), state.get("watermark")
    if not trigger.active or timer_disabled or state.get("paused") or not health.last_sweep:
        return
    interval = timedelta(minutes=watch.polling_interval)
    if parse_iso(health.last_sweep) < now - 2 * interval - TICK_GRACE:
        health.attention.append(f"the polling sweep is overdue: last sweep {health.last_sweep}, every "
                                f"{watch.polling_interval} min (is timer_trigger running?)")
    if health.watermark and parse_iso(health.watermark) < now - interval - WATERMARK_HELD:
        health.attention.append(f"the sweep's watermark is held back at {health.watermark} by a blob whose "
                                "submission has not settled (see the released and claimed entries)")


def schedule_health(health: TriggerHealth, trigger: Trigger, store: StateStore, now: datetime,
                    next_slot: datetime | None, timer_disabled: bool) -> None:
    schedule = trigger.schedule
    assert schedule is not None
    health.next_slot = next_slot
    state, _ = store.read(schedule_state(trigger.name))
    health.last_slot = state.get("last_slot")
    if not trigger.active or timer_disabled or not state.get("anchor") or state.get("paused"):
        return
    due = latest_slot(schedule, now - TICK_GRACE, parse_iso(state["anchor"]))
    if due is not None and (health.last_slot is None or due > parse_iso(health.last_slot)):
        health.attention.append(f"slot {due.isoformat()} is due and has not fired (last fired: "
                                f"{health.last_slot or 'none'}; is timer_trigger running?)")


def ledger_attention(health: TriggerHealth) -> None:
    name = health.name
    if failed := health.counts[FAILED] - health.uncertain_failed:
        health.attention.append(f"{failed} failed: fix the cause, then `python -m shared replay --failed "
                                f"--trigger {name}` (`history --failed --trigger {name}` shows why)")
    if health.uncertain_failed:
        health.attention.append(f"{health.uncertain_failed} failed with an uncertain outcome (oldest uncertain "
                                f"{health.oldest_uncertain}): the service may have started these runs; check it "
                                "before replaying")
    if health.stale_claims:
        health.attention.append(f"{health.stale_claims} claims whose lease ran out (an invocation died mid-"
                                "submission): the next delivery or sweep takes them over; check for duplicate runs")
    if health.stalled_retries:
        health.attention.append(f"{health.stalled_retries} released or uncertain entries not retried for over "
                                f"{STALLED_HOURS} h: nothing is retrying them (events expired, "
                                f"no polling?): `python -m shared replay --stalled --trigger {name}` (uncertain "
                                "ones are looked up by their run key first)")


def assess(config: BridgeConfig, rows: Iterable[IndexRow], store: StateStore, now: datetime,
           next_slots: dict[str, datetime | None], timer_disabled: dict[str, bool]) -> list[TriggerHealth]:
    """Configured triggers in configuration order, then any trigger that only the ledger still knows."""
    from_ledger = ledger_health(rows, now)
    report: list[TriggerHealth] = []
    for trigger in config.triggers:
        health = from_ledger.pop(trigger.name, TriggerHealth(trigger.name))
        health.kind = "watch" if trigger.watch is not None else "schedule"
        if trigger.watch is not None:
            sweep_health(health, trigger, store, now, timer_disabled[trigger.name])
        else:
            schedule_health(health, trigger, store, now, next_slots.get(trigger.name), timer_disabled[trigger.name])
        report.append(health)
    report.extend(from_ledger.values())
    for health in report:
        ledger_attention(health)
    return report
