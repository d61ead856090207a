"""Finding a Data Factory (or Synapse) pipeline run by its run key (docs/services.md, "Azure Data Factory").

Neither service filters runs by parameter, so the lookup asks `queryPipelineRuns` for the pipeline's
runs last updated inside the window (both ends are required), filtered by `PipelineName`, pages through
them by continuation token, and matches the run-key parameter on our side. The query URL is derived from
the submitted `.../pipelines/{name}/createRun` URL, so one lookup serves any service with this API: Data
Factory (`.../factories/{f}/queryPipelineRuns`) and Synapse (`{workspace endpoint}/queryPipelineRuns`),
each with its own api-version.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from .request import PipelineRequest, ServiceAnswer
from .run_key_slot import key_parameter
from .spec import JSON_HEADERS, LookupPage, LookupWindow, RunLookup, inside_window

CREATE_RUN = re.compile(r"^(?P<base>.*)/pipelines/(?P<pipeline>[^/]+)/createRun/?$")  # Synapse: base is empty


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pipeline_runs_lookup(api_version: str) -> RunLookup:
    """The lookup for a service whose runs are created by `POST .../pipelines/{name}/createRun`."""

    def parts(request: PipelineRequest) -> re.Match[str] | None:
        return CREATE_RUN.match(urlsplit(request.url).path)

    def supports(request: PipelineRequest) -> bool:
        return bool(parts(request) and key_parameter(request.body, request.run_key))

    def first(request: PipelineRequest, window: LookupWindow) -> PipelineRequest:
        match = parts(request)
        assert match is not None
        url = urlunsplit(urlsplit(request.url)._replace(path=f"{match['base']}/queryPipelineRuns",
                                                        query=f"api-version={api_version}"))
        body = {"lastUpdatedAfter": _iso(window.start), "lastUpdatedBefore": _iso(window.end),
                "filters": [{"operand": "PipelineName", "operator": "Equals", "values": [match["pipeline"]]}],
                "orderBy": [{"orderBy": "RunStart", "order": "DESC"}]}
        return PipelineRequest(kind=request.kind, url=url, body=body, scope=request.scope,
                               client_id=request.client_id, headers=dict(JSON_HEADERS), run_key=request.run_key,
                               idempotent=True)

    def read(submitted: PipelineRequest, page: PipelineRequest, answer: ServiceAnswer,
             window: LookupWindow) -> LookupPage:
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise ValueError("the queryPipelineRuns answer has no `value` list")
        name = key_parameter(submitted.body, submitted.run_key)
        found = [str(run["runId"]) for run in body["value"] if isinstance(run, dict) and run.get("runId")
                 and (run.get("parameters") or {}).get(name) == submitted.run_key
                 and inside_window(run.get("runStart"), window)]
        token = body.get("continuationToken")
        if not token or token == page.body.get("continuationToken"):
            return LookupPage(found)
        return LookupPage(found, dataclasses.replace(page, body={**page.body, "continuationToken": token}))

    return RunLookup(supports=supports, first=first, read=read)
