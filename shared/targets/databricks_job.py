"""Azure Databricks jobs: `run-now` of an existing job, with the firing's run key as `idempotency_token`.

Databricks guarantees one run per token (docs/services.md, "Azure Databricks jobs"): a re-sent request
returns the run the first one started, so a retry after any uncertain outcome is safe. The blob reaches
the job as job parameters (`job_parameters` is a map of strings): its URL, and optionally its name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..firing import BlobVersion, Firing
from ..validation import FieldReader
from .fields import endpoint_parts, parameter_clash, parameters_only, reject_fields
from .request import PipelineRequest, ServiceAnswer
from .spec import PipelineTarget, RunKeyPlan, TargetKind, json_request

NAME = "databricks_job"
# The AzureDatabricks application's id: the resource of every Azure Databricks workspace's tokens.
SCOPE_DATABRICKS = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
RUN_NOW = "/api/2.2/jobs/run-now"
DEFAULT_BLOB_URL_PARAMETER = "blob_url"
UNUSED = parameters_only("Databricks run-now", "job parameters")


def check_endpoint(reader: FieldReader) -> None:
    """The workspace URL: the bridge appends the API path, so the endpoint must not carry one (or a query)."""
    parts = endpoint_parts(reader)
    if parts is None:
        return
    if "/api/" in f"{parts.path}/":
        reader.problem("endpoint", f"must be the workspace URL, https://adb-<workspace-id>.<n>.azuredatabricks.net "
                                   f"(without {RUN_NOW}: the bridge adds it)")
    if parts.query:
        reader.problem("endpoint", "must not carry a query: run-now takes none")


def read_job_id(reader: FieldReader) -> int | None:
    """A positive whole number, or a string of digits (what a `%SETTING%` placeholder gives)."""
    value = reader.data.get("job_id")
    if value is None:
        reader.problem("job_id", "is required: the id of the Databricks job to run (databricks jobs list)")
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        reader.problem("job_id", f"must be a job id, a positive whole number (got {value!r})")
        return None
    return value


def job_parameters(reader: FieldReader) -> dict[str, str]:
    """`parameter_assignments` as the strings Databricks takes: strings as written, others as JSON
    (`true`, `5`, `0.5`); values of other types are reported by the common checks."""
    raw = reader.data.get("parameter_assignments")
    if not isinstance(raw, Mapping):
        return {}
    return {str(name): value if isinstance(value, str) else json.dumps(value)
            for name, value in raw.items() if isinstance(value, bool | int | float | str)}


def blob_parameter_names(reader: FieldReader, is_watch: bool) -> dict[str, str]:
    names = {"blob_url_parameter": reader.string("blob_url_parameter", default=DEFAULT_BLOB_URL_PARAMETER),
             "file_path_parameter": reader.string("file_path_parameter")}
    for option, name in names.items():
        if name is not None and not name.strip():
            reader.problem(option, "must not be empty (leave it out: "
                                   + ("the default is blob_url)" if option == "blob_url_parameter" else
                                      "then the blob's name is not sent)"))
        elif is_watch:
            parameter_clash(reader, option, name)
    if names["blob_url_parameter"] == names["file_path_parameter"]:
        reader.problem("file_path_parameter", "must differ from blob_url_parameter")
    return {option: name for option, name in names.items() if name}


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    reject_fields(reader, NAME, UNUSED)
    check_endpoint(reader)
    return {"job_id": read_job_id(reader), "job_parameters": job_parameters(reader),
            **blob_parameter_names(reader, is_watch)}


def run_parameters(target: PipelineTarget, firing: Firing) -> dict[str, str]:
    parameters = dict(target.options["job_parameters"])
    if isinstance(firing, BlobVersion):
        if not firing.url:
            raise ValueError(f"blob {firing.container}/{firing.name} has no URL to give job parameter "
                             f"{target.options['blob_url_parameter']!r}")
        parameters[target.options["blob_url_parameter"]] = firing.url
        if file_path := target.options.get("file_path_parameter"):
            parameters[file_path] = firing.name
    return parameters


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    body = {"job_id": target.options["job_id"], "idempotency_token": run_key,
            "job_parameters": run_parameters(target, firing)}
    return json_request(target, f"{target.endpoint.rstrip('/')}{RUN_NOW}", body, run_key)


def run_id(answer: ServiceAnswer) -> str | None:
    """`run_id`, a number in the answer, recorded as its decimal string."""
    value = answer.body.get("run_id") if isinstance(answer.body, dict) else None
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    return RunKeyPlan("idempotency_token", "not needed: a re-sent run-now with the token returns the same run")


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_DATABRICKS,
    option_fields=frozenset({"job_id", "blob_url_parameter", "file_path_parameter"}),
    check=check,
    build=build,
    run_id=run_id,
    idempotent=True,
    run_key_plan=run_key_plan,
)
