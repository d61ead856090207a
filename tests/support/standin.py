"""A local pipeline service that behaves like the real endpoints (reference/pipeline-apis.md).

It checks the bearer token against the local identity endpoint (and its scope), validates the
documented body, answers with the documented response, records every request and accepted run, and
can be told to answer 401/404/429+Retry-After/500/503, to stall past the client's timeout (before or
after accepting the run) or to drop the connection.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .http_server import LoopbackServer, Reply, Request
from .identity import IdentityEndpoint

MANAGEMENT = "https://management.azure.com"
AML_PREFIX = (
    r"/pipelines/v1\.0/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
)
PUBLISHED_BODY_KEYS = {
    "ExperimentName", "Description", "RunSource", "RunType", "ParameterAssignments", "DataPathAssignments",
    "DataSetDefinitionValueAssignments", "ContinueRunOnStepFailure", "EnableNotification", "tags", "Properties",
}


@dataclass
class Fault:
    """What to do instead of (or around) a normal answer."""

    status: int | None = None
    retry_after: str | None = None
    message: str = "injected fault"
    stall: float = 0.0
    accept_before_stall: bool = False
    drop: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    token_resource: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class AcceptedRun:
    run_id: str
    kind: str
    path: str
    query: dict[str, list[str]]
    body: Any
    ambiguous: bool = False


def aml_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"Error": {"Code": code, "Message": message, "Details": []},
                          "Correlation": {"operation": uuid.uuid4().hex, "request": uuid.uuid4().hex[:16]}},
                 {"x-ms-request-id": uuid.uuid4().hex})


class PipelineStandIn:
    def __init__(self, identity: IdentityEndpoint, echo: Callable[[str], None] | None = None) -> None:
        self.identity = identity
        self.echo = echo
        self.requests: list[Recorded] = []
        self.runs: list[AcceptedRun] = []
        self.faults: deque[Fault] = deque()
        self.fault_hook: Callable[[Request], Fault | None] | None = None
        self.pipeline_status: dict[str, str] = {}
        self._lock = threading.Lock()
        self.server = LoopbackServer()
        self.server.route("POST", AML_PREFIX + r"/PipelineRuns/PipelineSubmit/(?P<pipeline>[^/]+)",
                          self._published_submit)

    # -- lifecycle and URLs ----------------------------------------------------------------------
    def start(self) -> PipelineStandIn:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def aml_url(self, tail: str) -> str:
        return (f"{self.base_url}/pipelines/v1.0/subscriptions/sub-1/resourceGroups/rg-1/providers/"
                f"Microsoft.MachineLearningServices/workspaces/ws-1/{tail}")

    def published_pipeline_url(self, pipeline_id: str = "pp-1") -> str:
        return self.aml_url(f"PipelineRuns/PipelineSubmit/{pipeline_id}")

    # -- fault control ---------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None, message: str = "") -> None:
        with self._lock:
            self.faults.extend(Fault(status=status, retry_after=retry_after, message=message or f"injected {status}")
                               for _ in range(times))

    def stall_next(self, seconds: float, times: int = 1, accept_before_stall: bool = False) -> None:
        with self._lock:
            self.faults.extend(Fault(stall=seconds, accept_before_stall=accept_before_stall) for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.runs.clear()
            self.faults.clear()
            self.fault_hook = None
            self.pipeline_status.clear()

    # -- the shared request flow -----------------------------------------------------------------
    def handle(self, request: Request, kind: str, resource: str,
               validate: Callable[[Any], str | None], respond: Callable[[str, Any], Reply],
               reject: Callable[[int, str, str], Reply] = aml_error) -> Reply | None:
        token = (request.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        issued = self.identity.token_info(token) if token else None
        try:
            body = request.json() if request.raw_body else None
        except ValueError:
            body = request.raw_body.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, request.query,
                                          {k: v for k, v in request.headers.items() if k != "authorization"},
                                          body, issued.resource if issued else None))
            fault = self.fault_hook(request) if self.fault_hook else None
            if fault is None and self.faults:
                fault = self.faults.popleft()
        if self.echo:
            self.echo(f"{request.method} {request.path} <- {body}")
        if fault is not None:
            accepted = self._accept(kind, request, body, ambiguous=True) if fault.accept_before_stall else None
            if fault.stall:
                time.sleep(fault.stall)
            if fault.drop:
                return None
            if accepted is not None:  # the run exists; the answer is merely late
                return respond(accepted, body)
            if fault.status is not None:
                reply = reject(fault.status, f"Injected{fault.status}", fault.message)
                if fault.retry_after:
                    reply.headers["Retry-After"] = fault.retry_after
                return reply
        if issued is None:
            return reject(401, "Unauthorized", "no valid bearer token")
        if issued.resource != resource:
            return reject(401, "InvalidAudience", f"token audience {issued.resource!r} is not {resource!r}")
        if problem := validate(body):
            return reject(400, "BadRequest", problem)
        run_id = self._accept(kind, request, body)
        return respond(run_id, body)

    def _accept(self, kind: str, request: Request, body: Any, ambiguous: bool = False) -> str:
        run_id = uuid.uuid4().hex
        with self._lock:
            self.runs.append(AcceptedRun(run_id, kind, request.path, request.query, body, ambiguous))
        return run_id

    # -- AML published pipelines -----------------------------------------------------------------
    def _published_submit(self, request: Request) -> Reply | None:
        pipeline = request.params["pipeline"]
        if self.pipeline_status.get(pipeline) == "Disabled":
            return aml_error(400, "PipelineDisabled", f"Published pipeline {pipeline} is disabled")
        return self.handle(request, "published_pipeline", MANAGEMENT, validate_aml_body,
                           lambda run_id, body: Reply(200, {
                               "Id": run_id,
                               "Status": {"StatusCode": "NotStarted", "StatusDetail": None},
                               "RunHistoryExperimentName": body["ExperimentName"],
                               "PipelineId": pipeline,
                           }))


def _string_map_problem(value: Any, field_name: str) -> str | None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return f"{field_name} must be an object of strings"
    return None


def validate_aml_body(body: Any) -> str | None:
    """The checks the AML v1 service makes on `PipelineSubmissionInfo` that matter to us."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    unknown = set(body) - PUBLISHED_BODY_KEYS
    if unknown:
        return f"unknown fields: {sorted(unknown)}"
    if not isinstance(body.get("ExperimentName"), str) or not body["ExperimentName"]:
        return "ExperimentName is required"
    for name in ("ParameterAssignments", "tags", "Properties"):
        if name in body and (problem := _string_map_problem(body[name], name)):
            return problem
    paths = body.get("DataPathAssignments", {})
    if not isinstance(paths, dict):
        return "DataPathAssignments must be an object"
    for name, value in paths.items():
        if not isinstance(value, dict) or set(value) != {"DataStoreName", "RelativePath"} or not all(
            isinstance(v, str) and v for v in value.values()
        ):
            return f"DataPathAssignments.{name} must be {{DataStoreName, RelativePath}} strings"
    for flag in ("ContinueRunOnStepFailure", "EnableNotification"):
        if flag in body and not isinstance(body[flag], bool):
            return f"{flag} must be a boolean"
    return None
