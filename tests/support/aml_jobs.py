"""Azure ML v2 jobs on the workspace's ARM URL, as docs/services.md ("Azure ML v2 pipeline jobs") describes them.

`PUT .../workspaces/{ws}/jobs/{name}?api-version=...` creates the job (201) and starts one run; a PUT of a
name that exists never starts another: with the same immutable fields it updates the job (200; tags,
description, displayName, properties, isArchived may change), otherwise it is refused with the service's
"already exists" UserError. `GET` of the same URL reads the job (404 when there is none). The PUT needs an
ARM token and, as azure-ai-ml sends for pipeline jobs, an `x-azureml-token` for Azure ML.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from .http_server import Reply, Request
from .standin import (
    ARM_SCOPE,
    MACHINE_LEARNING,
    MANAGEMENT,
    RunIdentity,
    _single,
    _string_map_problem,
    arm_error,
    job_input_problem,
)

if TYPE_CHECKING:
    from .standin import PipelineStandIn

KIND = "aml_pipeline_job"
WORKSPACE = ARM_SCOPE + r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
JOB = WORKSPACE + r"/jobs/(?P<name>[^/]+)"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
API_VERSIONS = frozenset({"2024-01-01-preview", "2025-12-01", "2026-03-01", "2026-09-01"})
JOB_FIELDS = frozenset({"jobType", "componentId", "jobs", "inputs", "outputs", "settings", "experimentName",
                        "displayName", "description", "tags", "properties", "computeId", "identity", "isArchived"})
UPDATABLE = frozenset({"description", "tags", "displayName", "properties", "isArchived"})
INPUT_KEYS = {"literal": {"jobInputType", "value"}, "uri_file": {"jobInputType", "uri"},
              "uri_folder": {"jobInputType", "uri"}}
ALREADY_EXISTS = ("A job with this name already exists. If you are trying to create a new job, use a different "
                  "name. If you are trying to update an existing job, the existing job's Settings, Inputs, Outputs, "
                  "Jobs, InputBindings, OutputBindings cannot be changed. Only description, tags, displayName, "
                  "properties, and isArchived can be updated.")


def job_problem(body: Any) -> str | None:
    """The checks of `JobBase` with `PipelineJob` properties (arm_ml_service models) that matter to us."""
    if not isinstance(body, dict) or set(body) != {"properties"} or not isinstance(body["properties"], dict):
        return 'body must be {"properties": {...}}'
    job = body["properties"]
    if unknown := set(job) - JOB_FIELDS:
        return f"unknown job fields: {sorted(unknown)}"
    if job.get("jobType") != "Pipeline":
        return f"jobType must be Pipeline (got {job.get('jobType')!r})"
    if not (isinstance(job.get("componentId"), str) and job["componentId"]) and not job.get("jobs"):
        return "a pipeline job needs componentId or jobs"
    inputs = job.get("inputs", {})
    if not isinstance(inputs, dict):
        return "inputs must be an object"
    for name, item in inputs.items():
        if problem := job_input_problem(item, INPUT_KEYS):
            return f"inputs.{name}: {problem}"
    for name in ("tags", "properties"):
        if name in job and (problem := _string_map_problem(job[name], name)):
            return problem
    if not isinstance(job.get("settings", {}), dict):
        return "settings must be an object"
    return None


def immutable(job: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in job["properties"].items() if key not in UPDATABLE}


class AmlJobs:
    def __init__(self, standin: PipelineStandIn) -> None:
        self.standin = standin
        self.latest: dict[str, dict[str, Any]] = {}  # job path -> the body of its last accepted PUT
        self.lock = threading.Lock()
        self.identity = RunIdentity(key=lambda request, body: request.path,
                                    new_id=lambda key: str(key).rpartition("/")[2])
        standin.server.route("PUT", JOB, self.put)
        standin.server.route("GET", JOB, self.get)

    def reset(self) -> None:
        with self.lock:
            self.latest.clear()

    def workspace_url(self, workspace: str = "ws-1") -> str:
        return (f"{self.standin.base_url}/subscriptions/sub-1/resourceGroups/rg-1/providers/"
                f"Microsoft.MachineLearningServices/workspaces/{workspace}")

    def existing(self, path: str) -> dict[str, Any] | None:
        """The job's body as last accepted, if a run was ever created under this name."""
        runs = [run for run in self.standin.runs if (run.kind, run.key) == (KIND, path)]
        if not runs:
            return None
        with self.lock:
            return self.latest.get(path, runs[0].body)

    def job(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        name = request.params["name"]
        return {"id": request.path, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                "properties": {**body["properties"], "status": "NotStarted"}}

    def put(self, request: Request) -> Reply | None:
        aml_token = self.standin.identity.token_info(request.headers.get("x-azureml-token", ""))
        is_new = self.existing(request.path) is None

        def validate(body: Any) -> str | Reply | None:
            version = _single(request.query, "api-version")
            if version not in API_VERSIONS:
                return arm_error(400, "InvalidApiVersionParameter", f"api-version {version!r} is not supported")
            if aml_token is None or aml_token.resource != MACHINE_LEARNING:
                return arm_error(401, "UserError", f"x-azureml-token must be a token for {MACHINE_LEARNING}")
            if not NAME.match(request.params["name"]):
                return f"job name {request.params['name']!r} is not a valid name"
            if problem := job_problem(body):
                return problem
            before = self.existing(request.path)
            if before is not None and immutable(before) != immutable(body):
                return arm_error(400, "UserError", ALREADY_EXISTS)
            return None

        def respond(run_id: str, body: Any) -> Reply:
            with self.lock:
                self.latest[request.path] = body
            return Reply(201 if is_new else 200, self.job(request, body))

        return self.standin.handle(request, KIND, MANAGEMENT, validate, respond, reject=arm_error,
                                   identity=self.identity)

    def get(self, request: Request) -> Reply | None:
        def respond(_: str, body: Any) -> Reply:
            job = self.existing(request.path)
            if job is None:
                return arm_error(404, "UserError", f"Job {request.params['name']} not found")
            return Reply(200, self.job(request, job))

        return self.standin.handle(request, "aml_pipeline_job_status", MANAGEMENT,
                                   lambda body: None if body is None else "GET takes no body", respond,
                                   reject=arm_error, creates_run=False)
