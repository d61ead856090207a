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
- Under a timer tick's deadline (`shared/deadline.py`) a sweep that is not done stops starting blobs,
  lets those in flight finish and saves its place (`progress` in its state document); the next tick
  continues from there, and only a finished listing moves the watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.storage.blob import BlobProperties, ContainerClient

from .accounts import connection_account
from .checkpoints import StateStore
from .clock import iso, parse_iso, utc_now
from .config import Trigger
from .deadline import Deadline
from .firing_pool import FiringPool, Progress
from .listing import (
    Listing,
    Position,
    blob_version,
    folder_prefix,
    naming_a_missing_container,
    server_time,
    watched_container,
)
from .logs import log_decision
from .matching import COPY_PENDING, decide
from .runtime import Runtime
from .sweep_report import SweepReport
from .watermark import OVERLAP, SweepState


@dataclass(frozen=True)
class Segment:
    """One stretch of a listing: where it stopped, whether it reached the end, the oldest unsettled blob."""

    listing: Listing
    oldest_unsettled: datetime | None
    finished: bool


def submit_listed(trigger: Trigger, runtime: Runtime, report: SweepReport, container: ContainerClient,
                  wanted: Callable[[BlobProperties], bool], source: str, progress: Progress | None = None,
                  deadline: Deadline | None = None, resume: Position | None = None) -> Segment:
    """Fire every listed blob that `wanted` keeps and the trigger's filters accept, until the listing ends or
    the deadline passes (looked at after each blob, so the listing's position is the last blob handled)."""
    listing = Listing(container, trigger.watch, resume)  # type: ignore[arg-type]
    pool = FiringPool(trigger, runtime, report, source, progress)
    account = connection_account(trigger.watch.connection)  # type: ignore[union-attr]

    def consider(item: BlobProperties) -> None:
        report.listed += 1
        if not wanted(item):
            return
        report.candidates += 1
        blob = blob_version(container, item, account)
        decision = decide(trigger, blob)
        if not decision.matched:
            report.skipped[decision.reason] += 1
            log_decision("skipped", trigger=trigger.name, **blob.describe(), reason=decision.reason, source=source)
            if decision.reason == COPY_PENDING:  # runs when the copy has succeeded: a later sweep lists it
                pool.hold(blob.last_modified)
            return
        pool.submit(blob)

    finished = True
    try:
        for item in listing:
            consider(item)
            if deadline is not None and deadline.passed:
                finished = False
                break
    finally:
        pool.close()
    return Segment(listing, pool.oldest_unsettled, finished)


def since(floor: datetime | None) -> Callable[[BlobProperties], bool]:
    """The blobs a sweep from `floor` considers (None: all of them, as a backfill does)."""
    return (lambda item: True) if floor is None else (lambda item: item.last_modified >= floor)


def sweep_trigger(trigger: Trigger, runtime: Runtime, store: StateStore, *, now: datetime | None = None,
                  force: bool = False, progress: Progress | None = None,
                  deadline: Deadline | None = None) -> SweepReport:
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
    saved = state.progress if state.progress and state.progress.get("prefix") == folder_prefix(watch) else None
    with naming_a_missing_container(trigger):
        if saved is not None and not state.paused:  # a sweep a deadline stopped: on from where it got to
            floor = parse_iso(saved["floor"]) if saved.get("floor") else None
            report.state = "armed" if saved["source"] == "backfill" else "swept"
            segment = submit_listed(trigger, runtime, report, container, since(floor), saved["source"], progress,
                                    deadline, Position(saved.get("marker"), saved.get("after")))
            return settle(trigger, state, report, segment, floor, saved, now)
        if not state.armed:
            return _arm(trigger, runtime, state, container, now, report, progress, deadline,
                        include_existing=watch.backfill and not state.paused)
        floor = state.watermark - OVERLAP  # type: ignore[operator]
        segment = submit_listed(trigger, runtime, report, container, since(floor), "sweep", progress, deadline)
    return settle(trigger, state, report, segment, floor, None, now)


def settle(trigger: Trigger, state: SweepState, report: SweepReport, segment: Segment, floor: datetime | None,
           saved: dict[str, Any] | None, now: datetime) -> SweepReport:
    """A finished listing moves the watermark: to the start of its first stretch, held back to the oldest blob
    not settled in any stretch. An unfinished one saves its place, and the watermark stays."""
    earlier = saved or {}
    started = earliest(earlier.get("started_at"), segment.listing.started_at) or now - OVERLAP
    oldest = earliest(earlier.get("oldest_unsettled"), segment.oldest_unsettled)
    level = logging.ERROR if report.errors else logging.INFO
    if segment.finished:
        report.watermark = state.advance(started, oldest, now)
        log_decision("sweep_armed" if report.state == "armed" else "swept", level, **report.summary())
        return report
    position = segment.listing.position
    state.checkpoint({"prefix": folder_prefix(trigger.watch), "floor": floor and iso(floor),  # type: ignore[arg-type]
                      "source": earlier.get("source") or ("backfill" if report.state == "armed" else "sweep"),
                      "marker": position.marker, "after": position.after, "started_at": iso(started),
                      "oldest_unsettled": oldest and iso(oldest)}, now)
    report.state = "checkpointed"
    log_decision("sweep_checkpointed", level, **report.summary(), after=position.after, reason="tick_deadline")
    return report


def earliest(saved: str | None, current: datetime | None) -> datetime | None:
    times = [moment for moment in (parse_iso(saved) if saved else None, current) if moment is not None]
    return min(times) if times else None


def _arm(trigger: Trigger, runtime: Runtime, state: SweepState, container: ContainerClient, now: datetime,
         report: SweepReport, progress: Progress | None, deadline: Deadline | None,
         include_existing: bool) -> SweepReport:
    """First sweep (or first after a pause): from here on, new blobs count; older ones only on backfill."""
    report.state = "armed"
    if include_existing:
        segment = submit_listed(trigger, runtime, report, container, since(None), "backfill", progress, deadline)
        return settle(trigger, state, report, segment, None, None, now)
    report.watermark = state.advance(server_time(container), None, now)
    log_decision("sweep_armed", **report.summary())
    return report
