"""Run keys end to end: where each kind attaches its firing's key, the lookups that find a run by it
(filters, continuation tokens, the lookup delay), and the operator's view (`list`, `dry-run`, `replay`)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.cli.app import main as cli
from shared.clock import parse_iso
from shared.event_path import RetryLaterError
from shared.ledger import FAILED, SUBMITTED, UNCERTAIN, Ledger, LedgerEntry
from shared.lookup import lookup_window
from shared.targets import PipelineRequest, target_kind
from shared.targets.aml_run_lookup import first as aml_first
from tests.support.host import FunctionApp, blob_created_event, load_function
from tests.support.http_server import Request
from tests.support.standin import Fault, Hold, PipelineStandIn
from tests.support.triggers import kind_trigger
from tests.support.waiting import wait_for

Setter = Callable[[list[Any]], None]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def blob_function() -> FunctionApp:
    return load_function("blob_trigger")


def upload_event(container: ContainerClient, name: str) -> dict[str, Any]:
    blob = container.get_blob_client(name)
    blob.upload_blob(b"a,b\n1,2\n", overwrite=True)
    return blob_created_event(blob)


def only_entry(name: str) -> LedgerEntry:
    [entry] = [e for e in Ledger.from_settings().entries() if e.firing.get("blob") == name]
    return entry


def test_list_and_dry_run_say_how_each_trigger_attaches_its_run_key_and_whether_it_is_looked_up(
    set_triggers: Setter, standin: PipelineStandIn, capsys: pytest.CaptureFixture[str],
) -> None:
    set_triggers([kind_trigger("published_pipeline", "aml", "uploads", standin.url_for("published_pipeline")),
                  kind_trigger("published_pipeline", "aml-param", "uploads", standin.url_for("published_pipeline"),
                               "run_key"),
                  kind_trigger("adf_pipeline", "adf-bare", "uploads", standin.url_for("adf_pipeline")),
                  kind_trigger("adf_pipeline", "adf", "uploads", standin.url_for("adf_pipeline"), "run_key"),
                  kind_trigger("batch_endpoint", "batch", "uploads", standin.url_for("batch_endpoint"))])
    assert cli(["list", "--json"]) == 0
    plans = {item["name"]: item["run_key"] for item in json.loads(capsys.readouterr().out)}
    assert cli(["dry-run", "adf", "--blob", "day.csv"]) == 0
    dry_run = capsys.readouterr().out

    assert plans["aml"]["attached"] == "Properties and tags bridge_run_key"
    assert plans["aml"]["lookup"].startswith("run history runs:query")
    assert plans["aml-param"]["attached"] == "Properties and tags bridge_run_key, pipeline parameter run_key"
    assert plans["aml-param"]["lookup"] == "the pipeline's run list, matched on parameter run_key"
    assert plans["adf-bare"]["lookup"] is None and "run_key_parameter" in plans["adf-bare"]["no_lookup_because"]
    assert plans["adf"]["lookup"] == "queryPipelineRuns by pipeline name, matched on run_key"
    assert plans["batch"]["lookup"] is None and "left for an operator" in plans["batch"]["text"]
    assert "# run key pb-" in dry_run and "looked up by queryPipelineRuns" in dry_run
    assert '"run_key": "pb-' in dry_run and standin.requests == []


def test_an_uncertain_firing_waits_for_the_lookup_delay_then_is_found_across_pages(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, blob_function: FunctionApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_triggers([kind_trigger("adf_pipeline", "adf", container.container_name, standin.url_for("adf_pipeline"),
                               "run_key")])
    standin.page_size = 2
    for i in range(5):  # other firings' runs of the same pipeline, listed before ours
        blob_function.invoke(upload_event(container, f"other-{i}.csv"))
    event = upload_event(container, "day.csv")
    standin.fail_next(504, create_run=True)
    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "600")
    with pytest.raises(RetryLaterError):
        blob_function.invoke(event)
    assert only_entry("day.csv").state == UNCERTAIN

    with pytest.raises(RetryLaterError, match="retry"):  # too young for a "not found" to be believed
        blob_function.invoke(event)
    assert standin.lookups() == [] and len(standin.runs) == 6

    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "0")
    blob_function.invoke(event)

    entry = only_entry("day.csv")
    [run] = standin.runs_with(str(entry.request["run_key"]))
    assert (entry.state, entry.run_id, entry.resolved_by) == (SUBMITTED, run.run_id, "lookup")
    pages = standin.lookups()
    assert len(standin.runs) == 6 and len(pages) == 3
    assert [page.body.get("continuationToken") for page in pages] == [None, "page-2", "page-4"]
    assert pages[0].body["filters"] == [{"operand": "PipelineName", "operator": "Equals", "values": ["copy-1"]}]


def test_a_lookup_that_fails_leaves_the_firing_uncertain_for_the_next_delivery(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, blob_function: FunctionApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "0")
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    set_triggers([kind_trigger("published_pipeline", "aml", container.container_name,
                               standin.url_for("published_pipeline"))])
    event = upload_event(container, "day.csv")
    standin.fail_next(502, create_run=True)
    with pytest.raises(RetryLaterError):
        blob_function.invoke(event)
    standin.fail_next(503)  # the lookup itself
    with pytest.raises(RetryLaterError):
        blob_function.invoke(event)
    entry = only_entry("day.csv")
    assert entry.state == UNCERTAIN and entry.error is not None and entry.error["code"] == "LookupFailed"

    blob_function.invoke(event)

    [run] = standin.runs
    assert (only_entry("day.csv").state, only_entry("day.csv").run_id) == (SUBMITTED, run.run_id)


def test_replay_of_an_uncertain_failed_entry_finds_the_run_instead_of_submitting_again(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, blob_function: FunctionApp,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_DELIVERY_ATTEMPTS", "1")  # out of attempts at once: left failed, flagged
    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "0")
    set_triggers([kind_trigger("published_pipeline", "aml", container.container_name,
                               standin.url_for("published_pipeline"), "run_key")])
    standin.stall_next(10, create_run=True)
    monkeypatch.setenv("PIPELINE_READ_TIMEOUT_SECONDS", "3")  # the replay's lookup must be answered within it
    blob_function.invoke(upload_event(container, "day.csv"))  # acknowledged: failed, for an operator
    entry = only_entry("day.csv")
    assert entry.state == FAILED and entry.error is not None and entry.error["ambiguous"] is True

    assert cli(["replay", entry.key[:12], "--yes"]) == 0
    out = capsys.readouterr().out

    [run] = standin.runs
    replayed = only_entry("day.csv")
    assert (replayed.state, replayed.run_id, replayed.resolved_by) == (SUBMITTED, run.run_id, "lookup")
    assert "looked up by its run key" in out
    assert [r.method for r in standin.requests] == ["POST", "GET"]  # the first POST, then the run list


def test_the_aml_lookups_ask_for_the_key_the_way_azureml_core_filters() -> None:
    kind = target_kind("published_pipeline")
    request = dict(kind=kind.name, scope="https://management.azure.com/.default", run_key="pb-abc",
                   url="https://r.api.azureml.ms/pipelines/v1.0/subscriptions/s/resourceGroups/g/providers/"
                       "Microsoft.MachineLearningServices/workspaces/w/PipelineRuns/PipelineSubmit/p-1")
    by_property = PipelineRequest(body={"ExperimentName": "my exp", "Properties": {"bridge_run_key": "pb-abc"}},
                                  **request)
    by_parameter = PipelineRequest(body={"ExperimentName": "e", "ParameterAssignments": {"run_key": "pb-abc"}},
                                   **request)
    window = lookup_window(NOW, NOW + timedelta(minutes=3))

    query, runs = aml_first(by_property, window), aml_first(by_parameter, window)

    assert query.url == ("https://r.api.azureml.ms/history/v1.0/subscriptions/s/resourceGroups/g/providers/"
                         "Microsoft.MachineLearningServices/workspaces/w/experiments/my%20exp/runs:query")
    assert query.body == {"filter": '(Properties/bridge_run_key eq "pb-abc")', "orderby": "StartTimeUtc desc",
                          "top": 500}
    assert (runs.method, runs.body) == ("GET", None)
    assert runs.url.endswith("/workspaces/w/PipelineRuns/Pipeline/p-1")
    assert query.idempotent and runs.idempotent  # reads: safe to re-send after an uncertain outcome
    assert kind.can_look_up(by_property) and kind.can_look_up(by_parameter)
    assert not kind.can_look_up(PipelineRequest(body={"ExperimentName": "e"}, **request))


def test_a_slow_lookup_leaves_no_post_in_flight_when_the_claim_runs_out(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, blob_function: FunctionApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A takeover looks the run up before it submits. However slow the lookup, the POST after it must be over
    before the claim's lease runs out; otherwise the next delivery takes the claim over while that POST is in
    flight, finds no run yet, and starts a second one."""
    for name, value in {"PIPELINE_CLAIM_LEASE_SECONDS": "20", "PIPELINE_RETRY_BUDGET_SECONDS": "0.5",
                        "PIPELINE_CONNECT_TIMEOUT_SECONDS": "1", "PIPELINE_READ_TIMEOUT_SECONDS": "18",
                        "PIPELINE_LOOKUP_DELAY_SECONDS": "0", "PIPELINE_EVENT_BUDGET_SECONDS": "28"}.items():
        # The longest submission: 0.5 + 1 + 18 = 19.5 s, inside the 20 s lease; the event budget is no bound
        # here (the sweep, a replay and the schedules have none at all).
        monkeypatch.setenv(name, value)
    set_triggers([kind_trigger("adf_pipeline", "adf", container.container_name, standin.url_for("adf_pipeline"),
                               "run_key")])
    event = upload_event(container, "day.csv")
    standin.fail_next(500)  # no run; the firing is uncertain and its next delivery looks it up first
    with pytest.raises(RetryLaterError):
        blob_function.invoke(event)
    held = Hold()  # the POST's run is created when the test releases it, after its sender may have given up
    plan = {"lookup": Fault(stall=8), "post": Fault(hold=held)}  # a slow (not failing) lookup, then the POST

    def slow_lookup_then_held_post(request: Request) -> Fault | None:
        return plan.pop("lookup" if request.path.endswith("queryPipelineRuns") else "post", None)

    def deliver() -> None:
        with contextlib.suppress(RetryLaterError):
            blob_function.invoke(event)

    standin.fault_hook = slow_lookup_then_held_post
    first = threading.Thread(target=deliver)
    first.start()
    try:
        assert held.wait_reached(60), "the first delivery never sent its POST"
        # The next delivery, once the claim has run out. A POST still in flight then leaves the claim to be taken
        # over (claimed 20 s ago: older than the 15 s lookup delay, so it is looked up, nothing found, re-sent);
        # one cut off in time was recorded uncertain, its attempt too recent (after the 8 s lookup) to look up.
        monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "15")
        lease_until = parse_iso(str(only_entry("day.csv").lease_until))
        time.sleep(max(0.0, (lease_until - datetime.now(UTC)).total_seconds()) + 0.3)
        deliver()
    finally:
        held.release.set()
        first.join(30)
    standin.fault_hook = None
    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "0")
    # Every createRun after the first (answered 500, no run) creates one, the held one once released.
    assert wait_for(lambda: len(standin.runs) == sum(r.path.endswith("/createRun") for r in standin.requests) - 1)
    deliver()

    assert len(standin.runs) == 1, "a takeover started a second run while the first POST was in flight"
    entry = only_entry("day.csv")
    assert (entry.state, entry.run_id) == (SUBMITTED, standin.runs[0].run_id)
