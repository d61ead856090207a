"""Azure ML (SDK v1) versioned pipeline endpoints: a published-pipeline body posted to `.../PipelineEndpointSubmit/Id/`.

Without `version` the endpoint runs its default pipeline. With one, the URL is built the way the SDK
builds it (docs/services.md, "Azure ML v1 pipeline endpoints"): `/{version}` appended to the path *and*
`pipelineVersion={version}` added to the query. The SDK submits by id only (a name is resolved to its id
first), so a `.../PipelineEndpointSubmit/Name?name=...` URL is refused with the way to find the id.
The body is the published pipeline's (run key included), minus `ContinueRunOnStepFailure`, which the SDK
never sends here. Runs are looked up in run history by the `bridge_run_key` property: the endpoint has no
run list of its own to match a parameter in.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from ..firing import Firing
from ..validation import FieldReader
from . import aml_run_lookup, published_pipeline
from .fields import endpoint_parts, reject_fields
from .request import PipelineRequest
from .run_key_slot import OPTION, check_run_key_parameter
from .spec import SCOPE_MANAGEMENT, PipelineTarget, RunKeyPlan, TargetKind, json_request

NAME = "pipeline_endpoint"
BY_ID = re.compile(r"/PipelineRuns/PipelineEndpointSubmit/Id/[^/]+/?$", re.IGNORECASE)
BY_NAME = re.compile(r"/PipelineRuns/PipelineEndpointSubmit/Name/?$", re.IGNORECASE)
VERSION = re.compile(r"[A-Za-z0-9._-]+")
UNUSED = {
    "continue_on_step_failure": "the SDK never sends ContinueRunOnStepFailure to a pipeline endpoint; the "
                                "setting comes from the pipeline published behind it "
                                "(Pipeline.publish(continue_on_step_failure=...))",
}


def check_endpoint(reader: FieldReader) -> None:
    """The version is written into the URL, so it must be the submit URL the SDK uses (by id)."""
    parts = endpoint_parts(reader)
    if parts is None:
        return
    if BY_NAME.search(parts.path):
        reader.problem("endpoint", "uses .../PipelineEndpointSubmit/Name, which the service's SDK never sends (it "
                                   "submits by id only): use .../PipelineRuns/PipelineEndpointSubmit/Id/{endpoint id}, "
                                   "the id being PipelineEndpoint.get(workspace, name=...).id or the endpoint's "
                                   "REST endpoint in the studio")
        return
    if not BY_ID.search(parts.path):
        reader.problem("endpoint", "must be a pipeline endpoint URL ending in "
                                   "/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint id}")
        return
    if "pipelineVersion" in parse_qs(parts.query):
        reader.problem("endpoint", "must not carry pipelineVersion: set pipeline.version instead, so the "
                                   "bridge can add it to both the path and the query as the SDK does")


def read_version(reader: FieldReader) -> str | None:
    """`version` as the service's string; a whole number (`"version": 1`) is accepted and converted."""
    value = reader.data.get("version")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and VERSION.fullmatch(value):
        return value
    reader.problem("version", f"must be a version such as \"1\" (a string of letters, digits, '.', '_' or '-', "
                              f"or a whole number; got {value!r})")
    return None


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    options = published_pipeline.check_blob_inputs(reader, is_watch)
    reject_fields(reader, NAME, UNUSED)
    check_endpoint(reader)
    version = read_version(reader)
    options.update(check_run_key_parameter(reader, [reader.data.get("data_path_parameter_name")]))
    return {**options, "version": version} if version is not None else options


def versioned_url(endpoint: str, version: str | None) -> str:
    if version is None:
        return endpoint
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    quoted = quote(version, safe="")
    path = f"{path}/{quoted}"
    query = "&".join(filter(None, (parts.query, f"pipelineVersion={quoted}")))
    return urlunsplit(parts._replace(path=path, query=query))


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    body = published_pipeline.submission_body(target, firing, run_key, with_continue=False)
    return json_request(target, versioned_url(target.endpoint, target.options.get("version")), body, run_key)


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    return RunKeyPlan(published_pipeline.attached_text(target), published_pipeline.RUNS_QUERY_TEXT)


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_MANAGEMENT,
    option_fields=frozenset({"version", OPTION}),
    check=check,
    build=build,
    run_id=published_pipeline.run_id,
    lookup=aml_run_lookup.LOOKUP,
    run_key_plan=run_key_plan,
)
