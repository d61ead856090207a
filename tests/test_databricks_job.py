"""Kind `databricks_job`: `run-now` of a Databricks job with the firing's run key as `idempotency_token`.

The builder is pinned to what databricks-sdk's `JobsAPI.run_now` sends; the stand-in keeps one run per
token, as Databricks does, so re-sending a request returns the same `run_id` and starts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.credentials import TokenProvider
from shared.ledger import FAILED, SUBMITTED
from shared.submitter import RetryPolicy, Submitter
from shared.targets import target_kind
from tests.support.databricks import RESOURCE
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

Setter = Callable[[list[Any]], None]
WORKSPACE = "https://adb-1234567890123456.7.azuredatabricks.net"
KIND = target_kind("databricks_job")


def job(**fields: Any) -> dict[str, Any]:
    return {"kind": "databricks_job", "endpoint": WORKSPACE, "job_id": 11,
            "parameter_assignments": {"mode": "full", "limit": 500, "dry_run": False, "ratio": 0.25}, **fields}


PARAMETERS = {"mode": "full", "limit": "500", "dry_run": "false", "ratio": "0.25"}


# -- the request ---------------------------------------------------------------------------------

def test_a_blob_becomes_run_now_with_the_run_key_as_idempotency_token() -> None:
    request = KIND.build(target_of(watch(job())), BLOB, RUN_KEY)

    assert (request.method, request.url) == ("POST", f"{WORKSPACE}/api/2.2/jobs/run-now")
    assert request.headers == JSON
    assert request.scope == "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
    assert request.token_headers == {}
    assert request.body == {"job_id": 11, "idempotency_token": RUN_KEY,
                            "job_parameters": {**PARAMETERS, "blob_url": BLOB.url}}


def test_renamed_blob_parameters_and_the_blob_name_and_a_job_id_from_an_app_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INGEST_JOB_ID", "987654321")
    target = target_of(watch(job(job_id="%INGEST_JOB_ID%", blob_url_parameter="source_url",
                                 file_path_parameter="source_path", endpoint=f"{WORKSPACE}/")))
    request = KIND.build(target, BLOB, RUN_KEY)

    assert request.url == f"{WORKSPACE}/api/2.2/jobs/run-now"
    assert request.body == {"job_id": 987654321, "idempotency_token": RUN_KEY, "job_parameters": {
        **PARAMETERS, "source_url": BLOB.url, "source_path": "incoming/2026-11-25.csv"}}


def test_a_schedule_sends_only_its_parameters() -> None:
    request = KIND.build(target_of(hourly(job())), SLOT, RUN_KEY)
    assert request.body == {"job_id": 11, "idempotency_token": RUN_KEY, "job_parameters": PARAMETERS}


@pytest.mark.parametrize(("response", "expected"),
                         [({"run_id": 455644833, "number_in_job": 455644833}, "455644833"),
                          ({"run_id": "455644833"}, None), ({"run_id": True}, None), ({}, None), (None, None)])
def test_run_id_is_the_numeric_run_id(response: Any, expected: str | None) -> None:
    assert KIND.run_id(answer(response)) == expected


def test_the_kind_declares_the_service_idempotent() -> None:
    assert KIND.idempotent


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        (job(job_id=None), "pipeline.job_id is required: the id of the Databricks job to run"),
        (job(job_id=0), "pipeline.job_id must be a job id, a positive whole number (got 0)"),
        (job(job_id="eleven"), "pipeline.job_id must be a job id, a positive whole number (got 'eleven')"),
        (job(job_id=True), "pipeline.job_id must be a job id"),
        (job(endpoint=f"{WORKSPACE}/api/2.2/jobs/run-now"),
         "pipeline.endpoint must be the workspace URL, https://adb-<workspace-id>.<n>.azuredatabricks.net"),
        (job(endpoint=f"{WORKSPACE}/?o=123"), "pipeline.endpoint must not carry a query"),
        (job(endpoint=WORKSPACE.replace("https", "http")), "pipeline.endpoint must use https"),
        (job(blob_url_parameter=""), "pipeline.blob_url_parameter must not be empty"),
        (job(file_path_parameter=" "), "pipeline.file_path_parameter must not be empty"),
        (job(file_path_parameter="blob_url"), "pipeline.file_path_parameter must differ from blob_url_parameter"),
        (job(blob_url_parameter="mode"), "pipeline.blob_url_parameter names 'mode', which parameter_assignments"),
        (job(parameter_assignments={"p": [1]}), "pipeline.parameter_assignments.p must be a string, number or boolean"),
        (job(experiment_name="exp"),
         "pipeline.experiment_name is not used by kind databricks_job: Databricks run-now takes only job parameters"),
        (job(tags={"a": "b"}), "pipeline.tags is not used by kind databricks_job"),
        (job(scope="databricks"), "pipeline.scope is not an absolute URL with a host"),
    ],
)
def test_configuration_mistakes_name_the_trigger_and_field(pipeline: dict[str, Any], expected: str) -> None:
    problems = problems_of(watch(pipeline))
    assert any(problem.startswith(f"trigger 't': {expected}") for problem in problems), problems


def test_a_clash_with_the_blob_parameter_is_only_a_problem_for_a_watch() -> None:
    assert target_of(hourly(job(parameter_assignments={"blob_url": "fixed"}))).options == {
        "job_id": 11, "job_parameters": {"blob_url": "fixed"}, "blob_url_parameter": "blob_url"}


# -- against the stand-in ------------------------------------------------------------------------

def test_a_blob_event_runs_the_job_with_a_databricks_token(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(job(endpoint=standin.databricks.workspace_url()), container=container.container_name,
                        folder="in")])
    blob = upload(container, "in/day.csv")
    blob_function.invoke(blob_created_event(blob))

    request = sent(standin, "/databricks/adb-1/api/2.2/jobs/run-now", {}, RESOURCE)
    [run] = standin.runs
    entry = ledger_entry()
    assert request.body["job_parameters"]["blob_url"] == blob.url
    assert request.body["idempotency_token"] == entry.request["run_key"]
    assert (entry.state, entry.run_id) == (SUBMITTED, run.run_id)


def test_the_same_token_returns_the_same_run(bridge_env: dict[str, str], standin: PipelineStandIn) -> None:
    submitter = Submitter(tokens=TokenProvider(), policy=RetryPolicy(max_attempts=1), sleep=lambda seconds: None)
    request = KIND.build(target_of(watch(job(endpoint=standin.databricks.workspace_url()))), BLOB, RUN_KEY)
    other = KIND.build(target_of(watch(job(endpoint=standin.databricks.workspace_url()))), BLOB, RUN_KEY[:-1] + "8")
    first, again, different = submitter.submit(request), submitter.submit(request), submitter.submit(other)

    first_id, again_id, different_id = (KIND.run_id(result.answer) for result in (first, again, different))
    assert first_id == again_id != different_id
    assert [run.run_id for run in standin.runs] == [first_id, different_id]


def test_an_unknown_job_is_recorded_failed_with_the_databricks_error(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.databricks.jobs = {12}
    set_triggers([watch(job(endpoint=standin.databricks.workspace_url()), container=container.container_name,
                        folder="")])
    blob_function.invoke(blob_created_event(upload(container, "x.csv")))

    entry = ledger_entry()
    assert entry.state == FAILED
    assert (entry.error["status"], entry.error["code"], entry.error["message"]) == (
        400, "INVALID_PARAMETER_VALUE", "Job 11 does not exist.")
    assert standin.runs == []
