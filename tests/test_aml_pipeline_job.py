"""Kind `aml_pipeline_job`: an Azure ML v2 pipeline job PUT under a name derived from the firing's run key.

The builder is pinned to what azure-ai-ml sends for a `PipelineJob` of a registered pipeline component;
the stand-in keeps one job per name, as the service does, so a second PUT never starts a second run and
a changed body is refused with the service's "already exists", which the submitter reads as submitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.cli import main
from shared.credentials import TokenProvider
from shared.dispatch import send
from shared.ledger import FAILED, SUBMITTED
from shared.submitter import RetryPolicy, SubmitError, Submitter
from shared.targets import target_kind
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
    target_of,
    upload,
    watch,
)
from tests.support.standin import MACHINE_LEARNING, MANAGEMENT, WORKSPACE_ID, Fault, PipelineStandIn

Setter = Callable[[list[Any]], None]
WORKSPACE = ("https://management.azure.com/subscriptions/sub/resourceGroups/rg/providers/"
             "Microsoft.MachineLearningServices/workspaces/ws")
WORKSPACE_ARM_ID = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
COMPONENT = f"azureml:{WORKSPACE_ARM_ID}/components/ingest_pipeline/versions/3"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, budget=10.0, connect_timeout=1.0,
                   read_timeout=3.0)
KIND = target_kind("aml_pipeline_job")


def job(**fields: Any) -> dict[str, Any]:
    return {"kind": "aml_pipeline_job", "endpoint": WORKSPACE, "component_id": COMPONENT, "input_name": "raw",
            "experiment_name": "ingest", "parameter_assignments": {"threshold": 0.5, "mode": "full"}, **fields}


def literals() -> dict[str, Any]:
    return {"threshold": {"jobInputType": "literal", "value": "0.5"},
            "mode": {"jobInputType": "literal", "value": "full"}}


# -- the request ---------------------------------------------------------------------------------

def test_a_blob_becomes_a_put_of_the_job_named_by_the_run_key() -> None:
    target = target_of(watch(job(compute="cpu-cluster", tags={"team": "ml"}, description="landing files",
                                 continue_on_step_failure=True)))
    request = KIND.build(target, BLOB, RUN_KEY)

    assert (request.method, request.url) == ("PUT", f"{WORKSPACE}/jobs/{RUN_KEY}?api-version=2024-01-01-preview")
    assert request.headers == JSON
    assert request.scope == "https://management.azure.com/.default"
    assert request.token_headers == {"x-azureml-token": "https://ml.azure.com/.default"}
    assert request.body == {"properties": {
        "jobType": "Pipeline",
        "componentId": COMPONENT,
        "inputs": {**literals(), "raw": {"jobInputType": "uri_file", "uri": BLOB.url}},
        "properties": {"bridge_run_key": RUN_KEY},
        "tags": {"team": "ml", "bridge_run_key": RUN_KEY},
        "settings": {"default_compute": f"{WORKSPACE_ARM_ID}/computes/cpu-cluster", "continue_on_step_failure": True},
        "experimentName": "ingest",
        "description": "landing files",
    }}


def test_a_datastore_gives_an_azureml_uri_and_api_version_and_compute_id_are_taken_as_given() -> None:
    compute = f"{WORKSPACE_ARM_ID}/computes/gpu"
    target = target_of(watch(job(datastore_name="landing_store", api_version="2025-12-01", compute=compute)))
    request = KIND.build(target, BLOB, RUN_KEY)

    assert request.url.endswith(f"/jobs/{RUN_KEY}?api-version=2025-12-01")
    job_properties = request.body["properties"]
    assert job_properties["inputs"]["raw"] == {
        "jobInputType": "uri_file", "uri": "azureml://datastores/landing_store/paths/incoming/2026-11-25.csv"}
    assert job_properties["settings"] == {"default_compute": compute}


def test_a_schedule_sends_only_the_literal_inputs() -> None:
    request = KIND.build(target_of(hourly(job(input_name=None))), SLOT, RUN_KEY)

    assert request.body == {"properties": {
        "jobType": "Pipeline", "componentId": COMPONENT, "inputs": literals(),
        "properties": {"bridge_run_key": RUN_KEY}, "tags": {"bridge_run_key": RUN_KEY}, "experimentName": "ingest",
    }}


def test_the_same_firing_always_builds_the_same_request() -> None:
    target = target_of(watch(job()))
    assert KIND.build(target, BLOB, RUN_KEY) == KIND.build(target, BLOB, RUN_KEY)
    assert KIND.build(target, BLOB, RUN_KEY).url != KIND.build(target, BLOB, RUN_KEY.replace("0", "1")).url


@pytest.mark.parametrize(
    ("response", "expected"),
    [({"id": f"{WORKSPACE_ARM_ID}/jobs/{RUN_KEY}", "name": RUN_KEY, "properties": {}}, RUN_KEY),
     ({"properties": {}}, None), (None, None)],
)
def test_run_id_is_the_job_name(response: Any, expected: str | None) -> None:
    assert KIND.run_id(answer(response, 201)) == expected


@pytest.mark.parametrize(
    ("status", "message", "reads_the_job"),
    [(400, "A job with this name already exists. If you are trying to create a new job, use a different name.", True),
     (409, "a job with this name already exists", True),
     (400, "Component ingest_pipeline:3 was not found", False),
     (500, "A job with this name already exists", False)],
)
def test_only_an_already_exists_refusal_reads_the_existing_job(status: int, message: str, reads_the_job: bool) -> None:
    request = KIND.build(target_of(watch(job())), BLOB, RUN_KEY)
    existing = KIND.existing_run(request, answer({"error": {"code": "UserError", "message": message}}, status))

    if reads_the_job:
        assert existing == dataclasses.replace(request, method="GET", body=None, headers={}, token_headers={})
    else:
        assert existing is None


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (job(component_id=None), "pipeline.component_id is required"),
        (job(component_id="azureml:ingest_pipeline:3"),
         "pipeline.component_id must be a registered pipeline component version's id, azureml:/subscriptions/"),
        (job(component_id=f"{WORKSPACE_ARM_ID}/components/ingest_pipeline"),
         "pipeline.component_id must be a registered pipeline component version's id"),
        (job(endpoint=f"{WORKSPACE}/jobs"), "pipeline.endpoint must be the workspace's resource URL"),
        (job(endpoint="https://westeurope.api.azureml.ms/pipelines/v1.0" + WORKSPACE_ARM_ID + "/PipelineRuns"),
         "pipeline.endpoint must be the workspace's resource URL"),
        (job(endpoint=f"{WORKSPACE}?api-version=2025-12-01"),
         "pipeline.endpoint must not carry a query: the bridge adds ?api-version=2024-01-01-preview"),
        (job(endpoint=WORKSPACE.replace("https", "http")), "pipeline.endpoint must use https"),
        (job(api_version="latest"), "pipeline.api_version must be an Azure ML REST version such as 2024-01-01-preview"),
        (job(input_name=None), "pipeline.input_name is required for a watch trigger"),
        (job(input_name="mode"), "pipeline.input_name names 'mode', which parameter_assignments also sets"),
        (job(compute="my cluster"), "pipeline.compute must be a compute name such as cpu-cluster or its ARM id"),
        (job(data_path_parameter_name="input_datapath"),
         "pipeline.data_path_parameter_name is not used by kind aml_pipeline_job: the pipeline input that receives "
         "the blob is named by pipeline.input_name"),
        (job(data_path_assignments={"p": {"datastore_name": "d", "relative_path": "x"}}),
         "pipeline.data_path_assignments is not used by kind aml_pipeline_job"),
        (job(version="1"), "pipeline.version is not a recognised field for kind aml_pipeline_job"),
    ],
)
def test_configuration_mistakes_name_the_trigger_and_field(pipeline: dict[str, Any], expected: str) -> None:
    problems = problems_of(watch(pipeline))
    assert any(problem.startswith(f"trigger 't': {expected}") for problem in problems), problems


def test_a_schedule_needs_no_input_name() -> None:
    assert target_of(hourly(job(input_name=None))).options == {"api_version": "2024-01-01-preview",
                                                                "component_id": COMPONENT}


# -- against the stand-in ------------------------------------------------------------------------

@pytest.fixture
def submitter(bridge_env: dict[str, str]) -> Submitter:
    return Submitter(tokens=TokenProvider(), policy=FAST, sleep=lambda seconds: None)


def standin_job(standin: PipelineStandIn, **fields: Any) -> dict[str, Any]:
    return job(endpoint=standin.aml_jobs.workspace_url(),
               component_id=f"azureml:{WORKSPACE_ID}/components/ingest_pipeline/versions/3", **fields)


def test_a_blob_event_creates_one_job_with_both_tokens(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(standin_job(standin, compute="cpu-cluster"), container=container.container_name,
                           folder="in")])
    blob = upload(container, "in/day.csv")
    blob_function.invoke(blob_created_event(blob))

    [request] = standin.requests
    [run] = standin.runs
    entry = ledger_entry()
    assert (request.method, request.query) == ("PUT", {"api-version": ["2024-01-01-preview"]})
    assert request.path.endswith(f"/workspaces/ws-1/jobs/{run.run_id}")
    assert request.token_resource == MANAGEMENT
    assert standin.identity.token_info(request.headers["x-azureml-token"]).resource == MACHINE_LEARNING
    assert request.body["properties"]["inputs"]["raw"] == {"jobInputType": "uri_file", "uri": blob.url}
    assert request.body["properties"]["settings"]["default_compute"].endswith("/workspaces/ws-1/computes/cpu-cluster")
    assert (entry.state, entry.run_id) == (SUBMITTED, run.run_id)
    assert run.run_id == entry.request["run_key"] == request.body["properties"]["properties"]["bridge_run_key"]


def test_a_second_put_of_the_name_never_starts_a_second_run(submitter: Submitter, standin: PipelineStandIn) -> None:
    request = KIND.build(target_of(watch(standin_job(standin))), BLOB, RUN_KEY)
    first, second = submitter.submit(request), submitter.submit(request)

    assert [run.run_id for run in standin.runs] == [RUN_KEY]
    assert (first.status, second.status) == (201, 200)
    assert KIND.run_id(first.answer) == KIND.run_id(second.answer) == RUN_KEY


def test_a_changed_body_is_refused_as_already_existing_and_read_as_submitted(
    submitter: Submitter, standin: PipelineStandIn
) -> None:
    target = target_of(watch(standin_job(standin)))
    submitter.submit(KIND.build(target, BLOB, RUN_KEY))
    changed = KIND.build(dataclasses.replace(target, parameter_assignments={"threshold": "0.9"}), BLOB, RUN_KEY)
    result = send(KIND, changed, submitter)  # the firing path's submission, which reads an existing run

    assert [run.run_id for run in standin.runs] == [RUN_KEY]
    assert [(r.method, r.body is None) for r in standin.requests] == [("PUT", False), ("PUT", False), ("GET", True)]
    assert (KIND.run_id(result.answer), result.status, result.attempts) == (RUN_KEY, 200, 2)
    assert result.response["properties"]["inputs"]["threshold"]["value"] == "0.5"  # the job that runs: the first


def test_a_job_refused_by_the_service_is_recorded_failed_with_the_arm_error(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(standin_job(standin), container=container.container_name, folder="")])
    standin.fail_next(404, message="Component ingest_pipeline:3 was not found")
    blob_function.invoke(blob_created_event(upload(container, "x.csv")))

    entry = ledger_entry()
    assert entry.state == FAILED
    assert (entry.error["status"], entry.error["code"], entry.error["message"]) == (
        404, "Injected404", "Component ingest_pipeline:3 was not found")
    assert entry.request["method"] == "PUT"
    assert entry.request["token_headers"] == {"x-azureml-token": "https://ml.azure.com/.default"}
    assert standin.runs == []


def test_dry_run_and_list_show_the_put_and_both_tokens_without_fetching_them(
    set_triggers: Setter, standin: PipelineStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    set_triggers([hourly(standin_job(standin, input_name=None))])
    tokens_before = len(standin.identity.requests)
    assert main(["dry-run", "t"]) == 0
    dry_run = capsys.readouterr().out
    assert main(["list"]) == 0
    listed = capsys.readouterr().out

    assert "PUT http://127.0.0.1:" in dry_run and "/workspaces/ws-1/jobs/pb-" in dry_run
    assert "x-azureml-token: <token for https://ml.azure.com/.default, fetched when sending; not shown>" in dry_run
    assert "Authorization: Bearer <token for https://management.azure.com/.default" in dry_run
    assert '"jobType": "Pipeline"' in dry_run
    assert f"aml_pipeline_job {standin.aml_jobs.workspace_url()}" in listed
    assert standin.requests == [] and len(standin.identity.requests) == tokens_before


def test_the_second_token_is_redacted_from_a_service_error_that_echoes_it(
    submitter: Submitter, standin: PipelineStandIn
) -> None:
    standin.fault_hook = lambda request: Fault(status=400, message=f"bad token {request.headers['x-azureml-token']}")
    with pytest.raises(SubmitError) as caught:
        submitter.submit(KIND.build(target_of(watch(standin_job(standin))), BLOB, RUN_KEY))

    [request] = standin.requests
    assert request.headers["x-azureml-token"] not in str(caught.value.to_json())
    assert caught.value.message == "bad token [redacted]"
