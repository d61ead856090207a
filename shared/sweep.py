"""The polling sweep: finds top-level blobs the event path missed, through the same ledger.

The stages live beside it, one job each: `listing` (the watched folder's top-level blobs), `firing_pool`
(the threads and the bound on requests in flight), `watermark` (where the last sweep got to) and
`backfill` (older blobs, on request).

- The first sweep of a trigger records a watermark and submits nothing (no re-runs of old files on
  first deploy); `backfill` submits older blobs on request.
- `Last-Modified` has one-second granularity, so each sweep overlaps the previous one; the ledger
  drops what was already submitted.
- The watermark never passes a blob whose submission is not settled, so a crash or a failure mid-sweep
  loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from azure.storage.blob import BlobProperties, ContainerClient

from .accounts import connection_account
from .checkpoints import StateStore
from .clock import utc_now
from .config import Trigger
from .firing_pool import FiringPool, Progress
from .listing import Listing, blob_version, naming_a_missing_container, server_time, watched_container
from .logs import log_decision
from .matching import COPY_PENDING, decide
from .runtime import Runtime
from .sweep_report import SweepReport
from .watermark import OVERLAP, SweepState


def submit_listed(trigger: Trigger, runtime: Runtime, report: SweepReport, container: ContainerClient,
                  wanted: Callable[[BlobProperties], bool], source: str,
                  progress: Progress | None = None) -> tuple[Listing, datetime | None]:
    """Fire every listed blob that `wanted` keeps and the trigger's filters accept; returns the listing (its
    start time) and the oldest blob whose outcome is not settled."""
    listing = Listing(container, trigger.watch)  # type: ignore[arg-type]
    pool = FiringPool(trigger, runtime, report, source, progress)
    account = connection_account(trigger.watch.connection)  # type: ignore[union-attr]
    try:
        for item in listing:
            report.listed += 1
            if not wanted(item):
                continue
            report.candidates += 1
            blob = blob_version(container, item, account)
            decision = decide(trigger, blob)
            if not decision.matched:
                report.skipped[decision.reason] += 1
                log_decision("skipped", trigger=trigger.name, **blob.describe(), reason=decision.reason,
                             source=source)
                if decision.reason == COPY_PENDING:  # runs when the copy has succeeded: a later sweep lists it
                    pool.hold(blob.last_modified)
                continue
            pool.submit(blob)
    finally:
        pool.close()
    return listing, pool.oldest_unsettled


def sweep_trigger(trigger: Trigger, runtime: Runtime, store: StateStore, *, now: datetime | None = None,
                  force: bool = False, progress: Progress | None = None) -> SweepReport:
    watch = trigger.watch
    assert watch is not None
    now = now or utc_now()
    report = SweepReport(trigger.name)
    state = SweepState.read(store, trigger.name)
    if not trigger.active:
        report.state = "paused"
        state.pause()
        return report
    if not force and not state.due(now, timedelta(minutes=watch.polling_interval)):
        report.state = "not_due"
        return report
    container = watched_container(watch)
    with naming_a_missing_container(trigger):
        if not state.armed:
            return _arm(trigger, runtime, state, container, now, report, progress,
                        include_existing=watch.backfill and not state.paused)
        floor = state.watermark - OVERLAP  # type: ignore[operator]
        listing, oldest_unsettled = submit_listed(
            trigger, runtime, report, container, lambda item: item.last_modified >= floor, "sweep", progress)
    report.watermark = state.advance(listing.started_at or now - OVERLAP, oldest_unsettled, now)
    log_decision("swept", logging.ERROR if report.errors else logging.INFO, **report.summary())
    return report


def _arm(trigger: Trigger, runtime: Runtime, state: SweepState, container: ContainerClient, now: datetime,
         report: SweepReport, progress: Progress | None, include_existing: bool) -> SweepReport:
    """First sweep (or first after a pause): from here on, new blobs count; older ones only on backfill."""
    report.state = "armed"
    if include_existing:
        listing, oldest_unsettled = submit_listed(trigger, runtime, report, container, lambda item: True,
                                                  "backfill", progress)
        report.watermark = state.advance(listing.started_at or now - OVERLAP, oldest_unsettled, now)
    else:
        report.watermark = state.advance(server_time(container), None, now)
    log_decision("sweep_armed", **report.summary(), backfill=include_existing or None)
    return report
