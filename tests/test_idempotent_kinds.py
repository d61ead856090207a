"""The two kinds whose service deduplicates by the run key (AML v2 job name, Databricks idempotency token):
every uncertain outcome is settled by re-sending the same request, never by a lookup or an operator.

- an answer lost after the service created the run (500/502/504, dropped, cut off, too late): the
  submitter re-sends at once and gets the same run;
- a host killed (SIGKILL) after its request reached the service: the claim it leaves is taken over by the
  redelivery, which re-sends the same request and gets the same run.
One run per firing, recorded `submitted`, with no uncertain entry left for an operator.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.event_path import RetryLaterError
from shared.ledger import SUBMITTED
from tests.support.host import FunctionApp, blob_created_event
from tests.support.http_server import Request
from tests.support.kinds import ledger_entry, upload, watch
from tests.support.standin import WORKSPACE_ID, Fault, Hold, PipelineStandIn
from tests.support.worker import Worker

Setter = Callable[[list[Any]], None]
READ_TIMEOUT = 3.0  # a plain answer must come within it on a loaded machine; a stall outlasts it
SETTINGS = {"PIPELINE_CLAIM_LEASE_SECONDS": "6", "PIPELINE_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
            "PIPELINE_CONNECT_TIMEOUT_SECONDS": "1", "PIPELINE_RETRY_BUDGET_SECONDS": "1"}
KINDS = [
    pytest.param(lambda s: {"kind": "aml_pipeline_job", "endpoint": s.aml_jobs.workspace_url(), "input_name": "raw",
                            "component_id": f"{WORKSPACE_ID}/components/ingest/versions/1"}, id="aml_pipeline_job"),
    pytest.param(lambda s: {"kind": "databricks_job", "endpoint": s.databricks.workspace_url(), "job_id": 11},
                 id="databricks_job"),
]


def redeliver_until_settled(function: FunctionApp, event: dict[str, Any], attempts: int = 40) -> None:
    """Event Grid's redelivery: again while the killed host's claim still holds the blob."""
    for _ in range(attempts):
        try:
            function.invoke(event)
            return
        except RetryLaterError:
            time.sleep(0.5)
    raise AssertionError(f"the event was still refused after {attempts} redeliveries")


@pytest.mark.parametrize("pipeline", KINDS)
def test_a_host_killed_after_the_request_leaves_one_run_and_a_submitted_entry(
    pipeline: Callable[[PipelineStandIn], dict[str, Any]], blob_function: FunctionApp, set_triggers: Setter,
    container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    set_triggers([watch(pipeline(standin), container=container.container_name, folder="")])
    event = blob_created_event(upload(container, "day.csv"))
    hold = Hold()
    held: list[Request] = []

    def create_then_hold(request: Request) -> Fault | None:
        if held:
            return None
        held.append(request)
        # The run exists before `hold.reached` is set; its answer never reaches the worker.
        return Fault(create_run=True, hold=hold, drop=True)

    standin.fault_hook = create_then_hold
    worker = Worker()
    delivery = threading.Thread(target=worker.send, args=({"op": "event", "event": event},))
    delivery.start()
    try:
        assert hold.wait_reached(30), "the worker never sent its request"
    finally:
        worker.kill()
        hold.release.set()
        delivery.join(10)
    assert worker.process.returncode == -signal.SIGKILL
    assert len(standin.runs) == 1

    redeliver_until_settled(blob_function, event)

    entry = ledger_entry()
    [run] = standin.runs
    assert len(standin.requests) == 2  # the killed host's request and the redelivery's, with the same key
    assert standin.requests[0].body == standin.requests[1].body
    assert (entry.state, entry.run_id) == (SUBMITTED, run.run_id)


@pytest.mark.parametrize("fault", [Fault(status=500, create_run=True), Fault(status=502, create_run=True),
                                   Fault(status=504, create_run=True), Fault(drop=True, create_run=True),
                                   Fault(cut=True, create_run=True), Fault(stall=2 * READ_TIMEOUT, create_run=True)],
                         ids=["500", "502", "504", "dropped", "cut", "stalled"])
@pytest.mark.parametrize("pipeline", KINDS)
def test_an_answer_lost_after_the_run_was_created_is_resolved_by_re_sending(
    pipeline: Callable[[PipelineStandIn], dict[str, Any]], fault: Fault, blob_function: FunctionApp,
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # room in the retry budget for the re-send after a read timeout (and a lease that outlasts it)
    for name, value in {**SETTINGS, "PIPELINE_RETRY_BUDGET_SECONDS": "5", "PIPELINE_CLAIM_LEASE_SECONDS": "10"}.items():
        monkeypatch.setenv(name, value)
    set_triggers([watch(pipeline(standin), container=container.container_name, folder="")])
    standin.inject(fault)
    blob_function.invoke(blob_created_event(upload(container, "day.csv")))  # one delivery settles it

    [run] = standin.runs
    entry = ledger_entry()
    assert len(standin.requests) == 2 and standin.lookups() == []
    assert (entry.state, entry.run_id) == (SUBMITTED, run.run_id)
