"""Which ledger records may be deleted, and what deleting them gives up.

A record is what stops a late Event Grid redelivery, a sweep's overlap or a `backfill` from running a
blob version twice, and a `failed` one is the operator's handle for a replay. So only final records
go: `submitted` ones, and `failed` ones only when the operator says so (and never one whose outcome is
uncertain: its run may exist). Every other state (`claimed`, `released`, and any state a later version
adds) is kept: the allow-list names what may go, never what must stay. Nothing younger than
`MIN_RETENTION` goes: Event Grid retries a delivery for up to 24 hours, and a redelivery that finds no
record submits again. Nor does a record its trigger's sweep could list again (a watermark held back by
an unsettled blob lists everything since).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from azure.core import MatchConditions
from azure.storage.blob import ContainerClient

from .accounts import connection_account
from .clock import parse_iso
from .config import Trigger
from .content_versions import as_recorded
from .ledger import FAILED, SUBMITTED, entry_key
from .ledger_index import IndexRow, is_uncertain_error
from .listing import Listing, blob_version, watched_container
from .matching import decide

EVENT_GRID_RETRY_WINDOW = timedelta(hours=24)
MIN_RETENTION = EVENT_GRID_RETRY_WINDOW + timedelta(hours=24)  # the margin covers clock skew and slow retries
SWEEP_MARGIN = timedelta(hours=1)  # between a record's last write and the oldest blob a sweep may list again
BATCH = 256  # deletes per blob batch request (the service's limit)


@dataclass(frozen=True)
class Rule:
    older_than: timedelta
    include_failed: bool = False

    def problem(self) -> str | None:
        if self.older_than < MIN_RETENTION:
            return (f"--older-than must be at least {MIN_RETENTION.days}d: Event Grid redelivers an event for up "
                    f"to 24 hours, and a redelivery that finds no ledger record submits the blob again")
        return None

    def prunable(self, row: IndexRow, now: datetime, sweep_floor: datetime | None) -> bool:
        """`sweep_floor`: the oldest time the trigger's next sweep lists from (None: no sweep lists it again)."""
        updated = parse_iso(row.updated_at)
        if updated >= now - self.older_than:
            return False
        if sweep_floor is not None and updated >= sweep_floor - SWEEP_MARGIN:
            return False
        if row.state == SUBMITTED:
            return True
        return self.include_failed and row.state == FAILED and not is_uncertain_error(row.error)


def still_watched(trigger: Trigger, keys: set[str], subjects: set[str], ledger: ContainerClient) -> int:
    """How many of these records' (`keys`, about the blobs `subjects`) blob versions are still in the watched
    folder and pass the filters: a `backfill` would submit exactly those again once their records are gone.

    A listed blob is keyed as its firing would key it: by its content version, looked up read only in its
    history, so a blob whose metadata changed since its record was written counts. An ETag of new bytes is a
    new version, which a backfill runs whether or not this prune deletes anything: not counted."""
    watch = trigger.watch
    assert watch is not None
    container, account = watched_container(watch), connection_account(watch.connection)
    count = 0
    for item in Listing(container, watch):
        blob = blob_version(container, item, account)
        if decide(trigger, blob).matched:
            count += entry_key(trigger.name, as_recorded(ledger, trigger.name, blob, keys, subjects)) in keys
    return count


class Stored(Protocol):
    """A ledger blob (a record or a content-version history) as it was read: its name and ETag then."""

    @property
    def name(self) -> str: ...

    @property
    def record_etag(self) -> str: ...


S = TypeVar("S", bound=Stored)


def delete(container: ContainerClient, rows: Iterable[S]) -> Iterator[tuple[S, bool]]:
    """Delete each blob only if it is still the version read (one written since is kept)."""
    batch: list[S] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield from _delete_batch(container, batch)
            batch = []
    if batch:
        yield from _delete_batch(container, batch)


def _delete_batch(container: ContainerClient, rows: list[S]) -> Iterator[tuple[S, bool]]:
    requests = [{"name": row.name, "etag": row.record_etag, "match_condition": MatchConditions.IfNotModified}
                for row in rows]
    answers = container.delete_blobs(*requests, raise_on_any_failure=False)
    for row, answer in zip(rows, answers, strict=True):
        yield row, answer.status_code == 202
