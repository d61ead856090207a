"""Azure ML (SDK v1) published pipelines: `PipelineSubmissionInfo` posted to `.../PipelineSubmit/{id}`.

Field names follow the SDK's REST model exactly (`../shared/reference/pipeline-apis.md` §1): note
`ContinueRunOnStepFailure` and the lower-case `tags`.
"""

from __future__ import annotations

from typing import Any

from ..firing import BlobVersion, Firing
from ..validation import FieldReader
from .request import PipelineRequest, ServiceAnswer
from .spec import SCOPE_MANAGEMENT, PipelineTarget, TargetKind, json_request, string_field


def check_blob_inputs(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    """A watched blob reaches an AML v1 pipeline through a DataPath parameter, so a watch needs both names."""
    if is_watch:
        for key in ("datastore_name", "data_path_parameter_name"):
            if not reader.data.get(key):
                reader.problem(key, "is required for a watch trigger: it names where the changed blob goes")
    return {}


def submission_body(target: PipelineTarget, firing: Firing, *, with_continue: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ExperimentName": target.experiment_name,
        "ParameterAssignments": dict(target.parameter_assignments),
        "RunSource": "SDK",
    }
    data_paths = {
        name: {"DataStoreName": path.datastore_name, "RelativePath": path.relative_path}
        for name, path in target.data_path_assignments.items()
    }
    if isinstance(firing, BlobVersion) and target.data_path_parameter_name and target.datastore_name:
        data_paths[target.data_path_parameter_name] = {
            "DataStoreName": target.datastore_name,
            "RelativePath": firing.name,
        }
    if data_paths:
        body["DataPathAssignments"] = data_paths
    if with_continue and target.continue_on_step_failure is not None:
        body["ContinueRunOnStepFailure"] = target.continue_on_step_failure
    if target.description:
        body["Description"] = target.description
    if target.tags:
        body["tags"] = dict(target.tags)
    return body


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    return json_request(target, target.endpoint, submission_body(target, firing), run_key)


def run_id(answer: ServiceAnswer) -> str | None:
    """The pipeline-run entity's `Id` (published pipelines and pipeline endpoints answer alike)."""
    return string_field(answer.body, "Id")


KIND = TargetKind(
    name="published_pipeline",
    default_scope=SCOPE_MANAGEMENT,
    option_fields=frozenset(),
    check=check_blob_inputs,
    build=build,
    run_id=run_id,
)
