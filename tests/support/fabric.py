"""Microsoft Fabric's job scheduler for pipeline items, as docs/services.md ("Microsoft Fabric data pipelines")
describes it.

`POST /v1/workspaces/{workspaceId}/items/{itemId}/jobs/instances?jobType=Pipeline` with a token for
the Fabric API starts one job instance and answers 202 with no body, its URL in `Location` and a
`Retry-After` for polling; `GET` of that URL reads the instance. Errors come as `{"requestId",
"errorCode", "message"}`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .http_server import Reply, Request
from .standin import _single

if TYPE_CHECKING:
    from .standin import PipelineStandIn

KIND = "fabric_pipeline"
RESOURCE = "https://api.fabric.microsoft.com"
UUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
ITEM = rf"/v1/workspaces/(?P<ws>{UUID})/items/(?P<item>{UUID})"
WORKSPACE_ID = "5b218778-e7a5-4d73-8187-f10824047715"
ITEM_ID = "431e8d7b-4a95-4c02-8ccd-6faef5ba1bd7"


def fabric_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"requestId": str(uuid.uuid4()), "errorCode": code, "message": message})


def execution_problem(body: Any) -> str | None:
    """The body is optional; when given, `executionData.parameters` is an object of JSON scalars."""
    if body is None:
        return None
    if not isinstance(body, dict) or set(body) - {"executionData"}:
        return 'body must be {"executionData": {"parameters": {...}}}'
    data = body.get("executionData", {})
    if not isinstance(data, dict) or set(data) - {"parameters"} or not isinstance(data.get("parameters", {}), dict):
        return "executionData must be {\"parameters\": {...}}"
    for name, value in data.get("parameters", {}).items():
        if value is None or isinstance(value, list | dict):
            return f"parameter {name!r} must be a string, number or boolean"
    return None


class Fabric:
    def __init__(self, standin: PipelineStandIn) -> None:
        self.standin = standin
        self.items: set[str] | None = None  # the pipeline items that exist; None: every item id does
        standin.server.route("POST", ITEM + r"/jobs/instances", self.run)
        standin.server.route("GET", ITEM + r"/jobs/instances/(?P<job>[^/]+)", self.instance)

    def reset(self) -> None:
        self.items = None

    def item_url(self, workspace: str = WORKSPACE_ID, item: str = ITEM_ID) -> str:
        """A pipeline item; the real one is `https://api.fabric.microsoft.com/v1/workspaces/{ws}/items/{item}`."""
        return f"{self.standin.base_url}/v1/workspaces/{workspace}/items/{item}"

    def run(self, request: Request) -> Reply | None:
        def validate(body: Any) -> str | Reply | None:
            if _single(request.query, "jobType") != "Pipeline":
                return fabric_error(400, "InvalidJobType", f"jobType must be Pipeline (got {request.query})")
            if self.items is not None and request.params["item"] not in self.items:
                return fabric_error(404, "ItemNotFound", "The requested item was not found")
            return execution_problem(body)

        def respond(run_id: str, body: Any) -> Reply:
            location = f"{self.standin.base_url}{request.path}/{run_id}"
            return Reply(202, None, {"Location": location, "Retry-After": "60"})

        return self.standin.handle(request, KIND, RESOURCE, validate, respond, reject=fabric_error)

    def instance(self, request: Request) -> Reply | None:
        def respond(_: str, body: Any) -> Reply:
            job = request.params["job"]
            if not any(run.run_id == job and run.kind == KIND for run in self.standin.runs):
                return fabric_error(404, "EntityNotFound", f"Job instance {job} was not found")
            return Reply(200, {"id": job, "itemId": request.params["item"], "jobType": "Pipeline",
                               "invokeType": "Manual", "status": "NotStarted", "rootActivityId": str(uuid.uuid4()),
                               "startTimeUtc": None, "endTimeUtc": None, "failureReason": None})

        return self.standin.handle(request, "fabric_pipeline_status", RESOURCE,
                                   lambda body: None if body is None else "GET takes no body", respond,
                                   reject=fabric_error, creates_run=False)
