"""Backfill: the top-level blobs that predate a watch trigger's watermark, counted or submitted on request.

The first sweep of a trigger does not run what is already there; an operator asks for it here (`python -m
shared backfill`), through the same filters and ledger, so anything already submitted is skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from azure.storage.blob import BlobProperties, ContainerClient

from .accounts import connection_account
from .checkpoints import StateStore
from .config import Trigger
from .content_versions import as_recorded
from .dispatch import REFUSAL_REASONS
from .firing import BlobVersion, firing_from_record
from .firing_pool import Progress
from .ledger import FAILED, SUBMITTED, Ledger, entry_key
from .ledger_listing import LedgerListing
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


@dataclass(frozen=True)
class BackfillCount:
    """What a backfill would do: `blobs` predate the watermark and pass the filters; `recorded` of them already
    have a final ledger record (submitted or failed) and are skipped without a claim."""

    blobs: int
    recorded: int


@dataclass(frozen=True)
class Recorded:
    """One trigger's final records (submitted or failed), from one listing (`shared/ledger_index.py`): their
    states by key, and the blobs they are about. Only a firing too long for the listing is downloaded."""

    trigger: str
    ledger: ContainerClient  # where the content-version histories are
    states: dict[str, str]
    subjects: frozenset[str]

    @classmethod
    def read(cls, ledger: Ledger, trigger: str) -> Recorded:
        listing = LedgerListing(ledger)
        rows = [row for row in map(listing.complete, listing.rows(trigger, {SUBMITTED, FAILED})) if row is not None]
        return cls(trigger, ledger.container, {row.key: row.state for row in rows},
                   frozenset(firing_from_record(row.firing).ledger_subject for row in rows if row.firing))

    def find(self, blob: BlobVersion) -> tuple[BlobVersion, str | None]:
        """`blob` as its firing would key it, and the state of that record (None: it has none). A blob with a
        record is keyed by its content version, looked up read only in its history, so a metadata change since
        its submission finds that submission; a blob without one, or recorded under its own ETag, costs no lookup."""
        blob = as_recorded(self.ledger, self.trigger, blob, self.states, self.subjects)
        return blob, self.states.get(entry_key(self.trigger, blob))


def count_backfill(trigger: Trigger, store: StateStore, ledger: Ledger) -> BackfillCount:
    container, watermark = backfill_candidates(trigger, store)
    account = connection_account(trigger.watch.connection)  # type: ignore[union-attr]
    recorded = Recorded.read(ledger, trigger.name)
    blobs = known = 0
    for item in Listing(container, trigger.watch):  # type: ignore[arg-type]
        blob = blob_version(container, item, account)
        if (watermark is None or item.last_modified < watermark) and decide(trigger, blob).matched:
            blobs += 1
            known += recorded.find(blob)[1] is not None
    return BackfillCount(blobs, known)


def backfill(trigger: Trigger, runtime: Runtime, store: StateStore, progress: Progress | None = None) -> SweepReport:
    """Submit the blobs that predate the watermark. Those with a final record in the ledger's listing are skipped
    (and logged) without a claim; the ledger still drops any submitted since."""
    container, watermark = backfill_candidates(trigger, store)
    account = connection_account(trigger.watch.connection)  # type: ignore[union-attr]
    recorded = Recorded.read(runtime.ledger, trigger.name)
    report = SweepReport(trigger.name, state="backfilled")

    def wanted(item: BlobProperties) -> bool:
        if watermark is not None and item.last_modified >= watermark:
            return False
        blob, state = recorded.find(blob_version(container, item, account))
        if state is None:
            return True
        report.skipped[REFUSAL_REASONS[state]] += 1
        log_decision("skipped", trigger=trigger.name, **blob.describe(), reason=REFUSAL_REASONS[state],
                     source="backfill")
        return False

    submit_listed(trigger, runtime, report, container, wanted, "backfill", progress)
    log_decision("backfilled", logging.ERROR if report.errors else logging.INFO, **report.summary())
    return report
