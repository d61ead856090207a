"""Chaos: hundreds of blobs in two storage accounts through the event path and the sweep, in worker processes
that are SIGKILLed at chosen points, while the pipeline service misbehaves on a seeded share of calls; then
metadata, property, tag and tier changes and new content between sweeps, under the same storm; then proof,
version by version, that every content version ran exactly once or (a kind without a lookup) is recorded
`failed`, flagged.

Run once per target kind (`KINDS`; a kind is added by adding a line). Real Azurite (two accounts, a container
of the same name in each, the same blob names in both), real azure-identity, the pipeline stand-in, and the
functions in `tests.support.worker` processes. Injected:
- the service: 429 + Retry-After and 503 (not processed); 500/502/504, a dropped connection, an answer cut
  off half-way and a stall past the read timeout, each *after creating the run*; a stall with no run;
  new runs listed by the lookups only after a visibility delay; lookups answered 503 now and then;
- the process: SIGKILL of the worker after its claim, while the service holds its request without acting
  on it, and after the service created the run, before the ledger write; a sweep killed the same way with
  requests in flight;
- Event Grid: each event delivered 0-3 times, some copies at the same moment, and every delivery that
  failed or whose worker died delivered again; the sweeps (armed before the uploads) find the rest;
- storage, once the first storm has settled: Set Blob Metadata, Set Blob Properties (keeping Content-MD5, as
  the portal and Storage Explorer do), Set Blob Tags and Set Blob Tier on a seeded share of the blobs, new
  bytes on another share (half of them the same size), and first-storm events delivered again late, while
  a second storm runs the same faults and kills.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.storage.blob import BlobClient, ContainerClient

from shared.cli.app import main as cli
from shared.firing import normalise_etag
from shared.ledger import FAILED, SUBMITTED, Ledger, LedgerEntry
from tests.support.azurite import ACCOUNT, SECOND_ACCOUNT, SECOND_CONNECTION
from tests.support.host import blob_created_event
from tests.support.http_server import Request
from tests.support.standin import AcceptedRun, Fault, Hold, PipelineStandIn, blob_named
from tests.support.triggers import kind_trigger
from tests.support.worker import Worker

Setter = Callable[[list[Any]], None]
Event = dict[str, Any]
SEED = 20261201
BLOBS = 500  # in the first account
TWINS = 100  # in the second account: the first TWINS names again, in a container of the same name
DECOYS = 20  # in a subfolder: delivered like the others, must never run
FLEET = 6  # worker processes
LEASE_SECONDS = 4.0  # above the worst submission: retry budget 1.5 s + connect 1 s + read timeout 0.5 s
READ_TIMEOUT = 0.5
LOOKUP_DELAY = 1.0  # longer than the stand-in's visibility delay, as it must be longer than the service's
SETTINGS = {
    "PIPELINE_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
    "PIPELINE_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    "PIPELINE_CONNECT_TIMEOUT_SECONDS": "1",
    "PIPELINE_RETRY_BASE_SECONDS": "0.01",
    "PIPELINE_RETRY_MAX_SECONDS": "0.05",
    "PIPELINE_RETRY_BUDGET_SECONDS": "1.5",
    "PIPELINE_MAX_ATTEMPTS": "3",
    "PIPELINE_SWEEP_CONCURRENCY": "4",
    "PIPELINE_LOOKUP_DELAY_SECONDS": str(LOOKUP_DELAY),
    "PIPELINE_EVENT_BUDGET_SECONDS": "8",
}
# cumulative shares of submissions that get each fault
SERVICE_FAULTS: list[tuple[float, str, Fault]] = [
    (0.02, "429 Retry-After: 1", Fault(status=429, retry_after="1")),
    (0.06, "429 Retry-After: 0", Fault(status=429, retry_after="0")),
    (0.09, "503", Fault(status=503)),
    (0.11, "created, then 500", Fault(status=500, create_run=True)),
    (0.13, "created, then 502", Fault(status=502, create_run=True)),
    (0.15, "created, then 504", Fault(status=504, create_run=True)),
    (0.17, "created, then dropped", Fault(drop=True, create_run=True)),
    (0.19, "created, then cut off", Fault(cut=True, create_run=True)),
    (0.21, "created, then stalled", Fault(stall=READ_TIMEOUT * 2, create_run=True)),
    (0.23, "stalled, no run", Fault(stall=READ_TIMEOUT * 2, status=503)),
]
LOOKUP_FAULT_SHARE = 0.05  # lookups answered 503
KILL_SHARES = {"after_claim": 0.01, "after_create": 0.02}
# Between the storms: which blobs get new bytes, which first-storm events arrive again, which writes leave
# the bytes alone (a blob gets each of these with this chance).
NEW_CONTENT_SHARE = 0.15
LATE_EVENT_SHARE = 0.1
MUTATION_SHARE = 0.3
THRESHOLDS = {ACCOUNT: 0.5, SECOND_ACCOUNT: 0.75}  # a parameter each account's trigger sends: where a run came from
TRIGGERS = {ACCOUNT: "chaos", SECOND_ACCOUNT: "chaos-b"}


def keep_md5(blob: BlobClient, content_type: str) -> None:
    """Set Blob Properties the way the portal and Storage Explorer do: the current headers, one changed."""
    settings = blob.get_blob_properties().content_settings
    settings.content_type = content_type
    blob.set_http_headers(settings)


MUTATIONS: dict[str, Callable[[BlobClient, random.Random], object]] = {
    "metadata": lambda blob, rng: blob.set_blob_metadata({"processed": str(rng.random())}),
    "properties": lambda blob, rng: keep_md5(blob, rng.choice(["text/csv", "text/plain"])),
    "tags": lambda blob, rng: blob.set_blob_tags({"stage": str(rng.randrange(9))}),
    "tier": lambda blob, rng: blob.set_standard_blob_tier(rng.choice(["Cool", "Hot"])),
}


@dataclass(frozen=True)
class KindUnderTest:
    kind: str
    run_key_parameter: str | None = None
    lookup: bool = True  # False: uncertain outcomes are left for an operator, each flagged


KINDS = [
    pytest.param(KindUnderTest("published_pipeline"), id="published_pipeline"),
    pytest.param(KindUnderTest("pipeline_endpoint"), id="pipeline_endpoint"),
    pytest.param(KindUnderTest("adf_pipeline", "run_key"), id="adf_pipeline"),
    pytest.param(KindUnderTest("batch_endpoint", lookup=False), id="batch_endpoint"),
    pytest.param(KindUnderTest("aml_pipeline_job"), id="aml_pipeline_job"),  # idempotent: re-sending settles it
    pytest.param(KindUnderTest("databricks_job"), id="databricks_job"),
]


def threshold_in(body: Any) -> float | None:
    """The `threshold` parameter wherever a kind puts it (a plain value, or an AML v2 literal input)."""
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "threshold":
                return float(value["value"] if isinstance(value, dict) else value)
            if (found := threshold_in(value)) is not None:
                return found
    return None


def origin(body: Any) -> str | None:
    """`account/blob` of the blob a submission is for."""
    name, threshold = blob_named(body), threshold_in(body)
    account = next((account for account, value in THRESHOLDS.items() if value == threshold), None)
    return f"{account}/{name}" if name is not None and account is not None else None


def sweeping(account: str) -> str:
    return f"sweep:{TRIGGERS[account]}"


class Fleet:
    """Worker processes taking deliveries one at a time; a killed one is replaced, as the host would."""

    def __init__(self, size: int) -> None:
        self.workers = [Worker() for _ in range(size)]
        self.free: queue.Queue[Worker] = queue.Queue()
        for worker in self.workers:
            self.free.put(worker)
        self.lock = threading.Lock()
        self.kills: Counter[str] = Counter()

    def run(self, command: dict[str, Any], current: str) -> dict[str, Any] | None:
        worker = self.free.get()
        answer = worker.send(command, current)
        if answer is None:  # killed mid-invocation
            worker.close()
            replacement = Worker()
            with self.lock:
                self.workers[self.workers.index(worker)] = replacement
            worker = replacement
        self.free.put(worker)
        return answer

    def sweep(self, account: str) -> dict[str, Any] | None:
        return self.run({"op": "sweep", "trigger": TRIGGERS[account]}, sweeping(account))

    def kill_working_on(self, key: str, reason: str) -> None:
        """Whoever sent the held request: the workers delivering that blob, else the ones sweeping its account."""
        with self.lock:
            victims = [w for w in self.workers if w.working_on(key)] or \
                      [w for w in self.workers if w.working_on(sweeping(key.split("/", 1)[0]))]
            for victim in victims:
                victim.kill()
            self.kills[reason] += len(victims)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


@dataclass
class Chaos:
    """Seeded decisions, the same for a given blob and call count whatever the interleaving."""

    seed: int
    fleet: Fleet
    active: bool = True
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    held: queue.Queue[tuple[str, str, Hold]] = field(default_factory=queue.Queue)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def roll(self, kind: str, blob: str) -> float:
        with self.lock:
            self.calls[kind, blob] += 1
            nth = self.calls[kind, blob]
        return random.Random(f"{self.seed}:{kind}:{blob}:{nth}").random()

    def count(self, label: str) -> None:
        with self.lock:
            self.faults[label] += 1

    def service_fault(self, request: Request) -> Fault | None:
        if not self.active:
            return None
        key = origin(request.json()) if request.raw_body else None
        if key is None:  # a lookup
            if self.roll("lookup", request.path) < LOOKUP_FAULT_SHARE:
                self.count("lookup 503")
                return Fault(status=503)
            return None
        chance = self.roll("kill", key)
        for reason, share in KILL_SHARES.items():
            if chance < share:
                hold = Hold()
                self.held.put((key, reason, hold))
                return Fault(hold=hold, create_run=True) if reason == "after_create" else Fault(hold=hold, drop=True)
            chance -= share
        chance = self.roll("service", key)
        for share, label, fault in SERVICE_FAULTS:
            if chance < share:
                self.count(label)
                return fault
        return None

    def killer(self, stop: threading.Event) -> None:
        """Kills the worker behind each held request once the service holds it, then lets the request go."""
        while not stop.is_set():
            try:
                key, reason, hold = self.held.get(timeout=0.1)
            except queue.Empty:
                continue
            if hold.wait_reached(30):
                self.fleet.kill_working_on(key, reason)
            hold.release.set()


@dataclass
class EventGrid:
    """Delivers events the way Event Grid does: any delivery that failed or got no answer is delivered again."""

    fleet: Fleet
    retry: list[tuple[str, Event]] = field(default_factory=list)
    raised: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, key: str, event: Event) -> None:
        answer = self.fleet.run({"op": "event", "event": event}, key)
        with self.lock:
            self.deliveries += 1
            if answer is None or not answer["ok"]:
                self.raised["killed" if answer is None else answer["error"].split(":", 1)[0]] += 1
                self.retry.append((key, event))

    def deliver_together(self, key: str, event: Event, copies: int) -> None:
        """Copies of one event arriving at the same moment on different instances."""
        barrier = threading.Barrier(copies)

        def one() -> None:
            barrier.wait()
            self.deliver(key, event)

        threads = [threading.Thread(target=one) for _ in range(copies)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def redeliver(self) -> int:
        with self.lock:
            events, self.retry = self.retry, []
        with ThreadPoolExecutor(max_workers=FLEET) as pool:
            list(pool.map(lambda pair: self.deliver(*pair), events))
        return len(events)


@dataclass
class Blob:
    """One watched blob, and per content version (in the order written) every ETag it had with those bytes:
    a version's entry is keyed by whichever of them the bridge saw first."""

    key: str
    client: BlobClient
    versions: list[set[str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Its name; the same name in the other account holds the same bytes (only the account tells them apart)."""
        return self.client.blob_name

    def write(self, data: bytes) -> Event:
        self.client.upload_blob(data, overwrite=True)  # one request: the service keeps a Content-MD5
        event = blob_created_event(self.client)
        self.versions.append({normalise_etag(event["data"]["eTag"])})
        return event

    def mutate(self, name: str, rng: random.Random) -> None:
        """A write that keeps the bytes (some give the blob a new ETag)."""
        MUTATIONS[name](self.client, rng)
        self.versions[-1].add(normalise_etag(str(self.client.get_blob_properties().etag)))


@dataclass
class Tally:
    """The promise, checked content version by content version."""

    lookup: bool
    outcomes: Counter[str] = field(default_factory=Counter)
    runs_per_version: Counter[int] = field(default_factory=Counter)
    losses: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    for_an_operator: list[str] = field(default_factory=list)

    def check_blob(self, blob: Blob, entries: list[LedgerEntry], runs_by_storm: list[list[AcceptedRun]]) -> None:
        """Storm n ran only on what existed then: the runs of a version are those of the storm it was
        written before, and those of every later storm that wrote no new version (none, if all is well)."""
        by_version: dict[int, list[LedgerEntry]] = defaultdict(list)
        for entry in entries:
            etag = normalise_etag(str(entry.firing.get("same_content_as") or entry.firing["etag"]))
            by_version[next((n for n, etags in enumerate(blob.versions) if etag in etags), -1)].append(entry)
        for number in sorted(by_version):
            if number < 0 or len(by_version[number]) > 1:  # a metadata-only change taken for new bytes
                self.duplicates.append(f"{blob.key}: entries {by_version[number]} for version {number + 1}")
        for number in range(len(blob.versions)):
            last = number + 1 == len(blob.versions)
            storms = runs_by_storm[number:] if last else runs_by_storm[number:number + 1]
            runs = [run for storm in storms for run in storm]
            self.check(f"{blob.key} version {number + 1}", next(iter(by_version[number]), None), runs)

    def check(self, name: str, entry: LedgerEntry | None, runs: list[AcceptedRun]) -> None:
        self.runs_per_version[len(runs)] += 1
        if len(runs) > 1:
            self.duplicates.append(f"{name}: {len(runs)} runs, ledger {entry.state if entry else None}")
        if entry is None or entry.state not in (SUBMITTED, FAILED):
            self.losses.append(f"{name}: ledger {entry.state if entry else 'has no entry'}, {len(runs)} run(s)")
            return
        if entry.state == SUBMITTED:
            self.outcomes["resolved_by_lookup" if entry.resolved_by == "lookup" else "submitted"] += 1
            if not any(str(entry.run_id).endswith(run.run_id) for run in runs):  # a batch job's id is its ARM id
                self.losses.append(f"{name}: the ledger's run {entry.run_id} was never created")
            return
        error = entry.error or {}
        flagged = bool(error.get("ambiguous")) and not self.lookup
        self.outcomes[f"failed_{error.get('code')}{'_flagged' if flagged else ''}"] += 1
        if not flagged:
            self.for_an_operator.append(f"{name}: failed {error}")
        elif len(runs) == 0:
            self.outcomes["flagged_without_a_run"] += 1


def upload_all(blobs: list[Blob]) -> list[tuple[str, Event]]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda blob: (blob.key, blob.write(f"{blob.name}\n1,2\n".encode())), blobs))


def between_storms(blobs: list[Blob], first_events: list[tuple[str, Event]],
                   rng: random.Random) -> tuple[list[tuple[str, Event]], list[tuple[str, Event]], Counter[str]]:
    """New bytes on a share of the blobs (half the same size: only Content-MD5 tells), then writes that keep
    the bytes on another share: the new versions' events, the first storm's events to deliver late, what was done."""
    new_events: list[tuple[str, Event]] = []
    done: Counter[str] = Counter()
    for blob in blobs:
        if rng.random() < NEW_CONTENT_SHARE:
            same_size = rng.random() < 0.5
            new_events.append((blob.key, blob.write(f"{blob.name}\n{'3,4' if same_size else '3,4,5'}\n".encode())))
            done["new content, same size" if same_size else "new content, new size"] += 1
        if rng.random() < MUTATION_SHARE:
            for name in rng.sample(sorted(MUTATIONS), rng.randrange(1, len(MUTATIONS) + 1)):
                blob.mutate(name, rng)
                done[name] += 1
    late = [pair for pair in first_events if rng.random() < LATE_EVENT_SHARE]
    done["late first-storm events"] = len(late)
    return new_events, late, done


def delivery_plan(grid: EventGrid, events: list[tuple[str, Event]], rng: random.Random, plan: Counter[str],
                  late: list[tuple[str, Event]] | None = None) -> list[Callable[[], None]]:
    """Per event: never (about 1 in 4), or 1-3 copies, a quarter of the multi-copy ones all at once; late
    events once each; shuffled."""
    tasks: list[Callable[[], None]] = [lambda k=key, e=event: grid.deliver(k, e) for key, event in late or []]
    for key, event in events:
        copies = rng.choice([0, 1, 1, 2, 2, 3]) if rng.random() >= 0.1 else 0
        plan[f"{copies}_copies"] += 1
        if copies > 1 and rng.random() < 0.25:
            plan["delivered_together"] += 1
            tasks.append(lambda k=key, e=event, n=copies: grid.deliver_together(k, e, n))
        else:
            tasks.extend(lambda k=key, e=event: grid.deliver(k, e) for _ in range(copies))
    rng.shuffle(tasks)
    return tasks


def storm(fleet: Fleet, grid: EventGrid, chaos: Chaos, tasks: list[Callable[[], None]]) -> dict[str, Any]:
    """Deliveries and two sweeps per account at once under faults and kills, then Event Grid's retries; then
    the storm ends and retries, lookups and a last round of sweeps settle everything."""
    chaos.active = True
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=FLEET) as pool:
        sweeps = [pool.submit(fleet.sweep, account) for account in TRIGGERS for _ in range(2)]
        for task in tasks:
            pool.submit(task)
    swept = [future.result() for future in sweeps]
    stormed = time.monotonic() - started
    redelivered = grid.redeliver()  # Event Grid's retries, still in the storm
    chaos.active = False
    for _ in range(8):
        if not grid.retry:
            break
        time.sleep(LOOKUP_DELAY)
        redelivered += grid.redeliver()
    time.sleep(LEASE_SECONDS)  # claims of killed sweeps expire
    final = [fleet.sweep(account) for _ in range(2) for account in TRIGGERS]
    return {"storm_s": round(stormed, 1), "redelivered": redelivered, "sweeps": swept, "final_sweeps": final}


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch, bridge_env: dict[str, str]) -> Iterator[Fleet]:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    workers = Fleet(FLEET)
    yield workers
    workers.close()


def chaos_trigger(under_test: KindUnderTest, account: str, container: str, endpoint: str) -> dict[str, Any]:
    connection = {} if account == ACCOUNT else {"connection": SECOND_CONNECTION}
    trigger = kind_trigger(under_test.kind, TRIGGERS[account], container, endpoint, under_test.run_key_parameter,
                           polling_interval=5, **connection)
    trigger["pipeline"]["parameter_assignments"]["threshold"] = THRESHOLDS[account]
    return trigger


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about 3 minutes a kind on an idle 2-core machine, more when it is shared
@pytest.mark.parametrize("under_test", KINDS)
def test_chaos_every_blob_version_runs_exactly_once(
    under_test: KindUnderTest, set_triggers: Setter, container: ContainerClient, twin: ContainerClient,
    standin: PipelineStandIn, fleet: Fleet,
) -> None:
    endpoint = standin.url_for(under_test.kind)
    set_triggers([chaos_trigger(under_test, account, container.container_name, endpoint) for account in TRIGGERS])
    standin.visibility_delay, standin.page_size = LOOKUP_DELAY / 2, 50
    for trigger in TRIGGERS.values():  # armed before the uploads: every later blob is the sweeps' to find
        assert cli(["sweep", trigger]) == 0
    chaos, grid, stop, rng = Chaos(SEED, fleet), EventGrid(fleet), threading.Event(), random.Random(SEED)
    standin.fault_hook = chaos.service_fault
    killer = threading.Thread(target=chaos.killer, args=(stop,), daemon=True)
    killer.start()
    names = [f"chaos-{i:04d}.csv" for i in range(BLOBS)]
    blobs = [Blob(f"{ACCOUNT}/{name}", container.get_blob_client(name)) for name in names] + \
            [Blob(f"{SECOND_ACCOUNT}/{name}", twin.get_blob_client(name)) for name in names[:TWINS]]
    decoys = [Blob(f"{ACCOUNT}/nested/decoy-{i:02d}.csv", container.get_blob_client(f"nested/decoy-{i:02d}.csv"))
              for i in range(DECOYS)]
    plan: Counter[str] = Counter()
    started = time.monotonic()
    try:
        first_events = upload_all(blobs + decoys)
        first = storm(fleet, grid, chaos, delivery_plan(grid, first_events, rng, plan))
        runs_by_storm = [list(standin.runs)]
        new_events, late, changes = between_storms(blobs + decoys, first_events, rng)
        second = storm(fleet, grid, chaos, delivery_plan(grid, new_events, rng, plan, late))
        runs_by_storm.append(standin.runs[len(runs_by_storm[0]):])
    finally:
        stop.set()
        standin.fault_hook = None
    elapsed = time.monotonic() - started

    runs: list[dict[str, list[AcceptedRun]]] = [defaultdict(list), defaultdict(list)]
    for storm_runs, by_blob in zip(runs_by_storm, runs, strict=True):
        for run in storm_runs:
            by_blob[origin(run.body) or "?"].append(run)
    entries: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in Ledger.from_settings().entries():
        entries[f"{entry.firing['account']}/{entry.firing['blob']}"].append(entry)
    tally = Tally(under_test.lookup)
    for blob in blobs:
        tally.check_blob(blob, entries[blob.key], [by_blob[blob.key] for by_blob in runs])
    versions = Counter(len(blob.versions) for blob in blobs)
    print(f"\nchaos {under_test.kind}: {BLOBS} + {TWINS} blobs in two accounts, {DECOYS} subfolder decoys, "
          f"{sum(len(blob.versions) for blob in blobs)} content versions {dict(versions)}, {elapsed:.1f}s; "
          f"between the storms {dict(changes)}; plan {dict(plan)}; first storm {first}; second storm {second}; "
          f"deliveries {grid.deliveries} (failed {dict(grid.raised)}); service faults {dict(chaos.faults)}; "
          f"kills {dict(fleet.kills)}; runs per version {dict(tally.runs_per_version)}; "
          f"outcomes {dict(tally.outcomes)}; duplicates {len(tally.duplicates)}; losses {len(tally.losses)}; "
          f"left for an operator {len(tally.for_an_operator)}")

    assert tally.losses == []
    assert tally.duplicates == []
    assert tally.for_an_operator == []  # for batch_endpoint every failed entry is an uncertain one, flagged
    assert under_test.lookup or any(key.endswith("_flagged") for key in tally.outcomes)
    assert not any(by_blob[decoy.key] or entries[decoy.key] for decoy in decoys for by_blob in runs)
    assert not any(by_blob.get("?") for by_blob in runs)  # every run names a blob of one of the two accounts
    assert set(grid.raised) <= {"killed", "RetryLaterError"}  # nothing else escaped the bridge
    assert grid.retry == [] and None not in first["final_sweeps"] + second["final_sweeps"]
    assert second["final_sweeps"][-2:] == [{"ok": True}] * 2 or not under_test.lookup  # exit 1 while failed exist
    assert all(chaos.faults[label] for _, label, _ in SERVICE_FAULTS)  # every kind of fault really happened
    assert all(fleet.kills[reason] for reason in KILL_SHARES)
    assert plan["0_copies"] and plan["delivered_together"] and versions[2] and changes["late first-storm events"]
    assert all(changes[name] for name in MUTATIONS) and changes["new content, same size"]
    assert any(by_blob[f"{SECOND_ACCOUNT}/{name}"] for name in names[:TWINS] for by_blob in runs)
