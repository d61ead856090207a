"""Azure ML (SDK v1) versioned pipeline endpoints: a published-pipeline body posted to `.../PipelineEndpointSubmit/...`.

Without `version` the endpoint runs its default pipeline. With one, the URL is built the way the SDK
builds it (`../shared/reference/pipeline-apis.md` §2): `/{version}` appended to an `.../Id/{id}` path
*and* `pipelineVersion={version}` added to the query; the `.../Name?name=...` form takes only the query.
The body is the published pipeline's, minus `ContinueRunOnStepFailure`, which the SDK never sends here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from ..firing import Firing
from ..validation import FieldReader
from . import published_pipeline
from .fields import endpoint_parts, reject_fields
from .request import PipelineRequest
from .spec import SCOPE_MANAGEMENT, PipelineTarget, TargetKind, json_request

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
    """The version is written into the URL, so it must be one of the two documented submit URLs."""
    parts = endpoint_parts(reader)
    if parts is None:
        return
    named = BY_NAME.search(parts.path) is not None
    if not (named or BY_ID.search(parts.path)):
        reader.problem("endpoint", "must be a pipeline endpoint URL ending in "
                                   "/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint id} "
                                   "(or .../PipelineEndpointSubmit/Name?name={endpoint name})")
        return
    query = parse_qs(parts.query)
    if named and not query.get("name"):
        reader.problem("endpoint", "uses .../PipelineEndpointSubmit/Name, which needs ?name={endpoint name}")
    if "pipelineVersion" in query:
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
    return {**options, "version": version} if version is not None else options


def versioned_url(endpoint: str, version: str | None) -> str:
    if version is None:
        return endpoint
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    quoted = quote(version, safe="")
    if BY_ID.search(path):
        path = f"{path}/{quoted}"
    query = "&".join(filter(None, (parts.query, f"pipelineVersion={quoted}")))
    return urlunsplit(parts._replace(path=path, query=query))


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    body = published_pipeline.submission_body(target, firing, with_continue=False)
    return json_request(target, versioned_url(target.endpoint, target.options.get("version")), body, run_key)


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_MANAGEMENT,
    option_fields=frozenset({"version"}),
    check=check,
    build=build,
    run_id=published_pipeline.run_id,
)
