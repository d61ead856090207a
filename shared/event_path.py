"""The event path: a storage event -> matching watch triggers -> one run each, exactly once.

Events are acknowledged (the function returns) when there is nothing left to do: submitted, a
duplicate, a permanent failure recorded for replay, or an event that can never be used. The function
raises only when a retry can help (a transient failure was recorded, another invocation holds the
claim, or a copy is still pending), so Event Grid delivers the event again instead of it being lost.

Before anything is claimed, the blob's properties are read once per connection (`blob_state`): a late
event for an overwritten or deleted blob is skipped, and a rename gets the ETag and size its event lacks.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .blob_state import Gone, current_version
from .config import Trigger
from .dispatch import FiringResult, Outcome, fire
from .events import UNKNOWN_ETAG, DirectoryRename, Unusable, read_event
from .firing import BlobVersion
from .logs import log_decision
from .matching import COPY_PENDING, decide, decisions_for
from .renamed_directory import handle_directory_rename
from .runtime import Runtime, current_runtime
from .settings import float_setting

# Event Grid waits 30 s for an answer; what is not settled by then is left to its redelivery and the sweep.
DEFAULT_EVENT_BUDGET_SECONDS = 20.0


class RetryLaterError(RuntimeError):
    """Raised so that Event Grid redelivers the event; the ledger (or the log) already says why."""


def handle_blob_event(
    event_id: str, event_type: str, subject: object, data: Any, runtime: Runtime | None = None,
    topic: object = None,
) -> list[FiringResult]:
    deadline = time.monotonic() + float_setting("PIPELINE_EVENT_BUDGET_SECONDS", DEFAULT_EVENT_BUDGET_SECONDS)
    runtime = runtime or current_runtime()
    event = read_event(event_type, subject, data, topic)
    if isinstance(event, Unusable):
        log_decision("ignored", logging.WARNING if event.reason == "malformed" else logging.INFO,
                     event_id=event_id, event_type=event_type, reason=event.reason, detail=event.detail)
        return []
    if isinstance(event, DirectoryRename):
        settle([], f"directory {event.container}/{event.directory}", handle_directory_rename(event_id, event, runtime))
        return []
    blob = event
    log_decision("received", event_id=event_id, **blob.describe(), size=blob.size, api=blob.api)
    decisions = decisions_for(runtime.config.triggers, blob)
    if not decisions:
        log_decision("skipped", event_id=event_id, **blob.describe(), reason="container_not_watched")
        return []
    for decision in decisions:
        if not decision.matched:
            log_decision("skipped", event_id=event_id, trigger=decision.trigger.name, **blob.describe(),
                         reason=decision.reason, **decision.fields)
    results, deferred = fire_current(event_id, blob, [d.trigger for d in decisions if d.matched], runtime, deadline)
    settle(results, f"blob {blob.container}/{blob.name} etag {blob.etag or '(renamed)'}", deferred)
    return results


def fire_current(event_id: str, blob: BlobVersion, triggers: list[Trigger], runtime: Runtime,
                 deadline: float | None = None) -> tuple[list[FiringResult], list[str]]:
    """Fire each trigger on the blob as it is now; returns the results and the triggers deferred because the
    blob's copy is still pending. `deadline`: when the answer to Event Grid is due (see `fire`)."""
    versions: dict[str, BlobVersion | Gone] = {}
    results: list[FiringResult] = []
    deferred: list[str] = []
    for trigger in triggers:
        connection = trigger.watch.connection  # type: ignore[union-attr]
        if connection not in versions:
            versions[connection] = current_version(blob, connection)
        current = versions[connection]
        if isinstance(current, Gone):
            log_decision("skipped", event_id=event_id, trigger=trigger.name, **blob.describe(),
                         reason=current.reason, **current.fields)
            continue
        decision = decide(trigger, current)  # again: a rename's size and a copy's state are known only now
        if decision.reason == COPY_PENDING:
            log_decision("deferred", event_id=event_id, trigger=trigger.name, **current.describe(),
                         reason=COPY_PENDING)
            deferred.append(f"{trigger.name} ({COPY_PENDING})")
        elif not decision.matched:
            log_decision("skipped", event_id=event_id, trigger=trigger.name, **current.describe(),
                         reason=decision.reason)
        else:
            log_decision("matched", event_id=event_id, trigger=trigger.name, **current.describe(),
                         event_etag=blob.etag if blob.etag not in (UNKNOWN_ETAG, current.etag) else None)
            results.append(fire(trigger, current, ledger=runtime.ledger, submitter=runtime.submitter,
                                source="event", deadline=deadline))
    return results, deferred


def settle(results: list[FiringResult], what: str, unsettled: list[str] | None = None) -> None:
    """Acknowledge (return) only when every firing is final; otherwise raise so Event Grid delivers again.
    `unsettled` says which triggers are not final for another reason (a pending copy, a listing), and why."""
    pending = [f"{r.trigger} ({r.outcome.value})" for r in results if r.outcome in (Outcome.RETRY, Outcome.IN_PROGRESS)]
    pending += unsettled or []
    if pending:
        raise RetryLaterError(f"{what}: not settled for {', '.join(pending)}; Event Grid will deliver the event again")
