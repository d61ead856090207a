"""`pipeline-status`: show or set the Active/Disabled switch of a trigger's target, where the service has one."""

from __future__ import annotations

import argparse

from ..config import load_config
from ..pipeline_status import PipelineStatus, StatusRequestError, StatusUnsupportedError, entity_status
from ..submitter import shared_submitter
from .errors import CliError, find_trigger
from .parsing import add_command

NO_STATUS = "(the service returned no EntityStatus)"


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "pipeline-status",
        "show or set the status of a trigger's published pipeline or pipeline endpoint at the service",
        "Show (no STATUS) or set the status of the published pipeline or pipeline endpoint a trigger submits to, "
        "at the service itself: it applies to every caller, unlike the trigger's own status. Targets of other "
        "kinds have no such switch.", run)
    parser.add_argument("trigger", help="trigger name")
    parser.add_argument("status", nargs="?", choices=("Active", "Disabled"), help="the status to set")


def run(args: argparse.Namespace) -> int:
    trigger = find_trigger(load_config(), args.trigger)
    try:
        service = PipelineStatus(trigger.pipeline, shared_submitter())
        before = entity_status(service.get()) or NO_STATUS
        if args.status:
            service.set(args.status)
        entity = service.get()
    except (StatusUnsupportedError, StatusRequestError) as error:
        raise CliError(f"trigger {trigger.name!r}: {error}") from None
    status = entity_status(entity) or NO_STATUS
    name = f" ({entity['Name']})" if entity.get("Name") else ""
    print(f"{service.label} {service.entity_id}{name}: {status}")
    if args.status:
        print(f"changed from {before} to {status}")
        if status == "Disabled":
            print(f"submissions from trigger {trigger.name!r} now fail and are recorded as failed; after setting it "
                  f"Active again, resubmit them with: python -m shared replay --failed --trigger {trigger.name}")
    print(f"trigger {trigger.name!r} itself: {trigger.status} (its own switch: status in the configuration)")
    print(f"  {service.url}")
    return 0 if status == args.status or not args.status else 1
