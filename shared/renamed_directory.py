"""A directory renamed onto a watched folder (hierarchical namespace): its files come without events.

`Microsoft.Storage.DirectoryRenamed` is one event for the directory and none for the files in it, and a
rename keeps each file's Last-Modified, so the polling sweep (which lists only what changed since its
watermark) cannot be relied on to see them. When the directory moved onto a watched folder, or onto one of
its parents, the watched folder's top-level blobs are listed now and fired through the same filters and
ledger, as a backfill would: a blob already submitted is not submitted again. A directory moved *into* a
watched folder becomes a subfolder of it, and files in subfolders never fire.
"""

from __future__ import annotations

from .accounts import connection_account
from .config import Trigger
from .events import RENAME_DIRECTORY, DirectoryRename
from .firing_pool import UNSETTLED
from .listing import naming_a_missing_container, watched_container
from .logs import log_decision
from .matching import placement
from .runtime import Runtime
from .sweep import submit_listed
from .sweep_report import SweepReport

SOURCE = "directory_rename"


def why_not_moved(trigger: Trigger, directory: str) -> str | None:
    """None when the renamed `directory` is the watched folder or one of its parents (and the trigger takes
    directory renames), else why the files it moved do not fire."""
    watch = trigger.watch
    assert watch is not None
    if not (watch.folder == directory or watch.folder.startswith(directory + "/")):
        return placement(watch, directory + "/x") or "subfolder"
    if watch.event_apis is not None and RENAME_DIRECTORY not in watch.event_apis:
        return "api_not_allowed"
    return None


def handle_directory_rename(event_id: str, rename: DirectoryRename, runtime: Runtime) -> list[str]:
    """Fire the watched folders the rename moved; returns the triggers whose blobs are not all settled."""
    where = {"account": rename.account, "container": rename.container, "directory": rename.directory}
    log_decision("received", event_id=event_id, **where, source_directory=rename.source, api=RENAME_DIRECTORY)
    concerned = [t for t in runtime.config.triggers if t.watch is not None and t.watch.container == rename.container]
    if not concerned:
        log_decision("skipped", event_id=event_id, **where, reason="container_not_watched")
    unsettled: list[str] = []
    for trigger in concerned:
        account = connection_account(trigger.watch.connection) if trigger.active else None  # type: ignore[union-attr]
        reason = ("disabled" if not trigger.active else "other_account" if account != rename.account
                  else why_not_moved(trigger, rename.directory))
        if reason is not None:
            log_decision("skipped", event_id=event_id, trigger=trigger.name, **where, reason=reason)
            continue
        report = SweepReport(trigger.name, state=SOURCE)
        with naming_a_missing_container(trigger):
            submit_listed(trigger, runtime, report, watched_container(trigger.watch), lambda item: True, SOURCE)
        log_decision("directory_listed", event_id=event_id, **where, **report.summary())
        if report.errors or any(report.outcomes[outcome.value] for outcome in UNSETTLED):
            unsettled.append(f"{trigger.name} (listing not settled)")
    return unsettled
