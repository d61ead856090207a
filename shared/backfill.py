"""Backfill: the top-level blobs that predate a watch trigger's watermark, counted or submitted on request.

The first sweep of a trigger does not run what is already there; an operator asks for it here (`python -m
shared backfill`), through the same filters and ledger, so anything already submitted is skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime

from azure.storage.blob import ContainerClient

from .accounts import connection_account
from .checkpoints import StateStore
from .config import Trigger
from .firing_pool import Progress
from .listing import Listing, blob_version, watched_container
from .logs import log_decision
from .matching import decide
from .runtime import Runtime
from .sweep import submit_listed
from .sweep_report import SweepReport
from .watermark import SweepState


def backfill_candidates(trigger: Trigger, store: StateStore) -> tuple[ContainerClient, datetime | None]:
    watch = trigger.watch
    assert watch is not None
    return watched_container(watch), SweepState.read(store, trigger.name).watermark


def count_backfill(trigger: Trigger, store: StateStore) -> int:
    """How many top-level blobs predate the watermark and pass the trigger's filters."""
    container, watermark = backfill_candidates(trigger, store)
    account = connection_account(trigger.watch.connection)  # type: ignore[union-attr]
    return sum(
        1 for item in Listing(container, trigger.watch)  # type: ignore[arg-type]
        if (watermark is None or item.last_modified < watermark)
        and decide(trigger, blob_version(container, item, account)).matched
    )


def backfill(trigger: Trigger, runtime: Runtime, store: StateStore, progress: Progress | None = None) -> SweepReport:
    """Submit the blobs that predate the watermark (the ledger still drops any already submitted)."""
    container, watermark = backfill_candidates(trigger, store)
    report = SweepReport(trigger.name, state="backfilled")
    submit_listed(trigger, runtime, report, container,
                  lambda item: watermark is None or item.last_modified < watermark, "backfill", progress)
    log_decision("backfilled", logging.ERROR if report.errors else logging.INFO, **report.summary())
    return report
