"""Kind `synapse_pipeline`: `createRun` of a Synapse pipeline on the workspace's development endpoint.

The body is Data Factory's (typed parameters, the blob's folderPath and fileName); the URL, api-version,
scope and the 202 answer are Synapse's (azure-synapse-artifacts' `create_pipeline_run`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.event_path import RetryLaterError
from shared.ledger import FAILED, SUBMITTED, UNCERTAIN
from shared.targets import target_kind
from shared.targets.spec import LookupWindow
from tests.support.host import FunctionApp, blob_created_event
from tests.support.kinds import (
    BLOB,
    JSON,
    RUN_KEY,
    SLOT,
    answer,
    hourly,
    ledger_entry,
    problems_of,
    sent,
    target_of,
    upload,
    watch,
)
from tests.support.standin import PipelineStandIn
from tests.support.synapse import RESOURCE

Setter = Callable[[list[Any]], None]
PIPELINE = "https://sales-ws.dev.azuresynapse.net/pipelines/copy-landing"
KIND = target_kind("synapse_pipeline")


def pipeline(**fields: Any) -> dict[str, Any]:
    return {"kind": "synapse_pipeline", "endpoint": PIPELINE,
            "parameter_assignments": {"batchSize": 500, "dryRun": False, "ratio": 0.25}, **fields}


def test_a_blob_becomes_create_run_with_typed_parameters_and_the_blob_location() -> None:
    request = KIND.build(target_of(watch(pipeline())), BLOB, RUN_KEY)

    assert (request.method, request.url) == ("POST", f"{PIPELINE}/createRun?api-version=2020-12-01")
    assert request.headers == JSON
    assert request.scope == "https://dev.azuresynapse.net/.default"
    assert request.body == {"batchSize": 500, "dryRun": False, "ratio": 0.25, "folderPath": "uploads/incoming",
                            "fileName": "2026-11-25.csv"}
    assert KIND.build(target_of(hourly(pipeline())), SLOT, RUN_KEY).body == {"batchSize": 500, "dryRun": False,
                                                                             "ratio": 0.25}
    assert KIND.run_id(answer({"runId": "2f8e-run"}, 202)) == "2f8e-run"


def test_the_run_key_parameter_carries_the_key_and_the_lookup_queries_the_workspace() -> None:
    target = target_of(watch(pipeline(run_key_parameter="run_key")))
    request = KIND.build(target, BLOB, RUN_KEY)
    assert request.body["run_key"] == RUN_KEY
    assert KIND.can_look_up(request)
    assert not KIND.can_look_up(KIND.build(target_of(watch(pipeline())), BLOB, RUN_KEY))

    query = KIND.lookup.first(request, LookupWindow(SLOT.at, SLOT.at + timedelta(hours=1)))
    assert query.url == "https://sales-ws.dev.azuresynapse.net/queryPipelineRuns?api-version=2020-12-01"
    assert query.scope == "https://dev.azuresynapse.net/.default"
    assert query.body["filters"] == [{"operand": "PipelineName", "operator": "Equals", "values": ["copy-landing"]}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"endpoint": f"{PIPELINE}/createRun"},
         "pipeline.endpoint must be the pipeline's URL, https://{workspace}.dev.azuresynapse.net/pipelines/{pipeline} "
         "(without /createRun: the bridge adds it)"),
        ({"endpoint": "https://sales-ws.dev.azuresynapse.net"}, "pipeline.endpoint must be the pipeline's URL"),
        ({"endpoint": f"{PIPELINE}?api-version=2020-12-01"},
         "pipeline.endpoint must not carry a query: the bridge adds ?api-version=2020-12-01"),
        ({"endpoint": PIPELINE.replace("https", "http")}, "pipeline.endpoint must use https"),
        ({"datastore_name": "ds"},
         "pipeline.datastore_name is not used by kind synapse_pipeline: Synapse's createRun takes only pipeline "
         "parameters"),
        ({"folder_path_parameter": "p", "file_name_parameter": "p"},
         "pipeline.file_name_parameter must differ from folder_path_parameter"),
    ],
)
def test_configuration_mistakes_name_the_trigger_and_field(fields: dict[str, Any], expected: str) -> None:
    problems = problems_of(watch(pipeline(**fields)))
    assert any(problem.startswith(f"trigger 't': {expected}") for problem in problems), problems


def test_a_blob_event_creates_a_run_with_a_synapse_token(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.synapse.parameter_types["copy-7"] = {"folderPath": "String", "fileName": "String", "batchSize": "Int",
                                                 "dryRun": "Bool", "ratio": "Float"}
    set_triggers([watch(pipeline(endpoint=standin.synapse.pipeline_url("syn-1", "copy-7")),
                        container=container.container_name, folder="landing")])
    blob_function.invoke(blob_created_event(upload(container, "landing/orders.json")))

    request = sent(standin, "/synapse/syn-1/pipelines/copy-7/createRun", {"api-version": ["2020-12-01"]}, RESOURCE)
    assert request.body == {"batchSize": 500, "dryRun": False, "ratio": 0.25,
                            "folderPath": f"{container.container_name}/landing", "fileName": "orders.json"}
    entry = ledger_entry()
    assert (entry.state, entry.run_id) == (SUBMITTED, standin.runs[0].run_id)


def test_a_mistyped_parameter_is_recorded_failed_with_the_service_error(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.synapse.parameter_types["copy-1"] = {"batchSize": "String"}
    set_triggers([watch(pipeline(endpoint=standin.synapse.pipeline_url()), container=container.container_name,
                        folder="")])
    blob_function.invoke(blob_created_event(upload(container, "x.csv")))

    entry = ledger_entry()
    assert entry.state == FAILED
    assert (entry.error["status"], entry.error["code"]) == (400, "BadRequest")
    assert entry.error["message"] == "parameter 'batchSize' is declared String but got int 500"
    assert standin.runs == []


def test_a_run_created_before_a_500_is_found_by_its_run_key_and_never_created_twice(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "0")
    set_triggers([watch(pipeline(endpoint=standin.synapse.pipeline_url(), run_key_parameter="run_key"),
                        container=container.container_name, folder="")])
    standin.fail_next(500, create_run=True, message="upstream failed")
    event = blob_created_event(upload(container, "x.csv"))
    with pytest.raises(RetryLaterError):  # uncertain: Event Grid delivers it again
        blob_function.invoke(event)
    assert ledger_entry().state == UNCERTAIN

    blob_function.invoke(event)

    [run] = standin.runs
    [lookup] = standin.lookups()
    entry = ledger_entry()
    assert lookup.path == "/synapse/syn-1/queryPipelineRuns" and lookup.token_resource == RESOURCE
    assert (entry.state, entry.run_id, entry.resolved_by) == (SUBMITTED, run.run_id, "lookup")
    assert run.body["run_key"] == entry.request["run_key"]
