"""Which watch triggers a blob version fires, and why each other one does not.

The rule users rely on (from Azure ML change-based schedules): only blobs directly in the watched
folder trigger; anything in a subfolder never does. Event Grid filters cannot express that, so it is
decided here, for the event path and the sweep alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .config import Trigger, WatchSpec
from .firing import BlobVersion

ADLS_CREATE_FILE = "CreateFile"


@dataclass(frozen=True)
class Decision:
    trigger: Trigger
    matched: bool
    reason: str


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
    if blob.api == ADLS_CREATE_FILE:
        return "adls_create_file"
    if watch.ignore_empty_blobs and blob.size == 0:
        return "empty"
    return None


def decide(trigger: Trigger, blob: BlobVersion) -> Decision:
    watch = trigger.watch
    if watch is None:
        return Decision(trigger, False, "not_a_watch")
    if watch.container != blob.container:
        return Decision(trigger, False, "other_container")
    if not trigger.active:
        return Decision(trigger, False, "disabled")
    reason = placement(watch, blob.name) or content_skip(watch, blob)
    return Decision(trigger, reason is None, reason or "matched")


def decisions_for(triggers: Iterable[Trigger], blob: BlobVersion) -> list[Decision]:
    """One decision per watch trigger on the blob's container (other triggers are not concerned)."""
    return [
        decision
        for decision in (decide(trigger, blob) for trigger in triggers)
        if decision.reason not in ("not_a_watch", "other_container")
    ]
