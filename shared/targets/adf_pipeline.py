"""Azure Data Factory pipelines: `createRun` on the pipeline's ARM resource URL (docs/services.md, Data Factory).

The body is a flat object of pipeline parameters and nothing else. Parameter values keep the JSON type
written in the configuration (`5` stays a number, `"5"` a string, `true` a boolean) because Data Factory
parameters are typed (String, Int, Float, Bool); the common reader's strings would only suit String
parameters. A blob firing adds the blob's `folderPath` (`<container>[/<folder>]`) and `fileName`, the
names Data Factory's own storage event trigger passes (`@triggerBody().folderPath`, `.fileName`), so a
pipeline written for that trigger works unchanged; `folder_path_parameter` / `file_name_parameter`
rename them. The run key goes into the parameter `run_key_parameter` names (the pipeline must declare
it, a String with default ""); without one the kind has no lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..firing import BlobVersion, Firing
from ..validation import FieldReader
from .fields import check_endpoint_path, parameter_clash, parameters_only, reject_fields
from .pipeline_runs_query import pipeline_runs_lookup
from .request import PipelineRequest, ServiceAnswer
from .run_key_slot import OPTION, check_run_key_parameter
from .spec import SCOPE_MANAGEMENT, PipelineTarget, RunKeyPlan, TargetKind, json_request, string_field

NAME = "adf_pipeline"
API_VERSION = "2018-06-01"
PIPELINE_PATH = re.compile(r"/providers/Microsoft\.DataFactory/factories/[^/]+/pipelines/[^/]+/?$", re.IGNORECASE)
BLOB_PARAMETERS = {"folder_path_parameter": "folderPath", "file_name_parameter": "fileName"}
UNUSED = parameters_only("Data Factory's createRun")
SHAPE = ("the pipeline's resource URL, https://management.azure.com/subscriptions/{sub}/resourceGroups/{rg}/"
         "providers/Microsoft.DataFactory/factories/{factory}/pipelines/{pipeline}")


def typed_parameters(reader: FieldReader) -> dict[str, Any]:
    """`parameter_assignments` with their JSON types; values of other types are reported by the common checks."""
    raw = reader.data.get("parameter_assignments")
    if not isinstance(raw, Mapping):
        return {}
    return {str(name): value for name, value in raw.items() if isinstance(value, bool | int | float | str)}


def blob_parameter_names(reader: FieldReader, is_watch: bool) -> dict[str, str]:
    """The parameters a blob firing fills: distinct, and not also fixed (one value would silently win)."""
    names = {option: reader.string(option, default=default) or default for option, default in BLOB_PARAMETERS.items()}
    for option, name in names.items():
        value = reader.data.get(option)
        if isinstance(value, str) and not value.strip():
            reader.problem(option, "must not be empty (leave it out to use the default name)")
        elif is_watch:
            parameter_clash(reader, option, name)
    if len(set(names.values())) < len(names):
        reader.problem("file_name_parameter", "must differ from folder_path_parameter")
    return names


def check_parameters(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    """Typed parameters, the blob's two parameter names and the run key's: Synapse and Fabric pipelines take
    them alike."""
    names = blob_parameter_names(reader, is_watch)
    key = check_run_key_parameter(reader, names.values() if is_watch else ())
    return {"parameters": typed_parameters(reader), **names, **key}


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    reject_fields(reader, NAME, UNUSED)
    check_endpoint_path(reader, PIPELINE_PATH, SHAPE, "/createRun", f"?api-version={API_VERSION}")
    return check_parameters(reader, is_watch)


def run_parameters(target: PipelineTarget, firing: Firing, run_key: str | None = None) -> dict[str, Any]:
    parameters = dict(target.options.get("parameters", target.parameter_assignments))
    if run_key and (key_parameter := target.options.get(OPTION)):
        parameters[key_parameter] = run_key
    if isinstance(firing, BlobVersion):
        folder_path = f"{firing.container}/{firing.folder}" if firing.folder else firing.container
        values = {"folder_path_parameter": folder_path, "file_name_parameter": firing.file_name}
        for option, value in values.items():
            parameters[target.options.get(option, BLOB_PARAMETERS[option])] = value
    return parameters


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    url = f"{target.endpoint.rstrip('/')}/createRun?api-version={API_VERSION}"
    return json_request(target, url, run_parameters(target, firing, run_key), run_key)


def run_id(answer: ServiceAnswer) -> str | None:
    return string_field(answer.body, "runId")


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    """Shared with the other `createRun` services: the key is a declared parameter, or nowhere."""
    parameter = target.options.get(OPTION)
    if not parameter:
        return RunKeyPlan("not attached", None, "set pipeline.run_key_parameter (a String parameter the pipeline "
                                                "declares, default \"\") to attach and look up the run key")
    return RunKeyPlan(f"pipeline parameter {parameter}", f"queryPipelineRuns by pipeline name, matched on {parameter}")


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_MANAGEMENT,
    option_fields=frozenset({"folder_path_parameter", "file_name_parameter", OPTION}),
    check=check,
    build=build,
    run_id=run_id,
    lookup=pipeline_runs_lookup(API_VERSION),
    run_key_plan=run_key_plan,
)
