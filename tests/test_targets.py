"""The target kinds beyond published pipelines: pipeline endpoints, batch endpoints and Data Factory (the
newer kinds have a file each); and every kind from a recurrence.

Pure builders are pinned to the exact URL, headers and JSON each service documents; configuration
mistakes must name the trigger and field; and each kind runs end to end from a blob event and from a
recurrence through the real functions, Azurite, azure-identity and the pipeline stand-in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import ContainerClient

from shared.cli import main
from shared.ledger import FAILED, SUBMITTED
from shared.run_keys import run_key_for
from shared.targets import target_kind
from shared.targets.batch_endpoint import run_id as batch_run_id
from tests.support.databricks import RESOURCE as DATABRICKS
from tests.support.fabric import RESOURCE as FABRIC
from tests.support.host import blob_created_event, load_function, timer_payload
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
from tests.support.standin import MACHINE_LEARNING, MANAGEMENT, WORKSPACE_ID, PipelineStandIn
from tests.support.synapse import RESOURCE as SYNAPSE

Setter = Callable[[list[Any]], None]

AML_WORKSPACE = ("https://westeurope.api.azureml.ms/pipelines/v1.0/subscriptions/sub/resourceGroups/rg/providers/"
                 "Microsoft.MachineLearningServices/workspaces/ws")
ENDPOINT_BY_ID = f"{AML_WORKSPACE}/PipelineRuns/PipelineEndpointSubmit/Id/pe-1"
ENDPOINT_BY_NAME = f"{AML_WORKSPACE}/PipelineRuns/PipelineEndpointSubmit/Name?name=nightly"
SCORING_URI = "https://scorer.westeurope.inference.ml.azure.com/jobs"
ADF_PIPELINE = ("https://management.azure.com/subscriptions/sub/resourceGroups/rg/providers/"
                "Microsoft.DataFactory/factories/df-1/pipelines/copy-1")
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
ML_SCOPE = "https://ml.azure.com/.default"


def endpoint_pipeline(**fields: Any) -> dict[str, Any]:
    return {"kind": "pipeline_endpoint", "endpoint": ENDPOINT_BY_ID, "experiment_name": "exp",
            "parameter_assignments": {"input_string": "abc", "threshold": 0.5},
            "datastore_name": "workspaceblobstore", "data_path_parameter_name": "input_datapath", **fields}


def batch_pipeline(**fields: Any) -> dict[str, Any]:
    return {"kind": "batch_endpoint", "endpoint": SCORING_URI, "input_name": "data",
            "parameter_assignments": {"threshold": 0.5, "mode": "full"}, **fields}


def batch_job(blob_uri: str | None = None, experiment: str | None = None) -> dict[str, Any]:
    """The job `batch_pipeline()` sends: its literals, the blob's UriFile input, the experiment."""
    inputs: dict[str, Any] = {"threshold": {"jobInputType": "Literal", "value": "0.5"},
                              "mode": {"jobInputType": "Literal", "value": "full"}}
    if blob_uri:
        inputs["data"] = {"jobInputType": "UriFile", "uri": blob_uri}
    job: dict[str, Any] = {"inputData": inputs}
    if experiment:
        job["properties"] = {"experimentName": experiment}
    return {"properties": job}


def adf_pipeline(**fields: Any) -> dict[str, Any]:
    return {"kind": "adf_pipeline", "endpoint": ADF_PIPELINE,
            "parameter_assignments": {"batchSize": 500, "dryRun": False, "label": "nightly", "ratio": 0.25},
            **fields}


# -- pipeline_endpoint: pure builder -------------------------------------------------------------

@pytest.mark.parametrize(
    ("endpoint", "version", "url"),
    [
        pytest.param(ENDPOINT_BY_ID, None, ENDPOINT_BY_ID, id="default-version"),
        pytest.param(ENDPOINT_BY_ID, "2", f"{ENDPOINT_BY_ID}/2?pipelineVersion=2", id="path-and-query"),
        pytest.param(ENDPOINT_BY_ID, 3, f"{ENDPOINT_BY_ID}/3?pipelineVersion=3", id="integer-version"),
        pytest.param(f"{ENDPOINT_BY_ID}?tenant=a%20b", "1", f"{ENDPOINT_BY_ID}/1?tenant=a%20b&pipelineVersion=1",
                     id="keeps-the-query"),
    ],
)
def test_pipeline_endpoint_selects_a_version_like_the_sdk(endpoint: str, version: Any, url: str) -> None:
    fields = {"endpoint": endpoint} if version is None else {"endpoint": endpoint, "version": version}
    request = target_kind("pipeline_endpoint").build(target_of(watch(endpoint_pipeline(**fields))), BLOB, RUN_KEY)

    assert request.url == url
    assert request.method == "POST"
    assert request.headers == JSON
    assert request.scope == MANAGEMENT_SCOPE


def test_pipeline_endpoint_body_is_the_published_body_without_continue_on_step_failure() -> None:
    target = target_of(watch(endpoint_pipeline(description="d", tags={"team": "ml"})))
    with_continue = dataclasses.replace(target, continue_on_step_failure=True)
    request = target_kind("pipeline_endpoint").build(with_continue, BLOB, RUN_KEY)

    assert request.body == {
        "ExperimentName": "exp",
        "ParameterAssignments": {"input_string": "abc", "threshold": "0.5"},
        "DataPathAssignments": {
            "input_datapath": {"DataStoreName": "workspaceblobstore", "RelativePath": "incoming/2026-11-25.csv"}
        },
        "RunSource": "SDK",
        "Description": "d",
        "tags": {"team": "ml", "bridge_run_key": RUN_KEY},
        "Properties": {"bridge_run_key": RUN_KEY},
    }
    assert target_kind("pipeline_endpoint").run_id(answer({"Id": "run-1", "Status": {}})) == "run-1"


# -- batch_endpoint: pure builder ----------------------------------------------------------------

def test_batch_endpoint_sends_the_blob_url_as_a_uri_file_input() -> None:
    target = target_of(watch(batch_pipeline(deployment="blue", experiment_name="scoring")))
    request = target_kind("batch_endpoint").build(target, BLOB, RUN_KEY)

    assert request.url == SCORING_URI
    assert request.headers == {**JSON, "azureml-model-deployment": "blue"}
    assert request.scope == ML_SCOPE
    assert request.body == {"properties": {
        "inputData": {
            "threshold": {"jobInputType": "Literal", "value": "0.5"},
            "mode": {"jobInputType": "Literal", "value": "full"},
            "data": {"jobInputType": "UriFile", "uri": BLOB.url},
        },
        "properties": {"experimentName": "scoring"},
    }}


def test_batch_endpoint_with_a_datastore_sends_an_azureml_uri() -> None:
    target = target_of(watch(batch_pipeline(datastore_name="landing_store")))
    body = target_kind("batch_endpoint").build(target, BLOB, RUN_KEY).body

    assert body["properties"]["inputData"]["data"] == {
        "jobInputType": "UriFile", "uri": "azureml://datastores/landing_store/paths/incoming/2026-11-25.csv"
    }
    assert "properties" not in body["properties"]


def test_batch_endpoint_on_a_schedule_sends_only_the_literal_inputs() -> None:
    request = target_kind("batch_endpoint").build(target_of(hourly(batch_pipeline())), SLOT, RUN_KEY)

    assert request.headers == JSON
    assert request.body == batch_job()


def test_batch_endpoint_blob_without_url_or_datastore_is_a_clear_error() -> None:
    target = target_of(watch(batch_pipeline()))
    with pytest.raises(ValueError, match=r"uploads/incoming/2026-11-25.csv has no URL .*pipeline\.datastore_name"):
        target_kind("batch_endpoint").build(target, dataclasses.replace(BLOB, url=None), RUN_KEY)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"id": f"{WORKSPACE_ID}/jobs/job-1", "name": "job-1"}, f"{WORKSPACE_ID}/jobs/job-1"),
        ({"name": "job-1", "properties": {}}, "job-1"),
        ({"id": "", "name": "job-1"}, "job-1"),
        ({"properties": {}}, None),
        (None, None),
    ],
)
def test_batch_endpoint_run_id_is_the_job_id_else_its_name(response: Any, expected: str | None) -> None:
    assert batch_run_id(answer(response)) == expected


# -- adf_pipeline: pure builder ------------------------------------------------------------------

def test_adf_pipeline_posts_typed_parameters_and_the_blob_location_to_create_run() -> None:
    request = target_kind("adf_pipeline").build(target_of(watch(adf_pipeline())), BLOB, RUN_KEY)

    assert request.url == f"{ADF_PIPELINE}/createRun?api-version=2018-06-01"
    assert request.headers == JSON
    assert request.scope == MANAGEMENT_SCOPE
    assert request.body == {"batchSize": 500, "dryRun": False, "label": "nightly", "ratio": 0.25,
                            "folderPath": "uploads/incoming", "fileName": "2026-11-25.csv"}


def test_adf_pipeline_blob_at_the_container_root_and_renamed_parameters() -> None:
    target = target_of(watch(adf_pipeline(folder_path_parameter="sourceFolder", file_name_parameter="sourceFile"),
                             folder=""))
    body = target_kind("adf_pipeline").build(target, dataclasses.replace(BLOB, name="top.csv"), RUN_KEY).body

    assert body["sourceFolder"] == "uploads"
    assert body["sourceFile"] == "top.csv"
    assert "folderPath" not in body and "fileName" not in body


def test_adf_pipeline_on_a_schedule_sends_only_its_parameters() -> None:
    request = target_kind("adf_pipeline").build(target_of(hourly(adf_pipeline())), SLOT, RUN_KEY)

    assert request.body == {"batchSize": 500, "dryRun": False, "label": "nightly", "ratio": 0.25}
    assert target_kind("adf_pipeline").run_id(answer({"runId": "adf-run-1"})) == "adf-run-1"
    assert target_kind("adf_pipeline").run_id(answer({"id": "x"})) is None


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (watch(endpoint_pipeline(version=True)), "trigger 't': pipeline.version must be a version such as \"1\""),
        (watch(endpoint_pipeline(version="")), "trigger 't': pipeline.version must be a version"),
        (watch(endpoint_pipeline(version="1/../2")), "trigger 't': pipeline.version must be a version"),
        (watch(endpoint_pipeline(continue_on_step_failure=True)),
         "trigger 't': pipeline.continue_on_step_failure is not used by kind pipeline_endpoint: the SDK never "
         "sends ContinueRunOnStepFailure"),
        (watch(endpoint_pipeline(endpoint=f"{AML_WORKSPACE}/PipelineRuns/PipelineSubmit/pp-1")),
         "trigger 't': pipeline.endpoint must be a pipeline endpoint URL ending in "
         "/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint id}"),
        (watch(endpoint_pipeline(endpoint=f"{ENDPOINT_BY_ID}?pipelineVersion=1")),
         "trigger 't': pipeline.endpoint must not carry pipelineVersion: set pipeline.version instead"),
        (watch(endpoint_pipeline(endpoint=ENDPOINT_BY_NAME)),
         "trigger 't': pipeline.endpoint uses .../PipelineEndpointSubmit/Name, which the service's SDK never sends "
         "(it submits by id only): use .../PipelineRuns/PipelineEndpointSubmit/Id/{endpoint id}"),
        (watch(endpoint_pipeline(datastore_name=None)),
         "trigger 't': pipeline.datastore_name is required for a watch trigger"),
        (watch(batch_pipeline(endpoint="https://scorer.westeurope.inference.ml.azure.com/score")),
         "trigger 't': pipeline.endpoint must be the batch endpoint's scoring URI, ending in /jobs"),
        (watch(batch_pipeline(input_name=None)),
         "trigger 't': pipeline.input_name is required for a watch trigger: it names the batch input"),
        (watch(batch_pipeline(input_name="mode")),
         "trigger 't': pipeline.input_name names 'mode', which parameter_assignments also sets"),
        (watch(batch_pipeline(deployment=" ")), "trigger 't': pipeline.deployment must not be empty"),
        (watch(batch_pipeline(deployment=2)), "trigger 't': pipeline.deployment must be a string (got number)"),
        (watch(batch_pipeline(data_path_parameter_name="x")),
         "trigger 't': pipeline.data_path_parameter_name is not used by kind batch_endpoint: the batch input "
         "that receives the blob is named by pipeline.input_name"),
        (watch(batch_pipeline(version="1")),
         "trigger 't': pipeline.version is not a recognised field for kind batch_endpoint"),
        (watch(adf_pipeline(endpoint=f"{ADF_PIPELINE}/createRun")),
         "trigger 't': pipeline.endpoint must be the pipeline's resource URL"),
        (watch(adf_pipeline(endpoint="https://management.azure.com/subscriptions/sub/resourceGroups/rg")),
         "trigger 't': pipeline.endpoint must be the pipeline's resource URL"),
        (watch(adf_pipeline(endpoint=f"{ADF_PIPELINE}?api-version=2018-06-01")),
         "trigger 't': pipeline.endpoint must not carry a query: the bridge adds ?api-version=2018-06-01"),
        (watch(adf_pipeline(endpoint=ADF_PIPELINE.replace("https://", "http://"))),
         "trigger 't': pipeline.endpoint must use https"),
        (watch(adf_pipeline(experiment_name="exp")),
         "trigger 't': pipeline.experiment_name is not used by kind adf_pipeline: Data Factory's createRun takes "
         "only pipeline parameters"),
        (watch(adf_pipeline(parameter_assignments={"fileName": "fixed.csv"})),
         "trigger 't': pipeline.file_name_parameter names 'fileName', which parameter_assignments also sets"),
        (watch(adf_pipeline(folder_path_parameter="p", file_name_parameter="p")),
         "trigger 't': pipeline.file_name_parameter must differ from folder_path_parameter"),
        (watch(adf_pipeline(folder_path_parameter="")),
         "trigger 't': pipeline.folder_path_parameter must not be empty"),
    ],
)
def test_kind_fields_are_validated_with_trigger_and_field_named(trigger: dict[str, Any], expected: str) -> None:
    problems = problems_of(trigger)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_fields_only_watches_need_are_optional_on_a_schedule() -> None:
    assert target_of(hourly(batch_pipeline(input_name=None))).options == {}
    assert target_of(hourly(adf_pipeline(parameter_assignments={"fileName": "fixed.csv"}))).options == {
        "parameters": {"fileName": "fixed.csv"}, "folder_path_parameter": "folderPath",
        "file_name_parameter": "fileName",
    }
    assert target_of(hourly(endpoint_pipeline(version="7"))).options == {"version": "7"}


def test_loopback_http_is_accepted_for_local_development() -> None:
    local = ADF_PIPELINE.replace("https://management.azure.com", "http://127.0.0.1:7071")
    assert target_of(watch(adf_pipeline(endpoint=local))).endpoint == local


# -- end to end: blob events ---------------------------------------------------------------------

def aml_run_key_slots(run_key: str) -> dict[str, Any]:
    """Where the AML v1 kinds put the run key without a run-key parameter."""
    return {"tags": {"bridge_run_key": run_key}, "Properties": {"bridge_run_key": run_key}}


def test_pipeline_endpoint_version_from_a_blob_event(
    blob_function, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(endpoint_pipeline(endpoint=standin.pipeline_endpoint_url("pe-9"), version=2),
                        container=container.container_name, folder="")])
    blob_function.invoke(blob_created_event(upload(container, "day.csv")))

    request = sent(standin, "/PipelineRuns/PipelineEndpointSubmit/Id/pe-9/2", {"pipelineVersion": ["2"]}, MANAGEMENT)
    assert request.body == {
        "ExperimentName": "exp",
        "ParameterAssignments": {"input_string": "abc", "threshold": "0.5"},
        "DataPathAssignments": {"input_datapath": {"DataStoreName": "workspaceblobstore", "RelativePath": "day.csv"}},
        "RunSource": "SDK",
        **aml_run_key_slots(run_key_for(ledger_entry().key)),
    }
    entry = ledger_entry()
    assert (entry.state, entry.run_id) == (SUBMITTED, standin.runs[0].run_id)


@pytest.mark.parametrize("reply_with_id", [True, False], ids=["job-id", "job-name-only"])
def test_batch_endpoint_from_a_blob_event(
    reply_with_id: bool, blob_function, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.batch_reply_with_id = reply_with_id
    set_triggers([watch(batch_pipeline(endpoint=standin.batch_endpoint_url("scorer"), deployment="blue",
                                       experiment_name="scoring"),
                        container=container.container_name, folder="in")])
    blob = upload(container, "in/part 1.csv")
    blob_function.invoke(blob_created_event(blob))

    request = sent(standin, "/batch/scorer/jobs", {}, MACHINE_LEARNING)
    assert request.headers["azureml-model-deployment"] == "blue"
    assert request.body == batch_job(blob.url, "scoring")
    job = standin.runs[0].run_id
    assert ledger_entry().run_id == (f"{WORKSPACE_ID}/jobs/{job}" if reply_with_id else job)


def test_batch_endpoint_event_without_data_url_gets_the_blob_url_from_the_connection(
    blob_function, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(batch_pipeline(endpoint=standin.batch_endpoint_url("scorer")),
                        container=container.container_name, folder="in")])
    blob = upload(container, "in/no-url.csv")
    event = blob_created_event(blob)
    del event["data"]["url"]
    blob_function.invoke(event)

    request = sent(standin, "/batch/scorer/jobs", {}, MACHINE_LEARNING)
    assert request.body["properties"]["inputData"]["data"] == {"jobInputType": "UriFile", "uri": blob.url}


def test_adf_pipeline_from_a_blob_event_with_typed_parameters(
    blob_function, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.adf_parameter_types["copy-7"] = {
        "folderPath": "String", "fileName": "String", "batchSize": "Int", "dryRun": "Bool", "ratio": "Float",
    }
    set_triggers([watch(adf_pipeline(endpoint=standin.adf_pipeline_url("df-1", "copy-7")),
                        container=container.container_name, folder="landing")])
    blob_function.invoke(blob_created_event(upload(container, "landing/orders.json")))

    request = sent(standin, "/providers/Microsoft.DataFactory/factories/df-1/pipelines/copy-7/createRun",
                   {"api-version": ["2018-06-01"]}, MANAGEMENT)
    assert request.body == {"batchSize": 500, "dryRun": False, "label": "nightly", "ratio": 0.25,
                            "folderPath": f"{container.container_name}/landing", "fileName": "orders.json"}
    assert ledger_entry().run_id == standin.runs[0].run_id


def test_adf_pipeline_arm_error_is_recorded_with_its_code_and_message(
    blob_function, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(adf_pipeline(endpoint=standin.adf_pipeline_url()), container=container.container_name,
                        folder="")])
    standin.fail_next(404, message="Pipeline copy-1 not found in factory df-1")
    blob_function.invoke(blob_created_event(upload(container, "x.csv")))

    entry = ledger_entry()
    assert entry.state == FAILED
    assert (entry.error["status"], entry.error["code"]) == (404, "Injected404")
    assert entry.error["message"] == "Pipeline copy-1 not found in factory df-1"
    assert "x-ms-correlation-request-id" in entry.error["correlation"]


# -- end to end: a recurrence through the timer function -----------------------------------------

SCHEDULED = [
    pytest.param(
        lambda s: endpoint_pipeline(endpoint=s.pipeline_endpoint_url(), version="3"),
        "/PipelineEndpointSubmit/Id/pe-1/3", {"pipelineVersion": ["3"]}, MANAGEMENT,
        lambda key: {"ExperimentName": "exp", "ParameterAssignments": {"input_string": "abc", "threshold": "0.5"},
                     "RunSource": "SDK", **aml_run_key_slots(key)},
        id="pipeline_endpoint",
    ),
    pytest.param(
        lambda s: batch_pipeline(endpoint=s.batch_endpoint_url(), input_name=None),
        "/batch/be-1/jobs", {}, MACHINE_LEARNING,
        batch_job(),
        id="batch_endpoint",
    ),
    pytest.param(
        lambda s: adf_pipeline(endpoint=s.adf_pipeline_url()),
        "/pipelines/copy-1/createRun", {"api-version": ["2018-06-01"]}, MANAGEMENT,
        {"batchSize": 500, "dryRun": False, "label": "nightly", "ratio": 0.25},
        id="adf_pipeline",
    ),
    pytest.param(
        lambda s: {"kind": "aml_pipeline_job", "endpoint": s.aml_jobs.workspace_url(), "experiment_name": "nightly",
                   "component_id": f"{WORKSPACE_ID}/components/nightly/versions/1", "parameter_assignments": {"n": 1}},
        "/workspaces/ws-1/jobs/{run_key}", {"api-version": ["2024-01-01-preview"]}, MANAGEMENT,
        lambda key: {"properties": {
            "jobType": "Pipeline", "componentId": f"{WORKSPACE_ID}/components/nightly/versions/1",
            "inputs": {"n": {"jobInputType": "literal", "value": "1"}}, "experimentName": "nightly",
            "properties": {"bridge_run_key": key}, "tags": {"bridge_run_key": key}}},
        id="aml_pipeline_job",
    ),
    pytest.param(
        lambda s: {"kind": "databricks_job", "endpoint": s.databricks.workspace_url(), "job_id": 7,
                   "parameter_assignments": {"n": 1}},
        "/databricks/adb-1/api/2.2/jobs/run-now", {}, DATABRICKS,
        lambda key: {"job_id": 7, "idempotency_token": key, "job_parameters": {"n": "1"}},
        id="databricks_job",
    ),
    pytest.param(
        lambda s: {"kind": "fabric_pipeline", "endpoint": s.fabric.item_url(), "parameter_assignments": {"n": 1}},
        "/jobs/instances", {"jobType": ["Pipeline"]}, FABRIC,
        {"executionData": {"parameters": {"n": 1}}},
        id="fabric_pipeline",
    ),
    pytest.param(
        lambda s: {"kind": "synapse_pipeline", "endpoint": s.synapse.pipeline_url(), "parameter_assignments": {"n": 1}},
        "/synapse/syn-1/pipelines/copy-1/createRun", {"api-version": ["2020-12-01"]}, SYNAPSE,
        {"n": 1},
        id="synapse_pipeline",
    ),
]


@pytest.mark.parametrize(("pipeline", "path_end", "query", "resource", "body"), SCHEDULED)
def test_each_kind_from_a_recurrence(
    pipeline: Callable[[PipelineStandIn], dict[str, Any]], path_end: str, query: dict[str, list[str]],
    resource: str, body: dict[str, Any] | Callable[[str], dict[str, Any]], set_triggers: Setter,
    standin: PipelineStandIn,
) -> None:
    """`path_end` and `body` may name the slot's run key (`{run_key}`, a function of it)."""
    set_triggers([hourly(pipeline(standin))])
    timer = load_function("timer_trigger")
    timer.invoke(timer_payload())
    timer.invoke(timer_payload())  # the next tick of the same hour fires nothing

    entry = ledger_entry()
    key = entry.request["run_key"]
    request = sent(standin, path_end.format(run_key=key), query, resource)
    assert "azureml-model-deployment" not in request.headers
    assert request.body == (body(key) if callable(body) else body)
    assert entry.state == SUBMITTED
    assert entry.run_id is not None and entry.run_id.endswith(standin.runs[0].run_id)


@pytest.mark.parametrize(("pipeline", "path_end", "query", "resource", "body"), SCHEDULED)
def test_each_kind_in_dry_run_and_list_without_sending_anything(
    pipeline: Callable[[PipelineStandIn], dict[str, Any]], path_end: str, query: dict[str, list[str]],
    resource: str, body: dict[str, Any] | Callable[[str], dict[str, Any]], set_triggers: Setter,
    standin: PipelineStandIn, capsys: pytest.CaptureFixture[str],
) -> None:
    configured = pipeline(standin)
    set_triggers([hourly(configured)])
    assert main(["dry-run", "t", "--json"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert main(["list"]) == 0
    listed = capsys.readouterr().out

    key = request["run_key"]
    parts = urlsplit(request["url"])
    assert parts.path.endswith(path_end.format(run_key=key))
    assert parse_qs(parts.query) == query
    assert request["body"] == (body(key) if callable(body) else body)
    assert f"{configured['kind']} {configured['endpoint']}" in listed
    assert standin.requests == []
