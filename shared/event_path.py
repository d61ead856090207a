"""The event path: a `BlobCreated` event -> matching watch triggers -> one run each, exactly once.

Events are acknowledged (the function returns) when there is nothing left to do: submitted, a
duplicate, a permanent failure recorded for replay, or an event that can never be used. The function
raises only when a retry can help (a transient failure was recorded, or another invocation holds the
claim), so Event Grid delivers the event again instead of it being lost.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from .config import Trigger
from .dispatch import FiringResult, Outcome, fire
from .events import Unusable, blob_from_event
from .firing import BlobVersion
from .logs import log_decision
from .matching import decisions_for
from .runtime import Runtime, current_runtime
from .storage import blob_service


class RetryLaterError(RuntimeError):
    """Raised so that Event Grid redelivers the event; the ledger already says why."""


def with_url(blob: BlobVersion, trigger: Trigger) -> BlobVersion:
    """Event Grid always sends `data.url`, but an event without it still names the blob: its URL comes from
    the trigger's connection (no I/O), for the kinds that pass the blob by URL."""
    if blob.url or trigger.watch is None:
        return blob
    url = blob_service(trigger.watch.connection).get_blob_client(blob.container, blob.name).url
    return dataclasses.replace(blob, url=url)


def handle_blob_event(
    event_id: str, event_type: str, subject: object, data: Any, runtime: Runtime | None = None
) -> list[FiringResult]:
    runtime = runtime or current_runtime()
    blob = blob_from_event(event_type, subject, data)
    if isinstance(blob, Unusable):
        log_decision("ignored", logging.WARNING if blob.reason == "malformed" else logging.INFO,
                     event_id=event_id, event_type=event_type, reason=blob.reason, detail=blob.detail)
        return []
    log_decision("received", event_id=event_id, **blob.describe(), size=blob.size, api=blob.api)
    decisions = decisions_for(runtime.config.triggers, blob)
    if not decisions:
        log_decision("skipped", event_id=event_id, **blob.describe(), reason="container_not_watched")
        return []
    results: list[FiringResult] = []
    for decision in decisions:
        if not decision.matched:
            log_decision("skipped", event_id=event_id, trigger=decision.trigger.name, **blob.describe(),
                         reason=decision.reason)
            continue
        log_decision("matched", event_id=event_id, trigger=decision.trigger.name, **blob.describe())
        results.append(fire(decision.trigger, with_url(blob, decision.trigger), ledger=runtime.ledger,
                            submitter=runtime.submitter, source="event"))
    pending = [r for r in results if r.outcome in (Outcome.RETRY, Outcome.IN_PROGRESS)]
    if pending:
        names = ", ".join(f"{r.trigger} ({r.outcome.value})" for r in pending)
        raise RetryLaterError(f"blob {blob.container}/{blob.name} etag {blob.etag}: not settled for {names}; "
                              "Event Grid will deliver the event again")
    return results
