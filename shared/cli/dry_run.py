"""`dry-run`: the exact request a trigger would send, without sending or writing anything.

For a watch trigger the blob's real properties are read when it exists (read only), so the request and
the match decision are the ones an upload of that blob would get, and its content version is looked up (read
only) in its history, so the run key is the one its firing would use (a metadata change keeps the key of the
bytes it kept); for a schedule, its next slot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from azure.core.exceptions import ResourceNotFoundError

from ..accounts import connection_account
from ..clock import utc_now
from ..config import Trigger, load_config
from ..content_versions import peek_content_version
from ..dispatch import build_request
from ..firing import BlobVersion, Firing, ScheduledSlot
from ..ledger import Ledger
from ..listing import blob_version, watched_container
from ..matching import decide
from .errors import USAGE, CliError, find_trigger, ledger_storage, storage_errors, watch_storage
from .output import print_json
from .parsing import add_command
from .triggers import run_key_summary, status_text
from .upcoming import read_only_state, upcoming

NOT_UPLOADED = "(not uploaded yet)"


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "dry-run", "print the request a trigger would send (sends nothing, writes nothing)",
        "Print the exact request (method, URL, headers without the token, body) a trigger would send: for a watch "
        "trigger for the blob given with --blob, for a schedule for its next slot. Nothing is sent or written.", run)
    parser.add_argument("trigger", help="trigger name")
    parser.add_argument("--blob", metavar="NAME", help="blob name in the watched container (watch triggers)")
    parser.add_argument("--json", action="store_true", help="print the request as JSON")


def run(args: argparse.Namespace) -> int:
    trigger = find_trigger(load_config(), args.trigger)
    firing = blob_firing(trigger, args.blob) if trigger.watch is not None else slot_firing(trigger, args.blob)
    request = build_request(trigger, firing)
    if args.json:
        print_json({**request.to_json(), "firing": firing.describe(), "trigger_status": status_text(trigger),
                    "run_key_plan": run_key_summary(trigger)})
        return 0
    print(f"# trigger {trigger.name}: {status_text(trigger)}; firing {json.dumps(firing.describe())}")
    print(f"# run key {request.run_key}: {run_key_summary(trigger)['text']}")
    print(f"{request.method} {request.url}")
    for name, value in request.headers.items():
        print(f"{name}: {value}")
    for name, scope in request.token_headers.items():
        print(f"{name}: <token for {scope}, fetched when sending; not shown>")
    print(f"Authorization: Bearer <token for {request.scope}, fetched when sending; not shown>")
    print()
    print(json.dumps(request.body, indent=2, ensure_ascii=False))
    print("# nothing was sent")
    return 0


def blob_firing(trigger: Trigger, name: str | None) -> Firing:
    watch = trigger.watch
    assert watch is not None
    if not name:
        raise CliError(f"trigger {trigger.name!r} watches container {watch.container!r}: pass --blob NAME (a blob "
                       f"name in that container, e.g. {watch.folder + '/' if watch.folder else ''}file.csv) to see "
                       "the request that blob would get", USAGE)
    container = watched_container(watch)
    with storage_errors(watch_storage(trigger)):
        blob = container.get_blob_client(name)
        try:
            props = blob.get_blob_properties()
        except ResourceNotFoundError:
            return matched(trigger, BlobVersion(container=watch.container, name=name, etag=NOT_UPLOADED, url=blob.url))
        firing = matched(trigger, blob_version(container, props, connection_account(watch.connection)))
    with storage_errors(ledger_storage()):  # the key its firing would use, read from its history
        return peek_content_version(Ledger.from_settings().container, firing)


def matched(trigger: Trigger, firing: BlobVersion) -> BlobVersion:
    decision = decide(dataclasses.replace(trigger, status="Active"), firing)
    if not decision.matched:
        raise CliError(f"no request: blob {firing.name!r} would not fire trigger {trigger.name!r}: "
                       f"{skip_reason(trigger, decision.reason)}")
    return firing


def skip_reason(trigger: Trigger, reason: str) -> str:
    watch = trigger.watch
    assert watch is not None
    folder = f"folder {watch.folder!r}" if watch.folder else "the container root"
    return {
        "subfolder": f"it is in a subfolder; only blobs directly in {folder} trigger",
        "outside_folder": f"it is outside the watched {folder}",
        "suffix": f"its name does not end with {watch.blob_path_ends_with!r}",
        "empty": "it is empty (ignore_empty_blobs is on)",
        "copy_pending": "its copy is still pending; it fires when the copy has succeeded",
        "copy_failed": "its copy failed",
        "copy_aborted": "its copy was aborted",
    }.get(reason, reason)


def slot_firing(trigger: Trigger, blob: str | None) -> Firing:
    if blob:
        raise CliError(f"trigger {trigger.name!r} is a schedule: --blob applies to watch triggers only", USAGE)
    with storage_errors(ledger_storage()):
        slots = upcoming(trigger, read_only_state(), utc_now(), count=1)
    if not slots:
        raise CliError(f"trigger {trigger.name!r} has no future slot")
    return ScheduledSlot(slots[0])
