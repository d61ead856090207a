"""Real crashes: the functions run in a worker process that is SIGKILLed at a chosen point, and the next
delivery (or sweep) settles the firing through the ledger and the run key, without a second run.

The stand-in holds the chosen request until the worker is dead, so there is no race: the kill lands
after the claim (the request reached the service, which never acted on it), after the service created the
run and before the ledger write, or in the middle of a sweep with requests in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobClient, ContainerClient

from shared.cli.app import main as cli
from shared.ledger import CLAIMED, FAILED, SUBMITTED, Ledger, LedgerEntry
from shared.runtime import current_runtime
from shared.timer_path import handle_tick
from tests.support.host import FunctionApp, blob_created_event, load_function
from tests.support.http_server import Request
from tests.support.standin import Fault, Hold, PipelineStandIn, blob_named
from tests.support.triggers import kind_trigger
from tests.support.worker import Worker

Setter = Callable[[list[Any]], None]
LEASE_SECONDS = 5.0
SETTINGS = {
    "PIPELINE_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),  # longer than budget + connect + read (checked)
    "PIPELINE_RETRY_BUDGET_SECONDS": "0.5",
    "PIPELINE_CONNECT_TIMEOUT_SECONDS": "1",
    "PIPELINE_READ_TIMEOUT_SECONDS": "3",  # the redelivery's lookup and POST are answered within it, loaded or not
    "PIPELINE_LOOKUP_DELAY_SECONDS": "0.5",
    "PIPELINE_SWEEP_CONCURRENCY": "4",
}
LOOKUP_KINDS = [
    pytest.param("published_pipeline", None, id="published_pipeline-properties"),
    pytest.param("published_pipeline", "run_key", id="published_pipeline-parameter"),
    pytest.param("pipeline_endpoint", None, id="pipeline_endpoint"),
    pytest.param("adf_pipeline", "run_key", id="adf_pipeline"),
]


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch, bridge_env: dict[str, str]) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def blob_function() -> FunctionApp:
    return load_function("blob_trigger")


@pytest.fixture
def worker() -> Iterator[Worker]:
    process = Worker()
    yield process
    process.close()


def upload(container: ContainerClient, name: str) -> BlobClient:
    blob = container.get_blob_client(name)
    blob.upload_blob(b"a,b\n1,2\n", overwrite=True)
    return blob


def entries() -> list[LedgerEntry]:
    return list(Ledger.from_settings().entries())


def killed_while_held(worker: Worker, command: dict[str, Any], holds: list[Hold]) -> dict[str, Any] | None:
    """Send `command`; once the service holds every one of `holds`, SIGKILL the worker, then let them go."""
    answers: list[dict[str, Any] | None] = []
    sender = threading.Thread(target=lambda: answers.append(worker.send(command)))
    sender.start()
    try:
        assert all(hold.wait_reached(60) for hold in holds), "the service never received the held request"
        worker.kill()
    finally:
        for hold in holds:
            hold.release.set()
        sender.join(30)
    return answers[0]


@pytest.mark.parametrize(("kind", "key_parameter"), LOOKUP_KINDS)
def test_killed_after_the_service_created_the_run_the_redelivery_finds_it(
    kind: str, key_parameter: str | None, set_triggers: Setter, container: ContainerClient,
    standin: PipelineStandIn, worker: Worker, blob_function: FunctionApp,
) -> None:
    set_triggers([kind_trigger(kind, "crash", container.container_name, standin.url_for(kind), key_parameter)])
    event = blob_created_event(upload(container, "day.csv"))
    hold = Hold()
    standin.inject(Fault(create_run=True, hold=hold))  # the run exists; the answer never reaches the worker

    assert killed_while_held(worker, {"op": "event", "event": event}, [hold]) is None  # died, never answered
    [entry] = entries()
    assert entry.state == CLAIMED and len(standin.runs) == 1

    blob_function.invoke(event)  # Event Grid delivers again: waits out the dead claim, takes over, looks up

    [entry] = entries()
    assert len(standin.runs) == 1, "a second run was started"
    assert (entry.state, entry.run_id, entry.resolved_by) == (SUBMITTED, standin.runs[0].run_id, "lookup")
    assert entry.attempts == 2 and len(standin.lookups()) == 1


def test_killed_after_the_claim_before_the_service_acted_the_redelivery_submits_once(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, worker: Worker,
    blob_function: FunctionApp,
) -> None:
    set_triggers([kind_trigger("adf_pipeline", "crash", container.container_name,
                               standin.url_for("adf_pipeline"), "run_key")])
    event = blob_created_event(upload(container, "day.csv"))
    hold = Hold()
    standin.inject(Fault(hold=hold, drop=True))  # claimed, request in flight, no run created

    assert killed_while_held(worker, {"op": "event", "event": event}, [hold]) is None
    assert standin.runs == [] and [e.state for e in entries()] == [CLAIMED]

    blob_function.invoke(event)

    [entry] = entries()
    [run] = standin.runs
    assert (entry.state, entry.run_id, entry.resolved_by) == (SUBMITTED, run.run_id, None)
    assert run.parameters["run_key"] == entry.request["run_key"]
    assert len(standin.lookups()) == 1  # looked up first (not found), then submitted


def test_killed_after_a_batch_job_was_created_is_flagged_for_an_operator_never_resent(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, worker: Worker,
    blob_function: FunctionApp,
) -> None:
    """batch_endpoint has no place for a run key, so no lookup: the takeover must not POST again."""
    set_triggers([kind_trigger("batch_endpoint", "crash", container.container_name,
                               standin.url_for("batch_endpoint"))])
    event = blob_created_event(upload(container, "day.csv"))
    hold = Hold()
    standin.inject(Fault(create_run=True, hold=hold))

    assert killed_while_held(worker, {"op": "event", "event": event}, [hold]) is None
    blob_function.invoke(event)  # acknowledged: only an operator can settle it

    [entry] = entries()
    assert len(standin.runs) == 1 and len(standin.requests) == 1
    assert entry.state == FAILED and entry.error is not None
    assert (entry.error["code"], entry.error["ambiguous"]) == ("UncertainNoLookup", True)


def test_killed_mid_sweep_with_requests_in_flight_every_blob_runs_once(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, worker: Worker,
) -> None:
    set_triggers([kind_trigger("published_pipeline", "crash", container.container_name,
                               standin.url_for("published_pipeline"), "run_key", polling_interval=5)])
    assert cli(["sweep", "crash"]) == 0  # arms the trigger: later uploads are the sweep's to find
    names = [f"swept-{i:02d}.csv" for i in range(10)]
    for name in names:
        upload(container, name)
    holds = [Hold() for _ in range(4)]
    plan = iter([Fault(create_run=True, hold=holds[0]), Fault(create_run=True, hold=holds[1]),
                 Fault(create_run=True, hold=holds[2]), Fault(hold=holds[3], drop=True)])
    lock = threading.Lock()

    def hold_the_first_four(request: Request) -> Fault | None:
        with lock:
            return next(plan, None) if request.method == "POST" else None

    standin.fault_hook = hold_the_first_four

    assert killed_while_held(worker, {"op": "sweep", "trigger": "crash"}, holds) is None
    standin.fault_hook = None
    created = {blob_named(run.body) for run in standin.runs}
    assert len(created) == 3
    time.sleep(LEASE_SECONDS + 0.2)  # the dead sweep's claims expire

    assert cli(["sweep", "crash"]) == 0  # its watermark never moved: the next sweep lists them all again

    runs_per_blob = {name: [blob_named(run.body) for run in standin.runs].count(name) for name in names}
    assert runs_per_blob == dict.fromkeys(names, 1)
    recorded = {str(e.firing["blob"]): e for e in entries()}
    assert {name for name, e in recorded.items() if e.resolved_by == "lookup"} == created
    assert all(e.state == SUBMITTED for e in recorded.values()) and len(recorded) == len(names)


def test_a_schedule_slot_killed_after_its_claim_is_retried_after_newer_slots_came_due(
    set_triggers: Setter, standin: PipelineStandIn, worker: Worker,
) -> None:
    """The tick that fired 10:01 dies before it writes its schedule state; by the next tick 10:02 is due. 10:01 was
    fired (claimed), so it is pending, never missed: once its claim expires it is taken over and runs once."""
    set_triggers([{"name": "every-minute", "cron": "0 * * * * *",
                   "pipeline": {"endpoint": standin.published_pipeline_url(), "experiment_name": "minutely"}}])
    t0 = datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC)
    handle_tick(now=t0, runtime=current_runtime())  # 10:00 runs
    hold = Hold()
    standin.inject(Fault(hold=hold, drop=True))  # 10:01 claimed, its request in flight, no run created

    assert killed_while_held(worker, {"op": "tick", "at": (t0 + timedelta(minutes=1)).isoformat()}, [hold]) is None
    assert {e.firing["slot"]: e.state for e in entries()}["2026-11-25T10:01:00Z"] == CLAIMED
    time.sleep(LEASE_SECONDS + 0.2)  # the dead tick's claim expires

    for minute in (2, 3):
        handle_tick(now=t0 + timedelta(minutes=minute), runtime=current_runtime())

    states = {str(e.firing["slot"]): e.state for e in entries()}
    slots = [f"2026-11-25T10:0{minute}:00Z" for minute in range(4)]
    assert states == dict.fromkeys(slots, SUBMITTED), "a slot fired by a killed tick was counted as missed"
    assert len(standin.runs) == 4
