"""Azure ML v2 batch endpoints: a batch job posted to the endpoint's scoring URI (`https://.../jobs`).

The body is what azure-ai-ml's `batch_endpoints.invoke` serializes (`BatchJobResource`, docs/services.md):
inputs under `properties.inputData` (`UriFile` with a `uri`, `Literal` with a `value`) and the
experiment under `properties.properties.experimentName`. The changed blob becomes the `UriFile` input
`input_name`; `parameter_assignments` become `Literal` inputs, which is all a schedule sends.
"""

from __future__ import annotations

from typing import Any

from ..firing import BlobVersion, Firing
from ..validation import FieldReader
from .fields import endpoint_parts, parameter_clash, reject_fields
from .request import PipelineRequest, ServiceAnswer
from .spec import SCOPE_MACHINE_LEARNING, PipelineTarget, RunKeyPlan, TargetKind, json_request, string_field

NAME = "batch_endpoint"
DEPLOYMENT_HEADER = "azureml-model-deployment"
NO_PLACE = "a batch job request has no place for it"
UNUSED = {
    "data_path_parameter_name": "the batch input that receives the blob is named by pipeline.input_name",
    "data_path_assignments": "a batch job takes inputs, not DataPath parameters",
    "continue_on_step_failure": f"{NO_PLACE} (error handling is part of the deployment)",
    "description": NO_PLACE,
    "tags": NO_PLACE,
}


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    reject_fields(reader, NAME, UNUSED)
    parts = endpoint_parts(reader)
    if parts is not None and not parts.path.endswith("/jobs"):
        reader.problem("endpoint", "must be the batch endpoint's scoring URI, ending in /jobs "
                                   "(az ml batch-endpoint show --query scoring_uri)")
    if is_watch and not reader.data.get("input_name"):
        reader.problem("input_name", "is required for a watch trigger: it names the batch input that "
                                     "receives the changed blob")
    input_name = reader.string("input_name")
    parameter_clash(reader, "input_name", input_name)
    deployment = reader.string("deployment")
    if deployment is not None and not deployment.strip():
        reader.problem("deployment", "must not be empty (leave it out to use the endpoint's default deployment)")
    return {key: value for key, value in (("input_name", input_name), ("deployment", deployment)) if value}


def blob_uri(target: PipelineTarget, blob: BlobVersion) -> str:
    """An `azureml://` datastore URI when the trigger names a datastore, else the blob's own URL."""
    if target.datastore_name:
        return f"azureml://datastores/{target.datastore_name}/paths/{blob.name}"
    if blob.url:
        return blob.url
    raise ValueError(f"blob {blob.container}/{blob.name} has no URL to give input "
                     f"{target.options.get('input_name')!r}; set pipeline.datastore_name to send an azureml:// URI")


def job_body(target: PipelineTarget, firing: Firing) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        name: {"jobInputType": "Literal", "value": value} for name, value in target.parameter_assignments.items()
    }
    input_name = target.options.get("input_name")
    if isinstance(firing, BlobVersion) and input_name:
        inputs[input_name] = {"jobInputType": "UriFile", "uri": blob_uri(target, firing)}
    properties: dict[str, Any] = {"inputData": inputs}
    if target.experiment_name:
        properties["properties"] = {"experimentName": target.experiment_name}
    return {"properties": properties}


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    deployment = target.options.get("deployment")
    headers = {DEPLOYMENT_HEADER: deployment} if deployment else None
    return json_request(target, target.endpoint, job_body(target, firing), run_key, headers)


def run_id(answer: ServiceAnswer) -> str | None:
    """The job's `id` (what the samples read); some responses carry only its `name`."""
    return string_field(answer.body, "id", "name")


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    """docs/services.md, "Azure ML v2 batch endpoints": the invoke body has no slot the service keeps."""
    return RunKeyPlan("not attached", None, "a batch invoke has no reliable place for a client key (properties.name "
                                            "is reported ignored, tags cannot be set): an uncertain outcome is left "
                                            "for an operator")


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_MACHINE_LEARNING,
    option_fields=frozenset({"input_name", "deployment"}),
    check=check,
    build=build,
    run_id=run_id,
    run_key_plan=run_key_plan,
)
