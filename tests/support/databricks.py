"""Azure Databricks Jobs `run-now` (API 2.2), as docs/services.md ("Azure Databricks jobs") describes it.

`POST /api/2.2/jobs/run-now` on a workspace (here `/databricks/{workspace}`) with a token for the
AzureDatabricks application. A request with an `idempotency_token` that an earlier run has (answered or
not) gets that run's `run_id` and starts nothing. Errors come as `{"error_code", "message"}`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from .http_server import Reply, Request
from .standin import RunIdentity, _string_map_problem

if TYPE_CHECKING:
    from .standin import PipelineStandIn

KIND = "databricks_job"
RESOURCE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
BODY_FIELDS = frozenset({"job_id", "idempotency_token", "job_parameters", "queue", "only", "performance_target",
                         "pipeline_params", "notebook_params", "python_params", "jar_params", "python_named_params",
                         "sql_params", "spark_submit_params", "dbt_commands"})
ERROR_CODES = {400: "INVALID_PARAMETER_VALUE", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
               404: "RESOURCE_DOES_NOT_EXIST", 429: "REQUEST_LIMIT_EXCEEDED", 500: "INTERNAL_ERROR",
               502: "BAD_GATEWAY", 503: "TEMPORARILY_UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def databricks_error(status: int, code: str, message: str) -> Reply:
    """Databricks' error shape; the code is Databricks' own for the status (the request flow's is generic)."""
    return Reply(status, {"error_code": ERROR_CODES.get(status, code), "message": message})


def run_now_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if unknown := set(body) - BODY_FIELDS:
        return f"unknown fields: {sorted(unknown)}"
    job_id = body.get("job_id")
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id <= 0:
        return f"job_id must be a positive integer (got {job_id!r})"
    token = body.get("idempotency_token")
    if token is not None and not (isinstance(token, str) and 0 < len(token) <= 64):
        return "idempotency_token must be a string of at most 64 characters"
    if "job_parameters" in body:
        return _string_map_problem(body["job_parameters"], "job_parameters")
    return None


class Databricks:
    def __init__(self, standin: PipelineStandIn) -> None:
        self.standin = standin
        self.jobs: set[int] | None = None  # the workspace's job ids; None: every id is a job
        self.numbers = itertools.count(455644833)
        self.identity = RunIdentity(key=self.token_of, new_id=lambda key: str(next(self.numbers)))
        standin.server.route("POST", r"/databricks/(?P<workspace>[^/]+)/api/2\.2/jobs/run-now", self.run_now)

    def reset(self) -> None:
        self.jobs = None

    def workspace_url(self, workspace: str = "adb-1") -> str:
        """A workspace URL; the real one is `https://adb-<workspace-id>.<n>.azuredatabricks.net`."""
        return f"{self.standin.base_url}/databricks/{workspace}"

    @staticmethod
    def token_of(request: Request, body: Any) -> str | None:
        token = body.get("idempotency_token") if isinstance(body, dict) else None
        return f"{request.params['workspace']}/{token}" if isinstance(token, str) else None

    def run_now(self, request: Request) -> Reply | None:
        def validate(body: Any) -> str | Reply | None:
            if problem := run_now_problem(body):
                return problem
            if self.jobs is not None and body["job_id"] not in self.jobs:
                return databricks_error(400, "INVALID_PARAMETER_VALUE", f"Job {body['job_id']} does not exist.")
            return None

        return self.standin.handle(request, KIND, RESOURCE, validate,
                                   lambda run_id, body: Reply(200, {"run_id": int(run_id),
                                                                    "number_in_job": int(run_id)}),
                                   reject=databricks_error, identity=self.identity)
