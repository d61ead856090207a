"""`prune`: delete old final ledger records (the rule is `shared/retention.py`) and the content-version histories
no record left needs (`shared/version_retention.py`), saying what that gives up."""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..checkpoints import StateStore, sweep_state
from ..clock import iso, parse_iso, utc_now
from ..config import BridgeConfig, Trigger, load_config
from ..firing import firing_from_record
from ..ledger import Ledger
from ..ledger_index import IndexRow
from ..ledger_listing import LedgerListing
from ..retention import Rule, delete, still_watched
from ..version_retention import Needs, old_histories
from ..watermark import OVERLAP
from .errors import USAGE, CliError, ledger_storage, storage_errors, watch_storage
from .parsing import add_command, add_yes_option, duration
from .terminal import Progress, confirm
from .triggers import watched_place

NEVER = datetime.max.replace(tzinfo=UTC)


def age(text: str) -> timedelta:
    value = duration(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30d, 6w or 72h")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "prune", "delete old submitted ledger entries (never claimed, released or uncertain ones)",
        "Delete ledger entries last written before --older-than: submitted ones, and with --include-failed failed "
        "ones whose outcome is certain. Never claimed, released or uncertain entries, nothing younger than 2 days "
        "(Event Grid's 24-hour redelivery plus a margin), nor anything the trigger's sweep could list again. Says "
        "how many pruned blobs are still in their watched folder: a later backfill would submit those again. Also "
        "deletes the content-version histories (versions/) that no entry left needs and that were last written "
        "before --older-than.", run)
    parser.add_argument("--older-than", type=age, required=True, metavar="AGE",
                        help="entries last written more than AGE ago (30d, 6w, 72h; at least 2d)")
    parser.add_argument("--trigger", help="only this trigger's entries")
    parser.add_argument("--include-failed", action="store_true",
                        help="also delete failed entries (they are what `replay` works from)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be deleted; delete nothing")
    add_yes_option(parser)


@dataclass
class Plan:
    """What a prune deletes: the entries `chosen` (with their firings, by key) and the histories `needs` rules out."""

    chosen: list[IndexRow]
    firings: dict[str, dict[str, Any] | None]
    needs: Needs


def run(args: argparse.Namespace) -> int:
    rule = Rule(args.older_than, include_failed=args.include_failed)
    if problem := rule.problem():
        raise CliError(problem, USAGE)
    config = load_config()
    ledger = Ledger.from_settings()
    now = utc_now()
    before = now - args.older_than
    with storage_errors(ledger_storage()):
        plan = make_plan(config, ledger, rule, args.trigger, now, before)
    chosen, histories = plan.chosen, plan.needs.unneeded()
    if not chosen and not histories:
        print(f"nothing to prune: no entry older than {args.older_than.days}d may be deleted")
        return 0
    show(config, ledger, plan, before)
    also = f" and {len(histories)} content-version histories" if histories else ""
    if args.dry_run:
        print(f"dry run: {len(chosen)} entries{also} would be deleted; nothing was")
        return 0
    confirm(f"Delete {len(chosen)} ledger entries{also}?", args.yes)
    kept = 0
    with storage_errors(ledger_storage()), Progress("prune", total=len(chosen)) as progress:
        for done, (row, deleted) in enumerate(delete(ledger.container, chosen), start=1):
            if not deleted:  # written again since the listing: it stays, and so does its history
                kept += 1
                if firing := plan.firings[row.key]:
                    plan.needs.record_stays(firing)
            progress(done)
        gone = sum(deleted for _, deleted in delete(ledger.container, plan.needs.unneeded()))
    print(f"deleted {len(chosen) - kept} entries" + (f" and {gone} content-version histories" if gone else "")
          + (f"; kept {kept} written again since the listing" if kept else ""))
    return 0


def make_plan(config: BridgeConfig, ledger: Ledger, rule: Rule, trigger: str | None, now: datetime,
              before: datetime) -> Plan:
    """One listing of the ledger, every trigger's entries: a history is about a blob, whichever trigger fired it."""
    listing = LedgerListing(ledger)
    floors = sweep_floors(config, StateStore(ledger.container))
    needs = Needs({history.name: history for history in old_histories(ledger.container, before)})
    chosen: list[IndexRow] = []
    for row in listing.rows():
        if trigger in (None, row.trigger) and rule.prunable(row, now, floors.get(row.trigger)):
            chosen.append(row)
        elif needs.histories and (firing := firing_of(listing, row)):
            needs.record_stays(firing)
    return Plan(chosen, {row.key: firing_of(listing, row) for row in chosen}, needs)


def firing_of(listing: LedgerListing, row: IndexRow) -> dict[str, Any] | None:
    """The row's firing, downloading the record only when it did not fit the listing (None: deleted since)."""
    completed = listing.complete(row)
    return completed.firing if completed is not None else None


def show(config: BridgeConfig, ledger: Ledger, plan: Plan, before: datetime) -> None:
    """Per trigger, the entries and what a backfill would run again; then the histories."""
    by_trigger: dict[str, list[IndexRow]] = defaultdict(list)
    for row in plan.chosen:
        by_trigger[row.trigger].append(row)
    for trigger, rows in sorted(by_trigger.items()):
        states = ", ".join(f"{n} {state}" for state, n in sorted(Counter(r.state for r in rows).items()))
        print(f"{trigger}: {len(rows)} entr{'ies' if len(rows) != 1 else 'y'} ({states}), last written "
              f"{min(r.updated_at for r in rows)} .. {max(r.updated_at for r in rows)}")
        subjects = {firing_from_record(firing).ledger_subject for r in rows if (firing := plan.firings[r.key])}
        print(f"  {backfill_consequence(config, trigger, {r.key for r in rows}, subjects, ledger)}")
    if histories := plan.needs.unneeded():
        print(f"{len(histories)} content-version histor{'ies' if len(histories) != 1 else 'y'} (versions/) that no "
              f"entry left needs, last written before {iso(before)}")


def sweep_floors(config: BridgeConfig, store: StateStore) -> dict[str, datetime]:
    """Per watch trigger with polling, the oldest time its next sweep may list from (`NEVER`: all of it)."""
    floors: dict[str, datetime] = {}
    for trigger in config.triggers:
        if trigger.watch is None or trigger.watch.polling_interval == 0:
            continue
        state, _ = store.read(sweep_state(trigger.name))
        if state.get("paused"):
            continue  # re-enabling starts from a fresh watermark
        if state.get("watermark"):
            floors[trigger.name] = parse_iso(state["watermark"]) - OVERLAP
        elif trigger.watch.backfill:
            floors[trigger.name] = NEVER  # its first sweep submits every blob there
    return floors


def backfill_consequence(config: BridgeConfig, name: str, keys: set[str], subjects: set[str], ledger: Ledger) -> str:
    trigger: Trigger | None = next((t for t in config.triggers if t.name == name), None)
    if trigger is None:
        return "trigger no longer configured: nothing can submit these blobs again"
    if trigger.watch is None:
        return "scheduled slots: the schedule never fires a past slot again"
    with storage_errors(watch_storage(trigger)):
        present = still_watched(trigger, keys, subjects, ledger.container)
    if not present:
        return f"none of these blob versions is still in {watched_place(trigger)}: a later backfill runs none again"
    return (f"{present} of these blob versions are still in {watched_place(trigger)}: a later "
            f"`python -m shared backfill {name}` would submit them again")
