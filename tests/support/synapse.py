"""Azure Synapse pipelines on a workspace's development endpoint, as docs/services.md ("Azure Synapse
pipelines") describes them.

`POST /pipelines/{pipeline}/createRun?api-version=2020-12-01` on the workspace (here `/synapse/{workspace}`)
with a token for `https://dev.azuresynapse.net`: the Data Factory parameter body, answered 202 `{"runId"}`;
errors in the `{"error": {"code", "message"}}` shape of the SDK's `CloudError`. `POST /queryPipelineRuns`
on the workspace lists its runs as Data Factory's does.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .http_server import Reply, Request
from .standin import _single, arm_error, validate_adf_body

if TYPE_CHECKING:
    from .standin import AcceptedRun, PipelineStandIn

KIND = "synapse_pipeline"
RESOURCE = "https://dev.azuresynapse.net"
API_VERSION = "2020-12-01"


class Synapse:
    def __init__(self, standin: PipelineStandIn) -> None:
        self.standin = standin
        self.parameter_types: dict[str, dict[str, str]] = {}  # pipeline -> declared {parameter: type}
        standin.server.route("POST", r"/synapse/(?P<workspace>[^/]+)/pipelines/(?P<pipeline>[^/]+)/createRun",
                             self.create_run)
        standin.server.route("POST", r"/synapse/(?P<workspace>[^/]+)/queryPipelineRuns", self.query_runs)

    def reset(self) -> None:
        self.parameter_types.clear()

    def pipeline_url(self, workspace: str = "syn-1", pipeline: str = "copy-1") -> str:
        """A pipeline; the real one is `https://{workspace}.dev.azuresynapse.net/pipelines/{pipeline}`."""
        return f"{self.standin.base_url}/synapse/{workspace}/pipelines/{pipeline}"

    def create_run(self, request: Request) -> Reply | None:
        declared = self.parameter_types.get(request.params["pipeline"], {})

        def validate(body: Any) -> str | None:
            if _single(request.query, "api-version") != API_VERSION:
                return f"api-version must be {API_VERSION} (got {request.query.get('api-version')})"
            return validate_adf_body(body, declared)

        return self.standin.handle(request, KIND, RESOURCE, validate,
                                   lambda run_id, body: Reply(202, {"runId": run_id}), reject=arm_error)

    def query_runs(self, request: Request) -> Reply | None:
        workspace = request.params["workspace"]

        def pipeline_of(run: AcceptedRun) -> str | None:
            match = re.search(r"/synapse/([^/]+)/pipelines/([^/]+)/createRun$", run.path)
            return match.group(2) if match and match.group(1) == workspace else None

        return self.standin.query_pipeline_runs(request, "synapse_query", (KIND,), RESOURCE, API_VERSION,
                                                pipeline_of)
