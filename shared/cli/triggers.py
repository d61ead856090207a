"""How a trigger is described to an operator: its kind, effective status, what it watches and its target.

A trigger can be switched off in two places: its own `status` in the configuration, and the standard
`AzureWebJobs.<function>.Disabled` app setting of the function(s) that serve it. Both are shown, since
either one alone explains why nothing runs.
"""

from __future__ import annotations

from typing import Any

from ..config import Trigger
from ..ncrontab import CronSchedule
from ..schedules import describe
from ..settings import function_disabled
from ..targets import target_kind

BLOB_FUNCTION, TIMER_FUNCTION = "blob_trigger", "timer_trigger"


def trigger_kind(trigger: Trigger) -> str:
    if trigger.watch is not None:
        return "watch"
    return "cron" if isinstance(trigger.schedule, CronSchedule) else "recurrence"


def serving_functions(trigger: Trigger) -> list[str]:
    """The functions that act for this trigger: events and the polling sweep, or the timer."""
    if trigger.watch is None:
        return [TIMER_FUNCTION]
    return [BLOB_FUNCTION, TIMER_FUNCTION] if trigger.watch.polling_interval > 0 else [BLOB_FUNCTION]


def disabled_functions(trigger: Trigger) -> list[str]:
    return [name for name in serving_functions(trigger) if function_disabled(name)]


def status_text(trigger: Trigger) -> str:
    """E.g. `Active (but blob_trigger disabled by app setting: only the polling sweep runs)`."""
    disabled = disabled_functions(trigger)
    if not disabled:
        return trigger.status
    names = " and ".join(disabled)
    if not trigger.active:
        return f"{trigger.status} (and {names} disabled by app setting)"
    if len(disabled) == len(serving_functions(trigger)):
        consequence = "nothing fires"
    elif disabled == [BLOB_FUNCTION]:
        consequence = "only the polling sweep runs"
    else:
        consequence = "events only, no polling sweep"
    return f"{trigger.status} (but {names} disabled by app setting: {consequence})"


def watched_place(trigger: Trigger) -> str:
    """`container/folder/`, or `container/` for the root."""
    watch = trigger.watch
    assert watch is not None
    return f"{watch.container}/{watch.folder}/" if watch.folder else f"{watch.container}/"


def watch_text(trigger: Trigger) -> str:
    watch = trigger.watch
    assert watch is not None
    place = watched_place(trigger)
    polling = f"polling every {watch.polling_interval} min" if watch.polling_interval else "no polling (events only)"
    parts = [f"{place} (top level only)", polling]
    if watch.blob_path_ends_with:
        parts.append(f"names ending {watch.blob_path_ends_with!r}")
    if watch.connection != "AzureWebJobsStorage":
        parts.append(f"connection {watch.connection}")
    return ", ".join(parts)


def run_key_summary(trigger: Trigger) -> dict[str, Any]:
    """How the trigger's run key is attached, and how an uncertain outcome is settled (lookup or not)."""
    plan = target_kind(trigger.pipeline.kind).describe_run_key(trigger.pipeline)
    text = f"attached {plan.attached}; " + (f"looked up by {plan.lookup}" if plan.lookup
                                             else f"no lookup ({plan.why_not}): an uncertain outcome is "
                                                  "left for an operator")
    return {"attached": plan.attached, "lookup": plan.lookup, "no_lookup_because": plan.why_not, "text": text}


def summary(trigger: Trigger) -> dict[str, Any]:
    """The JSON form shared by `list --json` and other scripts' needs (times are added by the caller)."""
    data: dict[str, Any] = {
        "name": trigger.name,
        "kind": trigger_kind(trigger),
        "status": trigger.status,
        "disabled_by_app_setting": disabled_functions(trigger),
        "effective_status": status_text(trigger),
        "target": {"kind": trigger.pipeline.kind, "endpoint": trigger.pipeline.endpoint},
        "run_key": run_key_summary(trigger),
    }
    if trigger.description:
        data["description"] = trigger.description
    if trigger.watch is not None:
        watch = trigger.watch
        data["watch"] = {"container": watch.container, "folder": watch.folder,
                         "polling_interval_minutes": watch.polling_interval,
                         "blob_path_ends_with": watch.blob_path_ends_with, "connection": watch.connection,
                         "text": watch_text(trigger)}
    if trigger.schedule is not None:
        data["schedule"] = {"text": describe(trigger.schedule), "time_zone": trigger.schedule.time_zone}
    return data
