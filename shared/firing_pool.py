"""The sweep's thread pool: fires listed blobs on a few threads, with a bounded queue and a bound on the
requests in flight to the pipeline service, so a 100k-blob backlog never piles up in memory or floods the
service. It also remembers the oldest blob whose outcome is not settled, which holds the watermark back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from .config import Trigger
from .dispatch import FiringResult, Outcome, fire, resolve_content_version
from .firing import BlobVersion
from .invocation import thread_initializer
from .logs import log_decision
from .runtime import Runtime
from .settings import float_setting
from .submitter import SubmitResult, Submitter
from .sweep_report import SweepReport
from .targets import PipelineRequest

UNSETTLED = (Outcome.RETRY, Outcome.IN_PROGRESS)
Progress = Callable[[int], None]


class RequestSlot:
    """One of the `limit` requests in flight to the pipeline service, held from the claim to the answer.

    A firing takes its slot before it claims, not only around the POST: a blob that claimed first and then
    waited for a slot behind slow requests could see its lease run out before it even sent, and be taken
    over and sent twice (#12.3). The content-version lookup comes before the slot and the slot is given back as
    soon as the answer is in, so those ledger round trips and the write that records the answer overlap other
    blobs' requests: with 1,000 blobs and a service answering in 50 ms, 8 threads
    that each held a slot for their whole firing kept only ~4.5 requests in flight (12.6 s); 16 threads
    limited to 8 requests took 9.2 s.
    """

    def __init__(self, submitter: Submitter, gate: threading.BoundedSemaphore) -> None:
        self.submitter = submitter
        self.gate = gate
        self.held = False

    def __enter__(self) -> RequestSlot:
        self.gate.acquire()
        self.held = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.gate.release()

    def submit(self, request: PipelineRequest, deadline: float | None = None) -> SubmitResult:
        try:
            return self.submitter.submit(request, deadline)
        finally:
            self.release()


class FiringPool:
    """Fires blobs on a few threads with a bounded queue, so a 100k-blob backlog never piles up in memory.

    `PIPELINE_SWEEP_CONCURRENCY` bounds the requests in flight to the service; twice as many threads keep
    those slots busy while the other blobs' ledger writes are under way.
    """

    def __init__(self, trigger: Trigger, runtime: Runtime, report: SweepReport, source: str,
                 progress: Progress | None) -> None:
        self.trigger, self.runtime, self.report, self.source = trigger, runtime, report, source
        self.progress = progress
        in_flight = max(1, int(float_setting("PIPELINE_SWEEP_CONCURRENCY", 8)))
        self.in_flight = threading.BoundedSemaphore(in_flight)
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
        future = self.pool.submit(self._fire, blob)
        future.add_done_callback(lambda f: self._settle(blob, f))

    def _fire(self, blob: BlobVersion) -> FiringResult:
        blob = resolve_content_version(self.runtime.ledger, blob)  # a ledger round trip: outside the slot
        with RequestSlot(self.runtime.submitter, self.in_flight) as slot:
            return fire(self.trigger, blob, ledger=self.runtime.ledger, submitter=slot, source=self.source)

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
