"""Chaos: hundreds of blobs through the event path and the sweep while everything misbehaves on a seeded
share of calls, then proof that nothing was lost and nothing ran twice except where the design says it can.

Real Azurite, real azure-identity, the pipeline stand-in. Injected:
- the service: 429 + Retry-After, 500, 503, connections dropped after the request, stalls past the read
  timeout (some after the run was accepted);
- Event Grid: each event delivered 1-3 times, some copies at the same moment, some events never (only the
  sweep, armed before the uploads, can find those); every delivery that raised is delivered again;
- the process: `SimulatedCrash` between claim and submit (the claim is left behind until its lease runs out,
  or released by the interrupted submission) and between submit and record (the run exists, the ledger
  does not know).

Duplicates that cannot be ruled out, counted apart: the service has no idempotency key, so a crash after
a successful POST and before recording it is POSTed again once the lease runs out
(`crash_window_duplicates`); and a run accepted by a service that then answered too late is recorded
`failed` with code ReadTimeout for an operator, never retried (`ambiguous_accepted`).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.firing import Firing
from shared.ledger import FAILED, SUBMITTED, Claim, Ledger, LedgerEntry, Refusal
from shared.runtime import current_runtime
from shared.submitter import SubmitResult, Submitter
from shared.sweep import SweepReport, sweep_trigger
from shared.targets import PipelineRequest
from tests.support.host import FunctionApp, blob_created_event, load_function
from tests.support.http_server import Request
from tests.support.standin import AcceptedRun, Fault, PipelineStandIn, relative_path
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
Event = dict[str, Any]
SEED = 20261125
BLOBS = 520
DECOYS = 20  # in a subfolder: delivered like the others, must never run
LEASE_SECONDS = 4.0  # above the worst submission: retry budget 1.5 s + read timeout 0.5 s, with room for load
READ_TIMEOUT = 0.5
SETTINGS = {
    "PIPELINE_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
    "PIPELINE_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    "PIPELINE_CONNECT_TIMEOUT_SECONDS": "1",
    "PIPELINE_RETRY_BASE_SECONDS": "0.01",
    "PIPELINE_RETRY_MAX_SECONDS": "0.05",
    "PIPELINE_RETRY_BUDGET_SECONDS": "1.5",
    "PIPELINE_MAX_ATTEMPTS": "3",
    "PIPELINE_SWEEP_CONCURRENCY": "4",
    "PIPELINE_LOOKUP_DELAY_SECONDS": "0.5",
}
# cumulative shares of pipeline requests that get each fault
SERVICE_FAULTS: list[tuple[float, str, Fault]] = [
    (0.015, "429 Retry-After: 1", Fault(status=429, retry_after="1")),
    (0.08, "429 Retry-After: 0", Fault(status=429, retry_after="0")),
    (0.12, "500", Fault(status=500)),
    (0.16, "503", Fault(status=503)),
    (0.18, "dropped", Fault(drop=True)),
    (0.20, "stalled, no run", Fault(stall=READ_TIMEOUT * 2, status=503)),  # its answer comes too late
    (0.22, "accepted then stalled", Fault(stall=READ_TIMEOUT * 2, create_run=True)),
]
CRASH_SHARES = {"after_claim": 0.04, "in_submit": 0.02, "before_record": 0.03}


class SimulatedCrash(BaseException):
    """The process dies here (a BaseException: no `except Exception` handler in the bridge catches it)."""


@dataclass
class Chaos:
    """Seeded decisions, the same for a given blob and call count whatever the thread interleaving."""

    seed: int
    active: bool = True
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    crashed_after_post: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def roll(self, kind: str, blob: str) -> float:
        with self.lock:
            self.calls[kind, blob] += 1
            nth = self.calls[kind, blob]
        return random.Random(f"{self.seed}:{kind}:{blob}:{nth}").random()

    def service_fault(self, request: Request) -> Fault | None:
        blob = relative_path(request.json()) if request.raw_body else None
        if blob is None:  # a lookup
            return None
        chance = self.roll("service", blob)
        for share, label, fault in SERVICE_FAULTS:
            if self.active and chance < share:
                with self.lock:
                    self.faults[label] += 1
                return fault
        return None

    def crash(self, where: str, blob: str) -> None:
        if self.active and self.roll(where, blob) < CRASH_SHARES[where]:
            with self.lock:
                self.crashes[where] += 1
                if where == "before_record":
                    self.crashed_after_post[blob] += 1
            raise SimulatedCrash(f"{where}: {blob}")


@pytest.fixture
def chaos(monkeypatch: pytest.MonkeyPatch, standin: PipelineStandIn) -> Iterator[Chaos]:
    """Crash points patched into the bridge's own seams, and the service's faults, all from one seed."""
    state = Chaos(SEED)
    real_claim, real_submit, real_record = Ledger.claim, Submitter.submit, Ledger.record_submitted

    def claim(self: Ledger, trigger: str, firing: Firing, request: dict[str, Any] | None,
              lookup_delay: float = 0.0) -> Claim | Refusal:
        result = real_claim(self, trigger, firing, request, lookup_delay)
        if isinstance(result, Claim):
            state.crash("after_claim", str(firing.describe()["blob"]))
        return result

    def submit(self: Submitter, request: PipelineRequest, deadline: float | None = None) -> SubmitResult:
        if request.method == "POST" and relative_path(request.body):
            state.crash("in_submit", relative_path(request.body) or "")
        return real_submit(self, request, deadline)

    def record_submitted(self: Ledger, claim: Claim, run_id: str | None, **options: Any) -> str | None:
        state.crash("before_record", str(claim.entry.firing["blob"]))
        return real_record(self, claim, run_id, **options)

    monkeypatch.setattr(Ledger, "claim", claim)
    monkeypatch.setattr(Submitter, "submit", submit)
    monkeypatch.setattr(Ledger, "record_submitted", record_submitted)
    standin.fault_hook = state.service_fault
    yield state
    standin.fault_hook = None


@dataclass
class EventGrid:
    """Delivers events the way Event Grid does: any delivery that raised is delivered again later."""

    function: FunctionApp
    retry: list[Event] = field(default_factory=list)
    raised: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, event: Event) -> None:
        try:
            self.function.invoke(event)
            error = None
        except (Exception, SimulatedCrash) as caught:
            error = caught
        with self.lock:
            self.deliveries += 1
            if error is not None:
                self.raised[type(error).__name__] += 1
                self.retry.append(event)

    def deliver_together(self, event: Event, copies: int) -> None:
        """Copies of one event arriving at the same moment on different instances."""
        barrier = threading.Barrier(copies)

        def one() -> None:
            barrier.wait()
            self.deliver(event)

        threads = [threading.Thread(target=one) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def redeliver(self) -> int:
        with self.lock:
            events, self.retry = self.retry, []
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self.deliver, events))
        return len(events)


@dataclass
class Tally:
    """The promise, checked blob by blob."""

    outcomes: Counter[str] = field(default_factory=Counter)
    losses: list[str] = field(default_factory=list)
    other_duplicates: list[str] = field(default_factory=list)

    def check(self, name: str, entry: LedgerEntry | None, runs: list[AcceptedRun], crashed_after_post: int) -> None:
        if entry is None or entry.state not in (SUBMITTED, FAILED):
            self.losses.append(f"{name}: ledger {entry.state if entry else 'has no entry'}, {len(runs)} run(s)")
            return
        ambiguous = (entry.state == FAILED and (entry.error or {}).get("code") == "ReadTimeout"
                     and any(run.ambiguous for run in runs))
        expected = 1 if entry.state == SUBMITTED else int(ambiguous)
        if entry.state == SUBMITTED and entry.run_id not in {run.run_id for run in runs}:
            self.losses.append(f"{name}: the ledger's run {entry.run_id} was never accepted")
        extra = len(runs) - expected
        if extra < 0:
            self.losses.append(f"{name}: {entry.state} but {len(runs)} run(s)")
        window = min(max(extra, 0), crashed_after_post)
        if extra > window:
            self.other_duplicates.append(f"{name}: {len(runs)} runs, ledger {entry.state} {entry.error}")
        self.outcomes["crash_window_duplicates"] += window
        self.outcomes["ambiguous_accepted"] += ambiguous
        self.outcomes[entry.state if entry.state == SUBMITTED else f"failed_{(entry.error or {}).get('code')}"] += 1


def sweep(name: str = "chaos") -> SweepReport:
    runtime = current_runtime()
    return sweep_trigger(runtime.config.trigger(name), runtime, runtime.state, force=True)


def upload_all(container: ContainerClient, names: list[str]) -> list[Event]:
    def one(name: str) -> Event:
        blob = container.get_blob_client(name)
        blob.upload_blob(f"{name}\n1,2\n".encode(), overwrite=True)
        return blob_created_event(blob)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, names))


def delivery_plan(grid: EventGrid, events: list[Event], rng: random.Random) -> tuple[list[Callable[[], None]],
                                                                                     Counter[str]]:
    """Per event: never (about 1 in 4), or 1-3 copies, a quarter of the multi-copy ones all at once; shuffled."""
    tasks: list[Callable[[], None]] = []
    plan: Counter[str] = Counter()
    for event in events:
        copies = rng.choice([0, 1, 1, 2, 2, 3]) if rng.random() >= 0.1 else 0
        plan[f"{copies}_copies"] += 1
        if copies > 1 and rng.random() < 0.25:
            plan["delivered_together"] += 1
            tasks.append(lambda e=event, n=copies: grid.deliver_together(e, n))
        else:
            tasks.extend(lambda e=event: grid.deliver(e) for _ in range(copies))
    rng.shuffle(tasks)
    return tasks, plan


def sweep_repeatedly(times: int) -> int:
    """Sweeps during the storm; a sweep that crashes or reports errors is simply followed by the next one."""
    errors = 0
    for _ in range(times):
        try:
            errors += len(sweep().errors)
        except (Exception, SimulatedCrash):
            errors += 1
    return errors


@pytest.mark.slow
def test_chaos_every_blob_version_runs_once_or_is_recorded_failed(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch,
    chaos: Chaos,
) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    set_triggers([watch_trigger("chaos", container.container_name, standin.published_pipeline_url())])
    assert sweep().state == "armed"  # before the uploads: every later blob is the sweep's to find
    grid = EventGrid(load_function("blob_trigger"))
    names = [f"chaos-{i:04d}.csv" for i in range(BLOBS)]
    decoys = [f"nested/decoy-{i:02d}.csv" for i in range(DECOYS)]
    tasks, plan = delivery_plan(grid, upload_all(container, names + decoys), random.Random(SEED))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        sweeping = pool.submit(sweep_repeatedly, 2)  # the sweep races the events
        for task in tasks:
            pool.submit(task)
    sweep_errors = sweeping.result()
    time.sleep(LEASE_SECONDS)
    redelivered = grid.redeliver()  # Event Grid's retries, still in the storm
    chaos.active = False  # the storm ends: crashed claims expire, then retries and sweeps settle everything
    time.sleep(LEASE_SECONDS)
    for _ in range(5):
        if grid.retry:
            redelivered += grid.redeliver()
    final = [sweep(), sweep()]
    elapsed = time.monotonic() - started

    runs: dict[str, list[AcceptedRun]] = defaultdict(list)
    for run in standin.runs:
        runs[relative_path(run.body) or ""].append(run)
    entries = {str(entry.firing["blob"]): entry for entry in Ledger.from_settings().entries()}
    tally = Tally()
    for name in names:
        tally.check(name, entries.get(name), runs[name], chaos.crashed_after_post[name])
    print(f"\nchaos: {BLOBS} blobs, {DECOYS} subfolder decoys, {elapsed:.1f}s; plan {dict(plan)}; "
          f"deliveries {grid.deliveries} (redelivered {redelivered}; raised {dict(grid.raised)}); "
          f"service faults {dict(chaos.faults)}; crashes {dict(chaos.crashes)}; sweep errors {sweep_errors}; "
          f"outcomes {dict(tally.outcomes)}; other duplicates {len(tally.other_duplicates)}; "
          f"losses {len(tally.losses)}")

    assert tally.losses == []
    assert tally.other_duplicates == []
    assert tally.outcomes["crash_window_duplicates"] <= chaos.crashes["before_record"]
    assert not any(runs[name] or name in entries for name in decoys)
    assert set(grid.raised) <= {"RetryLaterError", "SimulatedCrash"}  # nothing else escaped the bridge
    assert grid.retry == [] and all(report.outcomes["submitted"] == 0 for report in final[1:])
    assert all(chaos.faults[label] for _, label, _ in SERVICE_FAULTS)  # every kind of fault really happened
    assert all(chaos.crashes[where] for where in CRASH_SHARES)
    assert plan["0_copies"] and plan["delivered_together"]
    assert sum(tally.outcomes[k] for k in tally.outcomes if k == SUBMITTED or k.startswith("failed_")) == BLOBS
