"""The polling sweep: finds top-level blobs the event path missed, through the same ledger.

- Lists only the watched folder with a `/` delimiter, so blobs in subfolders cost nothing and never
  trigger; pages are streamed, so memory stays flat however large the folder is.
- The first sweep of a trigger records a watermark and submits nothing (no re-runs of old files on
  first deploy); `backfill` submits older blobs on request.
- `Last-Modified` has one-second granularity, so each sweep overlaps the previous one; the ledger
  drops what was already submitted.
- The watermark only advances to the server time at which the listing started, and never past a
  blob whose submission is not settled (transient failure, claimed elsewhere, error), so a crash or a
  failure mid-sweep loses nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobPrefix, BlobProperties, ContainerClient

from .accounts import connection_account
from .checkpoints import StateStore
from .clock import iso, parse_iso, utc_now
from .config import Trigger, WatchSpec
from .dispatch import FiringResult, Outcome, fire
from .firing import BlobVersion, normalise_etag
from .invocation import thread_initializer
from .logs import log_decision
from .matching import COPY_PENDING, decide
from .runtime import Runtime
from .settings import float_setting
from .storage import blob_service
from .submitter import SubmitResult, Submitter
from .targets import PipelineRequest

OVERLAP = timedelta(seconds=1)  # the Date header already rounds down; this covers clock skew
DUE_TOLERANCE = timedelta(seconds=10)
UNSETTLED = (Outcome.RETRY, Outcome.IN_PROGRESS)
Progress = Callable[[int], None]


@dataclass
class SweepReport:
    trigger: str
    state: str = "swept"  # swept | armed | not_due | paused
    listed: int = 0
    candidates: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    watermark: str | None = None

    def summary(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "state": self.state, "listed": self.listed,
                "candidates": self.candidates, **{f"n_{k}": v for k, v in self.outcomes.items()},
                **{f"skipped_{k}": v for k, v in self.skipped.items()}, "errors": len(self.errors) or None,
                "watermark": self.watermark}


def folder_prefix(watch: WatchSpec) -> str:
    return f"{watch.folder}/" if watch.folder else ""


def watched_container(watch: WatchSpec) -> ContainerClient:
    return blob_service(watch.connection).get_container_client(watch.container)


def server_time(container: ContainerClient) -> datetime:
    """The storage service's clock (its `Date` header): `Last-Modified` is stamped by that clock, not ours."""
    dates: list[str] = []
    container.get_container_properties(raw_response_hook=lambda r: dates.append(r.http_response.headers["Date"]))
    return parsedate_to_datetime(dates[0])


class Listing:
    """The top-level blobs of the watched folder, page by page, remembering when the listing started."""

    def __init__(self, container: ContainerClient, watch: WatchSpec) -> None:
        self.container = container
        self.watch = watch
        self.started_at: datetime | None = None

    def _hook(self, response: Any) -> None:
        if self.started_at is None and "Date" in response.http_response.headers:
            self.started_at = parsedate_to_datetime(response.http_response.headers["Date"])

    def __iter__(self) -> Iterator[BlobProperties]:
        # `copy`: a blob whose copy is still pending, failed or was aborted is not content to run on.
        items = self.container.walk_blobs(name_starts_with=folder_prefix(self.watch), delimiter="/", include=["copy"],
                                          results_per_page=int(float_setting("PIPELINE_SWEEP_PAGE_SIZE", 5000)),
                                          raw_response_hook=self._hook)
        for page in items.by_page():
            for item in page:
                if not isinstance(item, BlobPrefix):
                    yield item


def blob_version(container: ContainerClient, item: BlobProperties, account: str | None) -> BlobVersion:
    """`account` is the trigger's connection's (`connection_account`), as the event path names it."""
    return BlobVersion(
        container=container.container_name,
        name=item.name,
        etag=normalise_etag(str(item.etag)),
        size=item.size,
        url=container.get_blob_client(item.name).url,
        last_modified=item.last_modified,
        account=account,
        copy_status=item.copy.status if item.copy else None,
    )


class InFlightLimit:
    """The sweep's submitter: at most `limit` requests in flight to the pipeline service at once.

    Only the request itself takes a slot. The ledger writes around it (the claim before, the record after)
    run outside the limit, on the sweep's other threads, so they overlap other blobs' requests instead of
    idling a slot: with 1,000 blobs and a service answering in 50 ms, 8 threads that each also wrote the
    ledger kept only ~4.5 requests in flight (12.6 s); 16 threads limited to 8 requests took 9.2 s.
    """

    def __init__(self, submitter: Submitter, limit: int) -> None:
        self.submitter = submitter
        self.gate = threading.BoundedSemaphore(limit)

    def submit(self, request: PipelineRequest, deadline: float | None = None) -> SubmitResult:
        with self.gate:
            return self.submitter.submit(request, deadline)


class BoundedSubmitter:
    """Fires blobs on a few threads with a bounded queue, so a 100k-blob backlog never piles up in memory.

    `PIPELINE_SWEEP_CONCURRENCY` bounds the requests in flight to the service; twice as many threads keep
    those slots busy while the other blobs' ledger writes are under way.
    """

    def __init__(self, trigger: Trigger, runtime: Runtime, report: SweepReport, source: str,
                 progress: Progress | None) -> None:
        self.trigger, self.runtime, self.report, self.source = trigger, runtime, report, source
        self.progress = progress
        in_flight = max(1, int(float_setting("PIPELINE_SWEEP_CONCURRENCY", 8)))
        self.submitter = InFlightLimit(runtime.submitter, in_flight)
        self.pool = ThreadPoolExecutor(max_workers=in_flight * 2, thread_name_prefix="sweep",
                                       initializer=thread_initializer())
        self.slots = threading.BoundedSemaphore(in_flight * 4)
        self.lock = threading.Lock()
        self.done = 0
        self.oldest_unsettled: datetime | None = None

    def hold(self, moment: datetime | None) -> None:
        """Keep the watermark at or before `moment`: a blob there is not settled yet."""
        with self.lock:
            if moment and (self.oldest_unsettled is None or moment < self.oldest_unsettled):
                self.oldest_unsettled = moment

    def submit(self, blob: BlobVersion) -> None:
        self.slots.acquire()
        future = self.pool.submit(fire, self.trigger, blob, ledger=self.runtime.ledger,
                                  submitter=self.submitter, source=self.source)
        future.add_done_callback(lambda f: self._settle(blob, f))

    def _settle(self, blob: BlobVersion, future: Future[FiringResult]) -> None:
        try:
            error = future.exception()
            outcome = "error" if error else future.result().outcome.value
            with self.lock:
                self.report.outcomes[outcome] += 1
                if error:
                    self.report.errors.append(f"{blob.name}: {type(error).__name__}: {error}")
                    log_decision("failed", logging.ERROR, trigger=self.trigger.name, **blob.describe(),
                                 message=f"{type(error).__name__}: {error}", source=self.source)
                self.done += 1
                done = self.done
            if error or future.result().outcome in UNSETTLED:
                self.hold(blob.last_modified)
            if self.progress:
                self.progress(done)
        finally:
            self.slots.release()

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def submit_listed(trigger: Trigger, runtime: Runtime, report: SweepReport, container: ContainerClient,
                  wanted: Callable[[BlobProperties], bool], source: str,
                  progress: Progress | None = None) -> tuple[Listing, datetime | None]:
    """Fire every listed blob that `wanted` keeps and the trigger's filters accept."""
    listing = Listing(container, trigger.watch)  # type: ignore[arg-type]
    pool = BoundedSubmitter(trigger, runtime, report, source, progress)
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


class WatchedContainerMissingError(LookupError):
    """The watched container does not exist: a configuration or deployment mistake, named plainly."""


@contextmanager
def naming_a_missing_container(trigger: Trigger) -> Iterator[None]:
    watch = trigger.watch
    assert watch is not None
    try:
        yield
    except ResourceNotFoundError as error:
        if error.error_code != "ContainerNotFound":
            raise
        raise WatchedContainerMissingError(
            f"trigger {trigger.name!r}: watched container {watch.container!r} does not exist in the account of "
            f"connection {watch.connection!r}") from None


def sweep_trigger(trigger: Trigger, runtime: Runtime, store: StateStore, *, now: datetime | None = None,
                  force: bool = False, progress: Progress | None = None) -> SweepReport:
    watch = trigger.watch
    assert watch is not None
    now = now or utc_now()
    report = SweepReport(trigger.name)
    state_name = f"sweep/{trigger.name}"
    state, etag = store.read(state_name)
    if not trigger.active:
        report.state = "paused"
        if state and not state.get("paused"):
            store.write(state_name, {**state, "paused": True}, etag)
        return report
    last_sweep = parse_iso(state["last_sweep_at"]) if state.get("last_sweep_at") else None
    interval = timedelta(minutes=watch.polling_interval)
    if not force and last_sweep and not state.get("paused") and now < last_sweep + interval - DUE_TOLERANCE:
        report.state = "not_due"
        return report
    container = watched_container(watch)
    with naming_a_missing_container(trigger):
        if not state.get("watermark") or state.get("paused"):
            return _arm(trigger, runtime, store, (state_name, etag), container, now, report, progress,
                        include_existing=watch.backfill and not state.get("paused"))
        floor = parse_iso(state["watermark"]) - OVERLAP
        listing, oldest_unsettled = submit_listed(
            trigger, runtime, report, container, lambda item: item.last_modified >= floor, "sweep", progress)
    _advance(store, (state_name, etag), report, listing.started_at or now - OVERLAP, oldest_unsettled, now)
    log_decision("swept", logging.ERROR if report.errors else logging.INFO, **report.summary())
    return report


def _advance(store: StateStore, state_ref: tuple[str, str | None], report: SweepReport, started: datetime,
             oldest_unsettled: datetime | None, now: datetime) -> None:
    """Move the watermark to the listing's start, held back to the oldest blob not yet settled."""
    watermark = min(started, oldest_unsettled) if oldest_unsettled else started
    report.watermark = iso(watermark)
    store.write(state_ref[0], {"watermark": iso(watermark), "last_sweep_at": iso(now)}, state_ref[1])


def _arm(trigger: Trigger, runtime: Runtime, store: StateStore, state_ref: tuple[str, str | None],
         container: ContainerClient, now: datetime, report: SweepReport, progress: Progress | None,
         include_existing: bool) -> SweepReport:
    """First sweep (or first after a pause): from here on, new blobs count; older ones only on backfill."""
    report.state = "armed"
    if include_existing:
        listing, oldest_unsettled = submit_listed(trigger, runtime, report, container, lambda item: True,
                                                  "backfill", progress)
        _advance(store, state_ref, report, listing.started_at or now - OVERLAP, oldest_unsettled, now)
    else:
        _advance(store, state_ref, report, server_time(container), None, now)
    log_decision("sweep_armed", **report.summary(), backfill=include_existing or None)
    return report


def backfill_candidates(trigger: Trigger, store: StateStore) -> tuple[ContainerClient, datetime | None]:
    watch = trigger.watch
    assert watch is not None
    state, _ = store.read(f"sweep/{trigger.name}")
    return watched_container(watch), parse_iso(state["watermark"]) if state.get("watermark") else None


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
