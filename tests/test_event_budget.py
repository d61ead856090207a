"""Event Grid waits 30 s for an answer (#12, defect 9): the event path answers within
`PIPELINE_EVENT_BUDGET_SECONDS` whatever the service does, and a delivery that finds the blob's claim held
by another delivery waits for that one's outcome instead of failing (which would use up one of Event Grid's
delivery attempts and come back later for nothing).

Real Azurite, the pipeline stand-in, `blob_trigger.main` as the host calls it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared import dispatch
from shared.event_path import DEFAULT_EVENT_BUDGET_SECONDS, RetryLaterError
from shared.ledger import SUBMITTED, Ledger
from tests.support.host import FunctionApp, blob_created_event
from tests.support.http_server import Request
from tests.support.standin import Fault, Hold, PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
BUDGET = 2.0


@pytest.fixture
def landing(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn,
            monkeypatch: pytest.MonkeyPatch) -> ContainerClient:
    """A watch trigger with the default submission limits (a 120 s retry budget, a 60 s read timeout, 5
    attempts) and an event budget of `BUDGET` seconds."""
    for name in ("PIPELINE_RETRY_BUDGET_SECONDS", "PIPELINE_READ_TIMEOUT_SECONDS", "PIPELINE_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIPELINE_EVENT_BUDGET_SECONDS", str(BUDGET))
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    return container


def upload_event(container: ContainerClient, name: str) -> dict[str, Any]:
    blob = container.get_blob_client(name)
    blob.upload_blob(b"a,b\n1,2\n")
    return blob_created_event(blob)


def test_a_stalling_service_is_answered_within_the_event_budget(
    landing: ContainerClient, blob_function: FunctionApp, standin: PipelineStandIn
) -> None:
    hold = Hold()  # the service answers only once the delivery has answered: it must give up by itself
    standin.fault_hook = lambda request: Fault(hold=hold, status=503)  # no run, and the 503 comes too late
    event = upload_event(landing, "slow.csv")

    try:
        with pytest.raises(RetryLaterError):  # not settled: Event Grid delivers it again
            blob_function.invoke(event)
        assert hold.reached.is_set() and not hold.release.is_set()  # it gave up by itself
    finally:
        hold.release.set()

    # What ended the wait: the read timeout cut to what the budget left, not the 60 s default.
    [entry] = Ledger.from_settings().entries()
    assert entry.error["code"] == "ReadTimeout", entry.error
    waited = re.fullmatch(r"no response within ([0-9.]+)s after the request was sent; .*", entry.error["message"])
    assert waited is not None and float(waited.group(1)) <= BUDGET, entry.error["message"]
    assert len(standin.requests) == 1 and standin.runs == []


def test_a_delivery_that_finds_the_claim_held_waits_for_the_holders_outcome(
    landing: ContainerClient, blob_function: FunctionApp, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The copy must not run out of budget while it waits (that is the other test): the default, not BUDGET.
    monkeypatch.setenv("PIPELINE_EVENT_BUDGET_SECONDS", str(DEFAULT_EVENT_BUDGET_SECONDS))
    hold = Hold()
    held = []
    waiting = threading.Event()
    holder_let_go = dispatch.holder_let_go

    def noting_the_wait(*args: Any) -> bool:
        waiting.set()  # the copy found the claim held and waits for its holder
        return holder_let_go(*args)

    monkeypatch.setattr(dispatch, "holder_let_go", noting_the_wait)

    def hold_the_first(request: Request) -> Fault | None:
        if held:
            return None
        held.append(request)
        return Fault(hold=hold)  # the first delivery's POST waits here, its claim held

    standin.fault_hook = hold_the_first
    event = upload_event(landing, "held.csv")
    first = threading.Thread(target=blob_function.invoke, args=(event,))
    first.start()
    assert hold.wait_reached(10), "the first delivery never sent its request"
    # The first one's run is created once the copy is waiting for it, not after a guessed delay.
    releaser = threading.Thread(target=lambda: waiting.wait(60) and hold.release.set())
    releaser.start()
    try:
        blob_function.invoke(event)  # the copy waits for it and is acknowledged: it raises nothing
    finally:
        hold.release.set()
        releaser.join(60)
        first.join(10)

    assert waiting.is_set(), "the copy never waited for the claim's holder"

    [entry] = Ledger.from_settings().entries()
    assert entry.state == SUBMITTED and len(standin.runs) == 1 and len(standin.requests) == 1
    assert entry.run_id == standin.runs[0].run_id
