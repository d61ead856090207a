"""Finding an Azure ML v1 pipeline run by its run key (docs/services.md, "Azure ML v1 run history").

With a run-key pipeline parameter on a published pipeline, the pipeline's own run list
(`GET {ws}/PipelineRuns/Pipeline/{id}`) is read and matched on `ParameterAssignments`: the one slot the
service is certain to keep. Otherwise run history is asked for the `bridge_run_key` property:
`POST {rh}/experiments/{experiment}/runs:query` with `(Properties/bridge_run_key eq "<key>")`, paged by
continuation token. Both are matched on our side too, and only runs created inside the window count.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .request import PipelineRequest, ServiceAnswer
from .run_key_slot import RUN_KEY_PROPERTY, key_parameter
from .spec import JSON_HEADERS, LookupPage, LookupWindow, RunLookup, inside_window

WORKSPACE = re.compile(r"^(?P<ws>.*/workspaces/[^/]+)/PipelineRuns/(?P<route>PipelineSubmit|PipelineEndpointSubmit)"
                       r"(?:/(?P<pipeline>[^/]+))?", re.IGNORECASE)
PAGE_SIZE = 500  # azureml-core's default page size


def _parts(request: PipelineRequest) -> re.Match[str] | None:
    parts = urlsplit(request.url)
    return WORKSPACE.match(urlunsplit(parts._replace(query="", fragment="")))


def _parameters(request: PipelineRequest) -> Any:
    return request.body.get("ParameterAssignments") if isinstance(request.body, dict) else None


def _by_parameter(request: PipelineRequest) -> bool:
    """A published pipeline whose request carries the key as a parameter: its run list is the certain source."""
    match = _parts(request)
    return bool(match and match["route"].lower() == "pipelinesubmit" and match["pipeline"]
                and key_parameter(_parameters(request), request.run_key))


def supports(request: PipelineRequest) -> bool:
    body = request.body if isinstance(request.body, dict) else {}
    has_property = (body.get("Properties") or {}).get(RUN_KEY_PROPERTY) == request.run_key
    return bool(request.run_key and _parts(request) and body.get("ExperimentName")
                and (has_property or _by_parameter(request)))


def first(request: PipelineRequest, window: LookupWindow) -> PipelineRequest:
    match = _parts(request)
    assert match is not None
    if _by_parameter(request):
        url = f"{match['ws']}/PipelineRuns/Pipeline/{match['pipeline']}"
        return PipelineRequest(kind=request.kind, url=url, body=None, scope=request.scope,
                               client_id=request.client_id, method="GET", run_key=request.run_key, idempotent=True)
    history = match["ws"].replace("/pipelines/v1.0/", "/history/v1.0/", 1)
    url = f"{history}/experiments/{quote(request.body['ExperimentName'], safe='')}/runs:query"
    body = {"filter": f'(Properties/{RUN_KEY_PROPERTY} eq "{request.run_key}")', "orderby": "StartTimeUtc desc",
            "top": PAGE_SIZE}
    return PipelineRequest(kind=request.kind, url=url, body=body, scope=request.scope, client_id=request.client_id,
                           headers=dict(JSON_HEADERS), run_key=request.run_key, idempotent=True)


def read(submitted: PipelineRequest, page: PipelineRequest, answer: ServiceAnswer,
         window: LookupWindow) -> LookupPage:
    body = answer.body
    if page.method == "GET":  # a plain array of PipelineRunEntity, no paging
        if not isinstance(body, list):
            raise ValueError("the pipeline's run list is not a JSON array")
        name = key_parameter(_parameters(submitted), submitted.run_key)
        return LookupPage([str(run["Id"]) for run in body if isinstance(run, dict) and run.get("Id")
                           and (run.get("ParameterAssignments") or {}).get(name) == submitted.run_key
                           and inside_window(run.get("CreatedDate"), window)])
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ValueError("the run history answer has no `value` list")
    found = [str(run["runId"]) for run in body["value"] if isinstance(run, dict) and run.get("runId")
             and (run.get("properties") or {}).get(RUN_KEY_PROPERTY) == submitted.run_key
             and inside_window(run.get("createdUtc"), window)]
    token = body.get("continuationToken")
    if not token or token == (page.body or {}).get("continuationToken"):  # the SDK stops on a repeated token too
        return LookupPage(found)
    return LookupPage(found, dataclasses.replace(page, body={**page.body, "continuationToken": token}))


LOOKUP = RunLookup(supports=supports, first=first, read=read)
