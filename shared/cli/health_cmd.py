"""`status`: health at a glance, per trigger; exit 1 when something needs an operator (for monitors)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from ..checkpoints import StateStore
from ..clock import parse_iso, utc_now
from ..config import load_config
from ..health import TriggerHealth, assess
from ..ledger import CLAIMED, FAILED, RELEASED, Ledger
from ..ledger_listing import LedgerListing
from .errors import ledger_storage, storage_errors
from .output import print_json, table
from .parsing import add_command
from .triggers import TIMER_FUNCTION, disabled_functions
from .upcoming import upcoming

NEEDS_OPERATOR = 1


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "status", "health per trigger; exit 1 when something needs an operator",
        "Per trigger: the last polling sweep and how old its watermark is, the next schedule slot, the counts of "
        "failed, released, claimed and uncertain ledger entries and the oldest uncertain one; then what needs an "
        "operator. Exit status 1 when anything does (so a monitor can run it), else 0.", run)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def run(args: argparse.Namespace) -> int:
    config = load_config()
    now = utc_now()
    ledger = Ledger.from_settings()
    store = StateStore(ledger.container)
    with storage_errors(ledger_storage()):
        next_slots = {t.name: next(iter(upcoming(t, store, now, count=1)), None)
                      for t in config.triggers if t.schedule is not None}
        timer_disabled = {t.name: TIMER_FUNCTION in disabled_functions(t) for t in config.triggers}
        report = assess(config, LedgerListing(ledger).rows(), store, now, next_slots, timer_disabled)
    attention = [f"{health.name}: {problem}" for health in report for problem in health.attention]
    if args.json:
        print_json({"checked_at": now.isoformat(), "needs_operator": attention,
                    "triggers": [as_json(health, now) for health in report]})
    else:
        print(status_table(report, now))
        print()
        print("needs an operator:" if attention else "nothing needs an operator")
        for line in attention:
            print(f"- {line}")
    return NEEDS_OPERATOR if attention else 0


def age(text: str | None, now: datetime) -> str | None:
    """`42s`, `5m`, `3h`, `2d`: how long ago."""
    if text is None:
        return None
    seconds = max(0, int((now - parse_iso(text)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def status_table(report: list[TriggerHealth], now: datetime) -> str:
    headers = ("TRIGGER", "KIND", "LAST SWEEP", "WATERMARK AGE", "NEXT SLOT", "FAILED", "RELEASED", "CLAIMED",
               "UNCERTAIN", "OLDEST UNCERTAIN")
    return table(headers, (
        (h.name, h.kind, h.last_sweep and f"{h.last_sweep} ({age(h.last_sweep, now)} ago)",
         age(h.watermark, now), h.next_slot and h.next_slot.isoformat().replace("+00:00", "Z"), h.counts[FAILED],
         h.counts[RELEASED], h.counts[CLAIMED], h.uncertain, h.oldest_uncertain)
        for h in report
    ))


def as_json(health: TriggerHealth, now: datetime) -> dict[str, Any]:
    return {
        "trigger": health.name, "kind": health.kind, "last_sweep_at": health.last_sweep,
        "watermark": health.watermark, "watermark_age": age(health.watermark, now),
        "next_slot": health.next_slot.isoformat() if health.next_slot else None, "last_slot": health.last_slot,
        "entries": dict(health.counts), "failed": health.counts[FAILED], "released": health.counts[RELEASED],
        "claimed": health.counts[CLAIMED], "stale_claims": health.stale_claims, "uncertain": health.uncertain,
        "oldest_uncertain": health.oldest_uncertain, "needs_operator": health.attention,
    }
