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
from .dispatch import FiringResult, Outcome, fire
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


class InFlightLimit:
    """The sweep's request sender: at most `limit` requests in flight to the pipeline service at once.

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
