"""Azure ML v2 pipeline jobs: a `PUT` of the job, named after the firing's run key, on the workspace's ARM URL.

The client chooses a v2 job's name and a workspace holds one job per name (docs/services.md, "Azure ML v2
pipeline jobs"), so the name *is* the idempotency key: a retry or a second delivery PUTs the same name,
which updates the job (tags, description) or is refused with "A job with this name already exists"; it
never starts a second run. That refusal therefore means "submitted": the submitter reads the job with a
`GET` of the same URL (`existing_run`). The body is what azure-ai-ml sends for a `PipelineJob` built from
a registered pipeline component, with the x-azureml-token header the SDK adds for pipeline jobs.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..firing import BlobVersion, Firing
from ..validation import FieldReader
from .batch_endpoint import blob_uri
from .fields import check_endpoint_path, endpoint_parts, parameter_clash, reject_fields
from .request import PipelineRequest, ServiceAnswer
from .run_key_slot import RUN_KEY_PROPERTY
from .spec import (
    SCOPE_MACHINE_LEARNING,
    SCOPE_MANAGEMENT,
    PipelineTarget,
    RunKeyPlan,
    TargetKind,
    json_request,
    string_field,
)

NAME = "aml_pipeline_job"
# What azure-ai-ml 1.35 sends for every pipeline job (create, get, list); newer stable versions are documented
# with the same fields, and `api_version` selects one (docs/services.md).
DEFAULT_API_VERSION = "2024-01-01-preview"
AML_TOKEN_HEADER = "x-azureml-token"
WORKSPACE = r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
WORKSPACE_PATH = re.compile(WORKSPACE + r"/?$", re.IGNORECASE)
WORKSPACE_SHAPE = ("the workspace's resource URL, https://management.azure.com/subscriptions/{sub}/resourceGroups/"
                   "{rg}/providers/Microsoft.MachineLearningServices/workspaces/{workspace}")
COMPONENT_ID = re.compile(rf"^(azureml:)?{WORKSPACE}/components/[^/]+/versions/[^/]+$"
                          r"|^azureml://registries/[^/]+/components/[^/]+/versions/[^/]+$", re.IGNORECASE)
COMPUTE_ID = re.compile(rf"^{WORKSPACE}/computes/[^/]+$", re.IGNORECASE)
COMPUTE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
ALREADY_EXISTS = "with this name already exists"
UNUSED = {
    "data_path_parameter_name": "the pipeline input that receives the blob is named by pipeline.input_name",
    "data_path_assignments": "a v2 pipeline job takes inputs, not DataPath parameters; use parameter_assignments",
}


def check_component(reader: FieldReader) -> str | None:
    component = reader.string("component_id", required=True)
    if component and not COMPONENT_ID.match(component):
        reader.problem("component_id", "must be a registered pipeline component version's id, azureml:/subscriptions/"
                                       "{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/"
                                       "workspaces/{workspace}/components/{name}/versions/{version} (az ml component "
                                       "show --query id) or azureml://registries/{registry}/components/{name}/"
                                       f"versions/{{version}} (got {component!r})")
    return component


def check_compute(reader: FieldReader) -> str | None:
    """The default compute as the ARM id the SDK resolves a name to (`<workspace>/computes/<name>`)."""
    compute = reader.string("compute")
    if compute is None:
        return None
    if COMPUTE_ID.match(compute):
        return compute
    parts = endpoint_parts(reader)
    workspace = WORKSPACE_PATH.search(parts.path) if parts is not None else None
    if not COMPUTE_NAME.match(compute):
        reader.problem("compute", f"must be a compute name such as cpu-cluster or its ARM id "
                                  f".../workspaces/{{workspace}}/computes/{{name}} (got {compute!r})")
    elif workspace is not None:
        return f"{workspace.group(0).rstrip('/')}/computes/{compute}"
    return None


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    reject_fields(reader, NAME, UNUSED)
    api_version = reader.string("api_version", default=DEFAULT_API_VERSION) or DEFAULT_API_VERSION
    if not API_VERSION.match(api_version):
        reader.problem("api_version", f"must be an Azure ML REST version such as {DEFAULT_API_VERSION} or "
                                      f"2025-12-01 (got {api_version!r})")
    check_endpoint_path(reader, WORKSPACE_PATH, WORKSPACE_SHAPE, "/jobs/{name}", f"?api-version={api_version}")
    if is_watch and not reader.data.get("input_name"):
        reader.problem("input_name", "is required for a watch trigger: it names the pipeline input that "
                                     "receives the changed blob")
    input_name = reader.string("input_name")
    parameter_clash(reader, "input_name", input_name)
    options = {"api_version": api_version, "component_id": check_component(reader), "compute": check_compute(reader),
               "input_name": input_name}
    return {key: value for key, value in options.items() if value}


def job_body(target: PipelineTarget, firing: Firing, run_key: str) -> dict[str, Any]:
    """`PipelineJob` as azure-ai-ml serializes it: literal inputs, the blob as a uri_file input, the run key
    in `properties` (immutable, filterable) and `tags`."""
    inputs: dict[str, Any] = {
        name: {"jobInputType": "literal", "value": value} for name, value in target.parameter_assignments.items()
    }
    input_name = target.options.get("input_name")
    if isinstance(firing, BlobVersion) and input_name:
        inputs[input_name] = {"jobInputType": "uri_file", "uri": blob_uri(target, firing)}
    job: dict[str, Any] = {
        "jobType": "Pipeline",
        "componentId": target.options["component_id"],
        "inputs": inputs,
        "properties": {RUN_KEY_PROPERTY: run_key},
        "tags": {**target.tags, RUN_KEY_PROPERTY: run_key},
    }
    settings: dict[str, Any] = {}
    if compute := target.options.get("compute"):
        settings["default_compute"] = compute
    if target.continue_on_step_failure is not None:
        settings["continue_on_step_failure"] = target.continue_on_step_failure
    if settings:
        job["settings"] = settings
    if target.experiment_name:
        job["experimentName"] = target.experiment_name
    if target.description:
        job["description"] = target.description
    return {"properties": job}


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    url = f"{target.endpoint.rstrip('/')}/jobs/{run_key}?api-version={target.options['api_version']}"
    request = json_request(target, url, job_body(target, firing, run_key), run_key, method="PUT")
    return dataclasses.replace(request, token_headers={AML_TOKEN_HEADER: SCOPE_MACHINE_LEARNING})


def existing_run(request: PipelineRequest, answer: ServiceAnswer) -> PipelineRequest | None:
    """The job's `GET` when the PUT was refused because a job of this name (this firing's) already exists."""
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if answer.status in (400, 409) and isinstance(message, str) and ALREADY_EXISTS in message.lower():
        return dataclasses.replace(request, method="GET", body=None, headers={}, token_headers={})
    return None


def run_id(answer: ServiceAnswer) -> str | None:
    """The job's name (the run key): also its run-history run id."""
    return string_field(answer.body, "name")


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    return RunKeyPlan(f"the job name (and {RUN_KEY_PROPERTY} in its properties and tags)",
                      "not needed: a re-sent PUT of the name never starts a second run")


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_MANAGEMENT,
    option_fields=frozenset({"component_id", "input_name", "compute", "api_version"}),
    check=check,
    build=build,
    run_id=run_id,
    idempotent=True,
    existing_run=existing_run,
    run_key_plan=run_key_plan,
)
