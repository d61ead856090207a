"""`sweep` and `backfill`: the polling sweep on demand, and submitting blobs that predate the watermark.

Both go through the same ledger as the functions, so running them next to a live bridge never submits
a blob version twice.
"""

from __future__ import annotations

import argparse

from ..backfill import backfill, count_backfill
from ..checkpoints import sweep_state
from ..runtime import current_runtime
from ..sweep import sweep_trigger
from ..sweep_report import SweepReport
from .errors import CliError, find_watch, ledger_storage, storage_errors, watch_storage
from .parsing import add_command, add_yes_option
from .terminal import Progress, confirm
from .triggers import watched_place

PROBLEM_OUTCOMES = ("failed", "retry", "in_progress", "error")


def register(commands: argparse._SubParsersAction) -> None:
    sweep = add_command(
        commands, "sweep", "run the polling sweep now for one or all watch triggers",
        "Run the polling sweep now (ignoring polling_interval) for one watch trigger or all of them, and print a "
        "summary per trigger. Exit status 1 when any blob failed or is still pending.", run_sweep)
    sweep.add_argument("trigger", nargs="?", help="a watch trigger (default: every watch trigger)")
    fill = add_command(
        commands, "backfill", "submit the blobs that predate a watch trigger's watermark",
        "Count the top-level blobs that predate the trigger's watermark (and pass its filters), ask for "
        "confirmation, then submit them through the ledger (already submitted ones are skipped).", run_backfill)
    fill.add_argument("trigger", help="a watch trigger")
    add_yes_option(fill)


def run_sweep(args: argparse.Namespace) -> int:
    runtime = current_runtime()
    if args.trigger:
        triggers = [find_watch(runtime.config, args.trigger, "sweep")]
    else:
        triggers = [t for t in runtime.config.triggers if t.watch is not None]
    if not triggers:
        print("no watch triggers are configured: nothing to sweep")
        return 0
    reports = []
    for trigger in triggers:
        with storage_errors(ledger_storage(), watch_storage(trigger)), Progress(f"sweep {trigger.name}") as progress:
            report = sweep_trigger(trigger, runtime, runtime.state, force=True, progress=progress)
        print(report_text(report))
        reports.append(report)
    return 1 if any(has_problems(report) for report in reports) else 0


def run_backfill(args: argparse.Namespace) -> int:
    runtime = current_runtime()
    trigger = find_watch(runtime.config, args.trigger, "backfill")
    if not trigger.active:
        raise CliError(f"trigger {trigger.name!r} is Disabled: set its status to Active before a backfill")
    store = runtime.state
    with storage_errors(ledger_storage(), watch_storage(trigger)):
        watermark = store.read(sweep_state(trigger.name))[0].get("watermark")
        count = count_backfill(trigger, store, runtime.ledger)
    since = f"before the watermark {watermark}" if watermark else "(no sweep has run yet, so no watermark: all of them)"
    new = count.blobs - count.recorded
    print(f"{count.blobs} blob{'s' * (count.blobs != 1)} directly in {watched_place(trigger)} pass the trigger's "
          f"filters {since}; {count.recorded} already have a final ledger record (submitted or failed) and are "
          f"skipped, {new} would be submitted")
    if new == 0:
        print("nothing to backfill")
        return 0
    confirm(f"Submit up to {new} pipeline runs for trigger {trigger.name!r}?", args.yes)
    with storage_errors(ledger_storage(), watch_storage(trigger)), \
            Progress(f"backfill {trigger.name}", total=new) as progress:
        report = backfill(trigger, runtime, store, progress=progress)
    print(report_text(report))
    return 1 if has_problems(report) else 0


def report_text(report: SweepReport) -> str:
    """One line a trigger: what happened, the counts, and what the operator can do next."""
    if report.state == "paused":
        return f"{report.trigger}: paused (status Disabled): nothing swept"
    outcomes = ", ".join(f"{count} {name}" for name, count in sorted(report.outcomes.items())) or "nothing submitted"
    skipped = ", ".join(f"{count} {name}" for name, count in sorted(report.skipped.items()))
    text = f"{report.trigger}: {report.state}: listed {report.listed}, candidates {report.candidates}: {outcomes}"
    if skipped:
        text += f"; skipped {skipped}"
    if report.watermark:
        text += f"; watermark {report.watermark}"
    if report.state == "armed" and not report.outcomes:
        text += " (first sweep: blobs already there are not submitted; `backfill` submits them)"
    text += "".join(f"\n  error: {error}" for error in report.errors[:10])
    if has_problems(report):
        text += "\n  see `python -m shared history --failed`; replay failed entries once the cause is fixed"
    return text


def has_problems(report: SweepReport) -> bool:
    return bool(report.errors) or any(report.outcomes[name] for name in PROBLEM_OUTCOMES)
