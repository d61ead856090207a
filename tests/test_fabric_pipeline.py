"""Kind `fabric_pipeline`: an on-demand Pipeline job of a Fabric pipeline item.

The builder is pinned to the job scheduler's documented request; the stand-in answers 202 with the job
instance's URL in `Location` (the run id is its last segment) and throttles with 429 + Retry-After.
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
from tests.support.fabric import ITEM_ID, RESOURCE, WORKSPACE_ID
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
ITEM = f"https://api.fabric.microsoft.com/v1/workspaces/{WORKSPACE_ID}/items/{ITEM_ID}"
KIND = target_kind("fabric_pipeline")


def pipeline(**fields: Any) -> dict[str, Any]:
    return {"kind": "fabric_pipeline", "endpoint": ITEM,
            "parameter_assignments": {"batchSize": 500, "dryRun": False, "label": "nightly"}, **fields}


# -- the request ---------------------------------------------------------------------------------

def test_a_blob_becomes_a_pipeline_job_with_typed_parameters_and_the_blob_location() -> None:
    request = KIND.build(target_of(watch(pipeline())), BLOB, RUN_KEY)

    assert (request.method, request.url) == ("POST", f"{ITEM}/jobs/instances?jobType=Pipeline")
    assert request.headers == JSON
    assert request.scope == "https://api.fabric.microsoft.com/.default"
    assert request.body == {"executionData": {"parameters": {
        "batchSize": 500, "dryRun": False, "label": "nightly", "folderPath": "uploads/incoming",
        "fileName": "2026-11-25.csv"}}}


def test_renamed_blob_parameters_and_a_schedule() -> None:
    renamed = target_of(watch(pipeline(folder_path_parameter="src_folder", file_name_parameter="src_file")))
    assert KIND.build(renamed, BLOB, RUN_KEY).body["executionData"]["parameters"] == {
        "batchSize": 500, "dryRun": False, "label": "nightly", "src_folder": "uploads/incoming",
        "src_file": "2026-11-25.csv"}
    assert KIND.build(target_of(hourly(pipeline())), SLOT, RUN_KEY).body == {
        "executionData": {"parameters": {"batchSize": 500, "dryRun": False, "label": "nightly"}}}


def test_the_run_key_parameter_carries_the_key_for_the_pipeline_to_record_but_nothing_looks_it_up() -> None:
    target = target_of(watch(pipeline(run_key_parameter="run_key")))

    assert KIND.build(target, BLOB, RUN_KEY).body["executionData"]["parameters"]["run_key"] == RUN_KEY
    assert KIND.lookup is None
    assert KIND.run_key_plan(target).attached == "pipeline parameter run_key"
    assert "no run can be found by its key" in str(KIND.run_key_plan(target).why_not)


@pytest.mark.parametrize(
    ("location", "expected"),
    [(f"{ITEM}/jobs/instances/f2d65699-dd22-4889-980c-15226deb0e1b", "f2d65699-dd22-4889-980c-15226deb0e1b"),
     (f"{ITEM}/jobs/instances/f2d65699/", "f2d65699"),
     ("/v1/workspaces/w/items/i/jobs/instances/abc?x=1", "abc"),
     ("", None)],
)
def test_run_id_is_the_last_segment_of_location(location: str, expected: str | None) -> None:
    assert KIND.run_id(answer(None, 202, {"Location": location, "Retry-After": "60"})) == expected


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"endpoint": f"{ITEM}/jobs/instances"}, "pipeline.endpoint must be the pipeline item's URL, "
                                                 "https://api.fabric.microsoft.com/v1/workspaces/{workspaceId}/items/"),
        ({"endpoint": "https://api.fabric.microsoft.com/v1/workspaces/sales/items/copy"},
         "pipeline.endpoint must be the pipeline item's URL"),
        ({"endpoint": f"{ITEM}?jobType=Pipeline"},
         "pipeline.endpoint must not carry a query: the bridge adds ?jobType=Pipeline"),
        ({"endpoint": ITEM.replace("https", "http")}, "pipeline.endpoint must use https"),
        ({"experiment_name": "exp"},
         "pipeline.experiment_name is not used by kind fabric_pipeline: a Fabric pipeline job takes only pipeline "
         "parameters"),
        ({"parameter_assignments": {"fileName": "x"}},
         "pipeline.file_name_parameter names 'fileName', which parameter_assignments also sets"),
        ({"folder_path_parameter": ""}, "pipeline.folder_path_parameter must not be empty"),
        ({"job_id": 1}, "pipeline.job_id is not a recognised field for kind fabric_pipeline"),
    ],
)
def test_configuration_mistakes_name_the_trigger_and_field(fields: dict[str, Any], expected: str) -> None:
    problems = problems_of(watch(pipeline(**fields)))
    assert any(problem.startswith(f"trigger 't': {expected}") for problem in problems), problems


# -- against the stand-in ------------------------------------------------------------------------

def test_a_blob_event_starts_a_job_instance_named_by_location(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([watch(pipeline(endpoint=standin.fabric.item_url()), container=container.container_name,
                        folder="landing")])
    blob_function.invoke(blob_created_event(upload(container, "landing/orders.json")))

    request = sent(standin, f"/items/{ITEM_ID}/jobs/instances", {"jobType": ["Pipeline"]}, RESOURCE)
    [run] = standin.runs
    entry = ledger_entry()
    assert request.body["executionData"]["parameters"]["folderPath"] == f"{container.container_name}/landing"
    assert (entry.state, entry.run_id) == (SUBMITTED, run.run_id)


def test_429_retry_after_is_honoured(bridge_env: dict[str, str], standin: PipelineStandIn) -> None:
    sleeps: list[float] = []
    submitter = Submitter(tokens=TokenProvider(), policy=RetryPolicy(max_attempts=3), sleep=sleeps.append)
    standin.fail_next(429, retry_after="7", message="Too many requests")
    result = submitter.submit(KIND.build(target_of(watch(pipeline(endpoint=standin.fabric.item_url()))), BLOB,
                                         RUN_KEY))

    assert sleeps == [7.0]
    assert (result.status, result.attempts, KIND.run_id(result.answer)) == (202, 2, standin.runs[0].run_id)


def test_a_missing_item_is_recorded_failed_with_the_fabric_error(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.fabric.items = set()
    set_triggers([watch(pipeline(endpoint=standin.fabric.item_url()), container=container.container_name,
                        folder="")])
    blob_function.invoke(blob_created_event(upload(container, "x.csv")))

    entry = ledger_entry()
    assert entry.state == FAILED
    assert (entry.error["status"], entry.error["code"], entry.error["message"]) == (
        404, "ItemNotFound", "The requested item was not found")
    assert "requestId" in entry.error["correlation"]
    assert standin.runs == []
