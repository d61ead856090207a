"""Which watch triggers a blob version fires, and why each other one does not.

The rule users rely on (from Azure ML change-based schedules): only blobs directly in the watched
folder trigger; anything in a subfolder never does. Event Grid filters cannot express that, so it is
decided here, for the event path and the sweep alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .accounts import connection_account
from .config import Trigger, WatchSpec
from .events import NEVER_FIRING_APIS
from .firing import BlobVersion

COPY_PENDING = "copy_pending"
COPY_NOT_DONE = {"pending": COPY_PENDING, "failed": "copy_failed", "aborted": "copy_aborted"}


@dataclass(frozen=True)
class Decision:
    trigger: Trigger
    matched: bool
    reason: str
    fields: dict[str, object] = field(default_factory=dict)  # what else the log line should say


def placement(watch: WatchSpec, blob_name: str) -> str | None:
    """None when the blob sits directly in the watched folder, else why not (outside or subfolder)."""
    if watch.folder:
        prefix = watch.folder + "/"
        if not blob_name.startswith(prefix):
            return "outside_folder"
        rest = blob_name[len(prefix):]
    else:
        rest = blob_name
    # Storage saves a `\` in a name as `/`, so a backslash in an event's name means a subfolder too.
    return "subfolder" if "/" in rest or "\\" in rest or not rest else None


def content_skip(watch: WatchSpec, blob: BlobVersion) -> str | None:
    """Filters on the blob itself, shared by the event path and the sweep."""
    if watch.blob_path_ends_with and not blob.name.endswith(watch.blob_path_ends_with):
        return "suffix"
    if blob.api in NEVER_FIRING_APIS:
        return NEVER_FIRING_APIS[blob.api]
    if watch.event_apis is not None and blob.api is not None and blob.api not in watch.event_apis:
        return "api_not_allowed"
    if blob.copy_status in COPY_NOT_DONE:
        return COPY_NOT_DONE[blob.copy_status]
    if watch.ignore_empty_blobs and blob.size == 0:
        return "empty"
    return None


def decide(trigger: Trigger, blob: BlobVersion, trigger_account: str | None = None) -> Decision:
    """`trigger_account` (the account of the trigger's connection) is compared with the blob's when both are
    known; the sweep lists through the trigger's own connection, so only events need it."""
    watch = trigger.watch
    if watch is None:
        return Decision(trigger, False, "not_a_watch")
    if watch.container != blob.container:
        return Decision(trigger, False, "other_container")
    if trigger_account and blob.account and trigger_account != blob.account:
        return Decision(trigger, False, "other_account", {"trigger_account": trigger_account})
    if not trigger.active:
        return Decision(trigger, False, "disabled")
    reason = placement(watch, blob.name) or content_skip(watch, blob)
    return Decision(trigger, reason is None, reason or "matched")


def decisions_for(triggers: Iterable[Trigger], blob: BlobVersion) -> list[Decision]:
    """One decision per watch trigger on a container of the blob's name (other triggers are not concerned);
    a trigger on another account's container of that name is told apart by its connection's account."""
    decisions = []
    for trigger in triggers:
        if trigger.watch is None or trigger.watch.container != blob.container:
            continue
        account = connection_account(trigger.watch.connection) if trigger.active else None
        decisions.append(decide(trigger, blob, account))
    return decisions
