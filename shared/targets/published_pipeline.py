"""Azure ML (SDK v1) published pipelines: `PipelineSubmissionInfo` posted to `.../PipelineSubmit/{id}`.

Field names follow the SDK's REST model exactly (docs/services.md, "Azure ML v1 published pipelines"):
note `ContinueRunOnStepFailure`, the lower-case `tags` and the capitalised `Properties`. The run key goes
into `Properties` and `tags` as `bridge_run_key` and, when the trigger names `run_key_parameter`, into
that pipeline parameter too (the only slot the service is certain to keep).
"""

from __future__ import annotations

from typing import Any

from ..firing import BlobVersion, Firing
from ..validation import FieldReader
from . import aml_run_lookup
from .request import PipelineRequest, ServiceAnswer
from .run_key_slot import OPTION, RUN_KEY_PROPERTY, check_run_key_parameter
from .spec import SCOPE_MANAGEMENT, PipelineTarget, RunKeyPlan, TargetKind, json_request, string_field


def check_blob_inputs(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    """A watched blob reaches an AML v1 pipeline through a DataPath parameter, so a watch needs both names."""
    if is_watch:
        for key in ("datastore_name", "data_path_parameter_name"):
            if not reader.data.get(key):
                reader.problem(key, "is required for a watch trigger: it names where the changed blob goes")
    return {}


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    options = check_blob_inputs(reader, is_watch)
    return {**options, **check_run_key_parameter(reader, [reader.data.get("data_path_parameter_name")])}


def submission_body(target: PipelineTarget, firing: Firing, run_key: str, *,
                    with_continue: bool = True) -> dict[str, Any]:
    parameters = dict(target.parameter_assignments)
    if key_parameter := target.options.get(OPTION):
        parameters[key_parameter] = run_key
    body: dict[str, Any] = {
        "ExperimentName": target.experiment_name,
        "ParameterAssignments": parameters,
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
    body["tags"] = {**target.tags, RUN_KEY_PROPERTY: run_key}
    body["Properties"] = {RUN_KEY_PROPERTY: run_key}
    return body


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    return json_request(target, target.endpoint, submission_body(target, firing, run_key), run_key)


def attached_text(target: PipelineTarget) -> str:
    parameter = target.options.get(OPTION)
    return f"Properties and tags {RUN_KEY_PROPERTY}" + (f", pipeline parameter {parameter}" if parameter else "")


RUNS_QUERY_TEXT = f'run history runs:query (Properties/{RUN_KEY_PROPERTY} eq "<key>")'


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    parameter = target.options.get(OPTION)
    lookup = f"the pipeline's run list, matched on parameter {parameter}" if parameter else RUNS_QUERY_TEXT
    return RunKeyPlan(attached_text(target), lookup)


def run_id(answer: ServiceAnswer) -> str | None:
    """The pipeline-run entity's `Id` (published pipelines and pipeline endpoints answer alike)."""
    return string_field(answer.body, "Id")


KIND = TargetKind(
    name="published_pipeline",
    default_scope=SCOPE_MANAGEMENT,
    option_fields=frozenset({OPTION}),
    check=check,
    build=build,
    run_id=run_id,
    lookup=aml_run_lookup.LOOKUP,
    run_key_plan=run_key_plan,
)
