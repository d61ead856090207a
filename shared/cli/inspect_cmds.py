"""`validate` and `list`: the configuration as the functions load it, and what each trigger will do."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..checkpoints import StateStore
from ..clock import utc_now
from ..config import ConfigError, load_config, read_raw_configuration
from ..storage import StorageSettingError
from .errors import USAGE, ledger_storage, storage_errors
from .output import print_json
from .parsing import add_command
from .triggers import status_text, summary, trigger_kind
from .upcoming import in_zone, read_only_state, show_time, upcoming


def register(commands: argparse._SubParsersAction) -> None:
    add_command(commands, "validate", "check the trigger configuration exactly as the functions load it",
                "Load PIPELINE_TRIGGERS (or PIPELINE_TRIGGERS_FILE) as the functions do and print every problem. "
                "Exit status 0 when valid, 2 when not.", run_validate)
    listing = add_command(
        commands, "list", "every trigger: kind, status, what it watches or when it fires, and its target",
        "List every trigger with its status (the configuration's status and the AzureWebJobs.<function>.Disabled "
        "app settings), what it watches or its schedule with the next three fire times in the trigger's time "
        "zone, and its target.", run_list)
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")


def run_validate(args: argparse.Namespace) -> int:
    try:
        config = load_config()
    except ConfigError as error:
        print(f"{configuration_label()}: {len(error.problems)} problem{'s' * (len(error.problems) != 1)}")
        for problem in error.problems:
            print(f"- {problem}")
        return USAGE
    for trigger in config.triggers:
        print(f"  {trigger.name}  {trigger_kind(trigger)}  {status_text(trigger)}")
    count = len(config.triggers)
    print(f"{count} trigger{'s' * (count != 1)} OK ({config.source})")
    return 0


def configuration_label() -> str:
    try:
        return read_raw_configuration()[1]
    except ConfigError:
        return "configuration"


def schedule_state() -> StateStore | None:
    """The timer's schedule state, or None (with a note) when no storage is configured: `list` still works
    on a laptop with only PIPELINE_TRIGGERS set."""
    try:
        return read_only_state()
    except StorageSettingError as error:
        print(f"note: next fire times assume the timer has not seen these triggers yet ({error})", file=sys.stderr)
        return None


def run_list(args: argparse.Namespace) -> int:
    config = load_config()
    now = utc_now()
    items: list[dict[str, Any]] = []
    store = schedule_state() if any(t.schedule for t in config.triggers) else None
    for trigger in config.triggers:
        item = summary(trigger)
        if trigger.schedule is not None:
            with storage_errors(ledger_storage()):
                slots = upcoming(trigger, store, now)
            item["schedule"]["next"] = [in_zone(slot, trigger.schedule).isoformat() for slot in slots]
            item["schedule"]["next_text"] = [show_time(in_zone(slot, trigger.schedule)) for slot in slots]
        items.append(item)
    if args.json:
        print_json(items)
        return 0
    for item in items:
        print(f"{item['name']}  [{item['kind']}]  {item['effective_status']}")
        if "description" in item:
            print(f"  about:    {item['description']}")
        if "watch" in item:
            print(f"  watches:  {item['watch']['text']}")
        if "schedule" in item:
            print(f"  fires:    {item['schedule']['text']}")
            when = "" if item["status"] == "Active" else " (if it were Active)"
            print(f"  next:     {', '.join(item['schedule']['next_text'])}{when}")
        print(f"  target:   {item['target']['kind']} {item['target']['endpoint']}")
        print(f"  run key:  {item['run_key']['text']}")
    return 0

