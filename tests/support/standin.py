"""A local pipeline service that behaves like the real endpoints (docs/services.md).

One route per target kind: AML published pipelines and pipeline endpoints, AML v2 batch endpoints
(`.../jobs`) and Data Factory `createRun`; the AML status routes the SDK's `disable()`/`enable()` use
(`{ws}/Pipelines/{id}[/status]`, `{ws}/PipelineEndpoints/Id/{id}` and `{ws}/PipelineEndpoints/{id}`), which
answer `EntityStatus` by name or, with `status_as_digit`, as the enum digit the backend also sends; and
the lookups a run key is found by: AML run history `runs:query` (OData filter on Properties/Tags,
continuation tokens), the published pipeline's run list (`PipelineRuns/Pipeline/{id}`) and Data Factory
`queryPipelineRuns` (time window, PipelineName filter, continuation tokens). AML v2 pipeline jobs,
Databricks, Fabric and Synapse have modules of their own (`aml_jobs`, `databricks`, `fabric`, `synapse`) on
the same server and request flow. Each route checks the bearer token against the local identity endpoint
(and its scope), the URL's path and query, validates the documented body and answers in the service's own
shapes (AML errors in AML style, batch and ARM errors in ARM style).

It fails like the service: 401/404/429+Retry-After/500/503; and, after *creating* the run, a 500/502/504,
a dropped connection, a stall past the client's read timeout or a response cut off half-way. A `Hold`
blocks a chosen request (before or after the run is created) until the test lets it go, so a test can
SIGKILL the caller at that exact point without racing it. `runs` counts runs created, with their
Properties, tags and parameters; new runs show up in the lookups only after `visibility_delay` seconds.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .http_server import Hold, LoopbackServer, Reply, Request
from .identity import IdentityEndpoint

if TYPE_CHECKING:
    from .aml_jobs import AmlJobs
    from .databricks import Databricks
    from .fabric import Fabric
    from .synapse import Synapse

MANAGEMENT = "https://management.azure.com"
MACHINE_LEARNING = "https://ml.azure.com"
ADF_API_VERSION = "2018-06-01"
ARM_SCOPE = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
AML_WORKSPACE = ARM_SCOPE + r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/]+)"
AML_PREFIX = r"/pipelines/v1\.0" + AML_WORKSPACE
RUN_HISTORY = r"/history/v1\.0" + AML_WORKSPACE
ADF_FACTORY = ARM_SCOPE + r"Microsoft\.DataFactory/factories/(?P<factory>[^/]+)"
ADF_PIPELINE = ADF_FACTORY + r"/pipelines/(?P<pipeline>[^/]+)"
WORKSPACE_ID = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
PUBLISHED_STATUSES = ("Active", "Deprecated", "Disabled")
PUBLISHED_BODY_KEYS = {
    "ExperimentName", "Description", "RunSource", "RunType", "ParameterAssignments", "DataPathAssignments",
    "DataSetDefinitionValueAssignments", "ContinueRunOnStepFailure", "EnableNotification", "tags", "Properties",
}
AML_KINDS = ("published_pipeline", "pipeline_endpoint")
# One term of the run-history filter as azureml-core writes it (docs/services.md, AML v1 run history).
FILTER_TERM = re.compile(r'\((?:(?P<map>Properties|Tags)/(?P<key>[A-Za-z0-9_]+) eq "(?P<value>[^"]*)"'
                         r"|(?P<no_parent>ParentRunId eq null))\)")


@dataclass
class Fault:
    """What to do instead of (or around) a normal answer, in this order: create the run, hold, stall,
    then drop the connection, cut the answer, answer `status`, or (run created) answer normally, late."""

    status: int | None = None
    retry_after: str | None = None
    message: str = "injected fault"
    stall: float = 0.0
    create_run: bool = False
    drop: bool = False
    cut: bool = False
    hold: Hold | None = None


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
    """A run the service created; `uncertain`: the caller was not told (the answer failed afterwards)."""

    run_id: str
    kind: str
    path: str
    query: dict[str, list[str]]
    body: Any
    uncertain: bool = False
    key: str | None = None  # the client key a deduplicating service created it for
    created: float = field(default_factory=time.time)

    @property
    def parameters(self) -> dict[str, Any]:
        """Pipeline parameters: AML `ParameterAssignments`, a Data Factory body; batch inputs' values."""
        if self.kind in AML_KINDS:
            return dict(self.body.get("ParameterAssignments") or {})
        if self.kind == "batch_endpoint":
            inputs = self.body["properties"].get("inputData", {})
            return {name: item.get("value", item.get("uri")) for name, item in inputs.items()}
        return dict(self.body) if isinstance(self.body, dict) else {}

    @property
    def properties(self) -> dict[str, str]:
        return dict(self.body.get("Properties") or {}) if self.kind in AML_KINDS else {}

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.body.get("tags") or {}) if self.kind in AML_KINDS else {}

    @property
    def created_iso(self) -> str:
        return datetime.fromtimestamp(self.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunIdentity:
    """A service that deduplicates by a client key (Databricks token, AML v2 job name): the request's key (None:
    the request has none), and the id of a new run. A second request with a key gets the first run, whatever
    was answered to the first."""

    key: Callable[[Request, Any], str | None]
    new_id: Callable[[str | None], str]


def aml_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"Error": {"Code": code, "Message": message, "Details": []},
                          "Correlation": {"operation": uuid.uuid4().hex, "request": uuid.uuid4().hex[:16]}},
                 {"x-ms-request-id": uuid.uuid4().hex})


def arm_error(status: int, code: str, message: str) -> Reply:
    """Azure Resource Manager's error shape (Data Factory; the batch endpoint answers alike)."""
    return Reply(status, {"error": {"code": code, "message": message}},
                 {"x-ms-request-id": uuid.uuid4().hex, "x-ms-correlation-request-id": uuid.uuid4().hex})


def aml_run(run_id: str, body: dict[str, Any], pipeline_id: str) -> Reply:
    """The pipeline-run entity AML v1 answers a submission with."""
    return Reply(200, {
        "Id": run_id,
        "Status": {"StatusCode": "NotStarted", "StatusDetail": None},
        "RunHistoryExperimentName": body["ExperimentName"],
        "PipelineId": pipeline_id,
    })


class PipelineStandIn:
    def __init__(self, identity: IdentityEndpoint, echo: Callable[[str], None] | None = None) -> None:
        self.identity = identity
        self.echo = echo
        self.requests: list[Recorded] = []
        self.runs: list[AcceptedRun] = []
        self.faults: deque[Fault] = deque()
        self.fault_hook: Callable[[Request], Fault | None] | None = None
        self.pipeline_status: dict[str, str] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}  # pipeline endpoint id -> its entity, made on first use
        self.status_as_digit = False  # answer EntityStatus as "0"/"1"/"2" instead of the name
        self.batch_reply_with_id = True  # False: the job comes back with its `name` only
        self.adf_parameter_types: dict[str, dict[str, str]] = {}  # pipeline -> declared {parameter: ADF type}
        self.visibility_delay = 0.0  # seconds before a new run shows up in the lookups
        self.page_size = 100  # lookup results per page (a client's `top` may lower it)
        self.keeps_properties = True  # False: AML run history drops the submitted Properties (unverified either way)
        self._lock = threading.Lock()
        self.server = LoopbackServer()
        self.server.route("POST", AML_PREFIX + r"/PipelineRuns/PipelineSubmit/(?P<pipeline>[^/]+)",
                          self._published_submit)
        self.server.route("POST", AML_PREFIX + r"/PipelineRuns/PipelineEndpointSubmit/"
                                               r"Id/(?P<endpoint>[^/]+)(?:/(?P<version>[^/]+))?",
                          self._endpoint_submit)
        self.server.route("POST", r"/batch/(?P<endpoint>[^/]+)/jobs", self._batch_invoke)
        self.server.route("POST", ADF_PIPELINE + r"/createRun", self._adf_create_run)
        self.server.route("GET", AML_PREFIX + r"/Pipelines/(?P<pipeline>[^/]+)", self._published_get)
        self.server.route("PUT", AML_PREFIX + r"/Pipelines/(?P<pipeline>[^/]+)/status", self._published_set_status)
        self.server.route("GET", AML_PREFIX + r"/PipelineEndpoints/Id/(?P<endpoint>[^/]+)", self._endpoint_get)
        self.server.route("PUT", AML_PREFIX + r"/PipelineEndpoints/(?P<endpoint>[^/]+)", self._endpoint_put)
        self.server.route("POST", RUN_HISTORY + r"/experiments/(?P<experiment>[^/]+)/runs:query", self._runs_query)
        self.server.route("GET", AML_PREFIX + r"/PipelineRuns/Pipeline/(?P<pipeline>[^/]+)", self._pipeline_runs)
        self.server.route("POST", ADF_FACTORY + r"/queryPipelineRuns", self._adf_query_runs)
        self._register_services()

    def _register_services(self) -> None:
        """The services with modules of their own (they import this one, hence the late import)."""
        from . import aml_jobs, databricks, fabric, synapse

        self.aml_jobs: AmlJobs = aml_jobs.AmlJobs(self)
        self.databricks: Databricks = databricks.Databricks(self)
        self.fabric: Fabric = fabric.Fabric(self)
        self.synapse: Synapse = synapse.Synapse(self)

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
        return f"{self.base_url}/pipelines/v1.0{WORKSPACE_ID}/{tail}"

    def published_pipeline_url(self, pipeline_id: str = "pp-1") -> str:
        return self.aml_url(f"PipelineRuns/PipelineSubmit/{pipeline_id}")

    def pipeline_endpoint_url(self, endpoint_id: str = "pe-1") -> str:
        return self.aml_url(f"PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}")

    def batch_endpoint_url(self, endpoint: str = "be-1") -> str:
        """A scoring URI; the real one is `https://<endpoint>.<region>.inference.ml.azure.com/jobs`."""
        return f"{self.base_url}/batch/{endpoint}/jobs"

    def adf_pipeline_url(self, factory: str = "df-1", pipeline: str = "copy-1") -> str:
        return (f"{self.base_url}/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.DataFactory/"
                f"factories/{factory}/pipelines/{pipeline}")

    def url_for(self, kind: str) -> str:
        """The submit URL of each kind's default resource here."""
        urls = {"published_pipeline": self.published_pipeline_url, "pipeline_endpoint": self.pipeline_endpoint_url,
                "batch_endpoint": self.batch_endpoint_url, "adf_pipeline": self.adf_pipeline_url,
                "aml_pipeline_job": self.aml_jobs.workspace_url, "databricks_job": self.databricks.workspace_url}
        return urls[kind]()

    # -- fault control ---------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None, message: str = "",
                  create_run: bool = False) -> None:
        """Answer `status` to the next requests; with `create_run`, only after creating the run."""
        with self._lock:
            self.faults.extend(Fault(status=status, retry_after=retry_after, message=message or f"injected {status}",
                                     create_run=create_run) for _ in range(times))

    def stall_next(self, seconds: float, times: int = 1, create_run: bool = False) -> None:
        with self._lock:
            self.faults.extend(Fault(stall=seconds, create_run=create_run) for _ in range(times))

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.runs.clear()
            self.faults.clear()
            self.fault_hook = None
            self.pipeline_status.clear()
            self.endpoints.clear()
            self.status_as_digit = False
            self.batch_reply_with_id = True
            self.adf_parameter_types.clear()
            self.visibility_delay = 0.0
            self.page_size = 100
            self.keeps_properties = True
        for service in (self.aml_jobs, self.databricks, self.fabric, self.synapse):
            service.reset()

    def runs_with(self, value: str) -> list[AcceptedRun]:
        """Runs created with `value` anywhere in their parameters, Properties or tags (e.g. a run key)."""
        with self._lock:
            runs = list(self.runs)
        return [run for run in runs
                if value in {*map(str, run.parameters.values()), *run.properties.values(), *run.tags.values()}]

    def lookups(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(("runs:query", "queryPipelineRuns"))
                    or "/PipelineRuns/Pipeline/" in r.path]

    # -- the shared request flow -----------------------------------------------------------------
    def handle(self, request: Request, kind: str, resource: str,
               validate: Callable[[Any], str | Reply | None], respond: Callable[[str, Any], Reply],
               reject: Callable[[int, str, str], Reply] = aml_error, creates_run: bool = True,
               identity: RunIdentity | None = None) -> Reply | None:
        """`validate` names what is wrong with the body (answered as a 400), or gives the service's own refusal."""
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
            created = self._accept(kind, request, body, True, identity) if fault.create_run and creates_run else None
            if fault.hold is not None:
                fault.hold.reached.set()
                fault.hold.release.wait(120)
            if fault.stall:
                time.sleep(fault.stall)
            if fault.drop:
                return None
            if fault.status is not None:
                reply = reject(fault.status, f"Injected{fault.status}", fault.message)
                if fault.retry_after:
                    reply.headers["Retry-After"] = fault.retry_after
                reply.cut = fault.cut
                return reply
            if created is not None:  # the run exists; its answer is late, or cut off
                reply = respond(created, body)
                reply.cut = fault.cut
                return reply
        if issued is None:
            return reject(401, "Unauthorized", "no valid bearer token")
        if issued.resource != resource:
            return reject(401, "InvalidAudience", f"token audience {issued.resource!r} is not {resource!r}")
        if isinstance(problem := validate(body), Reply):
            return problem
        if problem:
            return reject(400, "BadRequest", problem)
        run_id = self._accept(kind, request, body, False, identity) if creates_run else ""
        return respond(run_id, body)

    def _accept(self, kind: str, request: Request, body: Any, uncertain: bool = False,
                identity: RunIdentity | None = None) -> str:
        key = identity.key(request, body) if identity else None
        with self._lock:
            known = [run.run_id for run in self.runs if (run.kind, run.key) == (kind, key)] if key else []
            if known:
                return known[0]
            run_id = identity.new_id(key) if identity else uuid.uuid4().hex
            self.runs.append(AcceptedRun(run_id, kind, request.path, request.query, body, uncertain, key))
        return run_id

    def _visible(self, kinds: tuple[str, ...]) -> list[AcceptedRun]:
        """Runs a lookup can see now: created at least `visibility_delay` seconds ago, oldest first."""
        cutoff = time.time() - self.visibility_delay
        with self._lock:
            return [run for run in self.runs if run.kind in kinds and run.created <= cutoff]

    def _page(self, items: list[dict[str, Any]], token: Any, top: Any = None) -> tuple[list[dict[str, Any]],
                                                                                       str | None] | str:
        """One page and the next page's continuation token; a problem text for a token never issued."""
        offset = 0
        if token is not None:
            match = re.fullmatch(r"page-(\d+)", str(token))
            if match is None:
                return f"continuationToken {token!r} was not issued by this service"
            offset = int(match.group(1))
        size = min(self.page_size, top) if isinstance(top, int) and top > 0 else self.page_size
        page = items[offset:offset + size]
        return page, (f"page-{offset + size}" if offset + size < len(items) else None)

    # -- AML published pipelines -----------------------------------------------------------------
    def _published_submit(self, request: Request) -> Reply | None:
        pipeline = request.params["pipeline"]
        if self.pipeline_status.get(pipeline) == "Disabled":
            return aml_error(400, "PipelineDisabled", f"Published pipeline {pipeline} is disabled")
        return self.handle(request, "published_pipeline", MANAGEMENT, validate_aml_body,
                           lambda run_id, body: aml_run(run_id, body, pipeline))

    # -- AML status routes (docs/services.md) ----------------------------------------------------
    def entity_status(self, status: str) -> str:
        """`EntityStatus` in the spelling this stand-in is set to answer with."""
        return str(PUBLISHED_STATUSES.index(status)) if self.status_as_digit else status

    def _published_get(self, request: Request) -> Reply | None:
        """The `PipelineEntity`; every pipeline id exists here and is Active until set otherwise."""
        pipeline = request.params["pipeline"]
        return self.handle(request, "published_pipeline_status", MANAGEMENT, _no_body,
                           lambda _, body: Reply(200, {
                               "Id": pipeline, "Name": f"pipeline {pipeline}", "Version": "1",
                               "EntityStatus": self.entity_status(self.pipeline_status.get(pipeline, "Active")),
                               "Url": self.published_pipeline_url(pipeline),
                               "LastModifiedDate": "2026-11-25T10:00:00Z",
                           }), creates_run=False)

    def _published_set_status(self, request: Request) -> Reply | None:
        """The body is a JSON string: "Active", "Deprecated" or "Disabled"."""
        pipeline = request.params["pipeline"]

        def set_status(body: Any) -> Reply:
            with self._lock:
                self.pipeline_status[pipeline] = body
            return Reply(200)

        return self.handle(request, "published_pipeline_status", MANAGEMENT,
                           lambda body: None if body in PUBLISHED_STATUSES
                           else f"status must be a JSON string: one of {', '.join(PUBLISHED_STATUSES)}",
                           lambda _, body: set_status(body), creates_run=False)

    def endpoint_entity(self, endpoint: str) -> dict[str, Any]:
        """The `PipelineEndpointEntity`, with a field the bridge does not know, which a PUT must send back."""
        with self._lock:
            return self.endpoints.setdefault(endpoint, {
                "Id": endpoint, "Name": f"endpoint {endpoint}", "Description": "nightly scoring",
                "DefaultVersion": "0", "PipelineVersionList": [{"Version": "0", "PipelineId": "pp-1"}],
                "Url": self.pipeline_endpoint_url(endpoint), "EntityStatus": "Active", "Etag": "\"1\"",
                "LastModifiedDate": "2026-11-25T10:00:00Z", "SwaggerUrl": "https://example.invalid/swagger.json",
            })

    def _endpoint_get(self, request: Request) -> Reply | None:
        entity = self.endpoint_entity(request.params["endpoint"])
        return self.handle(request, "pipeline_endpoint_status", MANAGEMENT, _no_body,
                           lambda _, body: Reply(200, {**entity,
                                                       "EntityStatus": self.entity_status(entity["EntityStatus"])}),
                           creates_run=False)

    def _endpoint_put(self, request: Request) -> Reply | None:
        """The SDK sends back the whole entity it read with `EntityStatus` changed (by name)."""
        endpoint = request.params["endpoint"]
        stored = self.endpoint_entity(endpoint)

        def validate(body: Any) -> str | None:
            if not isinstance(body, dict):
                return "body must be the PipelineEndpointEntity"
            if body.get("EntityStatus") not in PUBLISHED_STATUSES:
                return f"EntityStatus must be one of {', '.join(PUBLISHED_STATUSES)}"
            changed = sorted(k for k in {*body, *stored} - {"EntityStatus"} if body.get(k) != stored.get(k))
            return f"fields differ from the entity read: {changed}" if changed else None

        def update(body: dict[str, Any]) -> Reply:
            with self._lock:
                stored["EntityStatus"] = body["EntityStatus"]
            return Reply(200, dict(stored))

        return self.handle(request, "pipeline_endpoint_status", MANAGEMENT, validate,
                           lambda _, body: update(body), creates_run=False)

    # -- AML pipeline endpoints ------------------------------------------------------------------
    def _endpoint_submit(self, request: Request) -> Reply | None:
        """`.../Id/{id}[/{version}]?pipelineVersion={version}` (the SDK's only submit route)."""
        path_version = request.params.get("version")
        query_version = _single(request.query, "pipelineVersion")
        endpoint = request.params["endpoint"]
        if self.endpoints.get(endpoint, {}).get("EntityStatus") == "Disabled":
            return aml_error(400, "PipelineEndpointDisabled", f"Pipeline endpoint {endpoint} is disabled")

        def validate(body: Any) -> str | None:
            if path_version != query_version:
                return (f"version in path ({path_version!r}) and pipelineVersion query ({query_version!r}) "
                        "must be given together and agree")
            if isinstance(body, dict) and "ContinueRunOnStepFailure" in body:
                return "ContinueRunOnStepFailure is not part of a pipeline endpoint submission"
            return validate_aml_body(body)

        return self.handle(request, "pipeline_endpoint", MANAGEMENT, validate,
                           lambda run_id, body: aml_run(run_id, body, f"{endpoint}@{query_version or 'default'}"))

    # -- AML v2 batch endpoints ------------------------------------------------------------------
    def _batch_invoke(self, request: Request) -> Reply | None:
        def validate(body: Any) -> str | None:
            deployment = request.headers.get("azureml-model-deployment")
            if deployment is not None and not deployment.strip():
                return "azureml-model-deployment must name a deployment"
            return validate_batch_body(body)

        def respond(run_id: str, body: Any) -> Reply:
            job = {"name": run_id, "type": "Microsoft.MachineLearningServices/workspaces/jobs",
                   "properties": {**body["properties"], "status": "NotStarted"}}
            if self.batch_reply_with_id:
                job["id"] = f"{WORKSPACE_ID}/jobs/{run_id}"
            return Reply(200, job)

        return self.handle(request, "batch_endpoint", MACHINE_LEARNING, validate, respond, reject=arm_error)

    # -- Azure Data Factory ----------------------------------------------------------------------
    def _adf_create_run(self, request: Request) -> Reply | None:
        declared = self.adf_parameter_types.get(request.params["pipeline"], {})

        def validate(body: Any) -> str | None:
            if _single(request.query, "api-version") != ADF_API_VERSION:
                return f"api-version must be {ADF_API_VERSION} (got {request.query.get('api-version')})"
            return validate_adf_body(body, declared)

        return self.handle(request, "adf_pipeline", MANAGEMENT, validate,
                           lambda run_id, body: Reply(200, {"runId": run_id}), reject=arm_error)

    # -- lookups by run key (docs/services.md: AML v1 run history, Azure Data Factory) -----------
    def _runs_query(self, request: Request) -> Reply | None:
        """`POST {rh}/experiments/{experiment}/runs:query`: `QueryParamsDto` in, `PaginatedRunDto` out."""
        experiment = unquote(request.params["experiment"])

        def validate(body: Any) -> str | None:
            if not isinstance(body, dict) or not isinstance(body.get("filter"), str):
                return "body must be QueryParamsDto with a filter string"
            return filter_problem(body["filter"]) or token_problem(body.get("continuationToken"))

        def respond(_: str, body: Any) -> Reply:
            terms = filter_terms(body["filter"])
            runs = [run for run in reversed(self._visible(AML_KINDS))  # StartTimeUtc desc
                    if run.body.get("ExperimentName") == experiment]
            dtos = [dto for dto in (run_dto(run, self.keeps_properties) for run in runs) if matches(dto, terms)]
            page, token = self._page(dtos, body.get("continuationToken"), body.get("top"))
            return Reply(200, {"value": page, "continuationToken": token})

        return self.handle(request, "run_history", MANAGEMENT, validate, respond, creates_run=False)

    def _pipeline_runs(self, request: Request) -> Reply | None:
        """`GET {ws}/PipelineRuns/Pipeline/{id}`: every run of one published pipeline, a plain array, no paging."""
        pipeline = request.params["pipeline"]

        def respond(_: str, body: Any) -> Reply:
            runs = [run for run in self._visible(("published_pipeline",))
                    if run.path.endswith(f"/PipelineSubmit/{pipeline}")]
            return Reply(200, [pipeline_run_entity(run, pipeline, self.keeps_properties) for run in runs])

        return self.handle(request, "pipeline_runs", MANAGEMENT,
                           lambda body: None if body is None else "GET takes no body", respond, creates_run=False)

    def _adf_query_runs(self, request: Request) -> Reply | None:
        """`POST .../factories/{f}/queryPipelineRuns`: the runs of that factory's pipelines."""
        factory = request.params["factory"]

        def pipeline_of(run: AcceptedRun) -> str | None:
            match = re.search(r"/factories/([^/]+)/pipelines/([^/]+)/createRun$", run.path)
            return match.group(2) if match and match.group(1) == factory else None

        return self.query_pipeline_runs(request, "adf_query", ("adf_pipeline",), MANAGEMENT, ADF_API_VERSION,
                                        pipeline_of)

    def query_pipeline_runs(self, request: Request, label: str, kinds: tuple[str, ...], resource: str,
                            api_version: str, pipeline_of: Callable[[AcceptedRun], str | None]) -> Reply | None:
        """`queryPipelineRuns` (Data Factory, Synapse): `RunFilterParameters` in, `PipelineRunsQueryResponse` out.
        `pipeline_of` names the pipeline of a run created in this factory or workspace (None: elsewhere)."""

        def validate(body: Any) -> str | None:
            if _single(request.query, "api-version") != api_version:
                return f"api-version must be {api_version} (got {request.query.get('api-version')})"
            return run_filter_problem(body) or token_problem(body.get("continuationToken"))

        def respond(_: str, body: Any) -> Reply:
            after, before = parse_time(body["lastUpdatedAfter"]), parse_time(body["lastUpdatedBefore"])
            names = {value for item in body.get("filters", []) for value in item["values"]}
            runs = []
            for run in reversed(self._visible(kinds)):  # RunStart desc
                pipeline = pipeline_of(run)
                if pipeline and (not names or pipeline in names) and after <= run.created <= before:
                    runs.append(adf_pipeline_run(run, pipeline))
            page, token = self._page(runs, body.get("continuationToken"))
            return Reply(200, {"value": page, "continuationToken": token})

        return self.handle(request, label, resource, validate, respond, reject=arm_error, creates_run=False)


def _no_body(body: Any) -> str | None:
    return None if body is None else "GET takes no body"


def _single(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name) or []
    return values[0] if len(values) == 1 else None


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


BATCH_INPUT_KEYS = {"UriFile": {"jobInputType", "uri"}, "UriFolder": {"jobInputType", "uri"},
                    "Literal": {"jobInputType", "value"}}


def job_input_problem(item: Any, input_keys: dict[str, set[str]] = BATCH_INPUT_KEYS) -> str | None:
    """An AML v2 job input: `input_keys` maps each jobInputType (batch: `UriFile`; jobs: `uri_file`) to its keys."""
    if not isinstance(item, dict) or item.get("jobInputType") not in input_keys:
        return f"must be an object with jobInputType one of {sorted(input_keys)}"
    expected = input_keys[item["jobInputType"]]
    if set(item) - {"mode"} != expected:
        return f"a {item['jobInputType']} input has exactly the keys {sorted(expected)} (got {sorted(item)})"
    if "value" in item:
        return None if isinstance(item["value"], str) else f"a {item['jobInputType']} value must be a string"
    parts = urlsplit(item["uri"]) if isinstance(item["uri"], str) else None
    if parts is None or not (parts.scheme in ("https", "azureml") or parts.hostname == "127.0.0.1"):
        return f"uri must be an https or azureml:// URI (got {item['uri']!r})"
    return None


def validate_batch_body(body: Any) -> str | None:
    """`BatchJobResource` as azure-ai-ml serializes it: `{"properties": {"inputData", "outputData", "properties"}}`."""
    if not isinstance(body, dict) or set(body) != {"properties"} or not isinstance(body["properties"], dict):
        return 'body must be {"properties": {...}}'
    job = body["properties"]
    unknown = set(job) - {"inputData", "outputData", "properties"}
    if unknown:
        return f"unknown job fields: {sorted(unknown)}"
    inputs = job.get("inputData", {})
    if not isinstance(inputs, dict):
        return "inputData must be an object"
    for name, item in inputs.items():
        if problem := job_input_problem(item):
            return f"inputData.{name}: {problem}"
    if "properties" in job:
        return _string_map_problem(job["properties"], "properties.properties")
    return None


ADF_TYPES: dict[str, tuple[type, ...]] = {
    "String": (str,), "SecureString": (str,), "Int": (int,), "Float": (int, float), "Bool": (bool,),
    "Array": (list,), "Object": (dict,),
}


def validate_adf_body(body: Any, declared: dict[str, str]) -> str | None:
    """A flat object of parameters; where the test declares the pipeline's parameter types, they are checked."""
    if not isinstance(body, dict):
        return "body must be a JSON object of pipeline parameters"
    for name, value in body.items():
        if not name or value is None:
            return f"parameter {name!r} must have a name and a value"
        expected = ADF_TYPES.get(declared.get(name, ""), ())
        wrong_bool = isinstance(value, bool) and bool not in expected
        if expected and (wrong_bool or not isinstance(value, expected)):
            return f"parameter {name!r} is declared {declared[name]} but got {type(value).__name__} {value!r}"
    return None


def relative_path(body: Any, parameter: str = "input_datapath") -> str | None:
    """The blob an AML submission names in `DataPathAssignments.<parameter>.RelativePath`, if any."""
    try:
        return str(body["DataPathAssignments"][parameter]["RelativePath"])
    except (KeyError, TypeError):
        return None


def token_problem(token: Any) -> str | None:
    if token is None or re.fullmatch(r"page-\d+", str(token)):
        return None
    return f"continuationToken {token!r} was not issued by this service"


def filter_terms(text: str) -> list[re.Match[str]]:
    return list(FILTER_TERM.finditer(text))


def filter_problem(text: str) -> str | None:
    """Only what azureml-core writes: `(Properties/k eq "v")`, `(Tags/k eq "v")`, `(ParentRunId eq null)`, and-ed."""
    rest = FILTER_TERM.sub("", text).replace("and", "").replace("(", "").replace(")", "").strip()
    if rest or not filter_terms(text):
        return f"unsupported filter {text!r}"
    return None


def matches(dto: dict[str, Any], terms: list[re.Match[str]]) -> bool:
    for term in terms:
        if term.group("no_parent"):
            if dto["parentRunId"] is not None:
                return False
            continue
        values = dto["properties"] if term.group("map") == "Properties" else dto["tags"]
        if values.get(term.group("key")) != term.group("value"):
            return False
    return True


def run_dto(run: AcceptedRun, keeps_properties: bool) -> dict[str, Any]:
    """`RunDto` as run history answers it (the fields a lookup reads)."""
    return {"runId": run.run_id, "status": "NotStarted", "runType": "azureml.PipelineRun", "parentRunId": None,
            "properties": run.properties if keeps_properties else {},
            "tags": run.tags if keeps_properties else {},
            "createdUtc": run.created_iso, "startTimeUtc": None, "experimentId": uuid.uuid5(
                uuid.NAMESPACE_URL, str(run.body.get("ExperimentName"))).hex}


def pipeline_run_entity(run: AcceptedRun, pipeline: str, keeps_properties: bool) -> dict[str, Any]:
    """`PipelineRunEntity`: ParameterAssignments always come back; Properties and tags as run history keeps them."""
    return {"Id": run.run_id, "Status": {"StatusCode": "NotStarted", "StatusDetail": None},
            "ParameterAssignments": run.parameters, "DataPathAssignments": run.body.get("DataPathAssignments", {}),
            "tags": run.tags if keeps_properties else {}, "Properties": run.properties if keeps_properties else {},
            "RunHistoryExperimentName": run.body.get("ExperimentName"), "PipelineId": pipeline,
            "CreatedDate": run.created_iso}


def adf_pipeline_run(run: AcceptedRun, pipeline: str) -> dict[str, Any]:
    """`PipelineRun`: parameters come back as strings."""
    return {"runId": run.run_id, "runGroupId": run.run_id, "isLatest": True, "pipelineName": pipeline,
            "parameters": {name: value if isinstance(value, str) else json.dumps(value)
                           for name, value in run.parameters.items()},
            "invokedBy": {"name": "Manual", "id": uuid.uuid4().hex, "invokedByType": "Manual"},
            "lastUpdated": run.created_iso, "runStart": run.created_iso, "runEnd": None, "durationInMs": None,
            "status": "InProgress", "message": ""}


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_filter_problem(body: Any) -> str | None:
    """`RunFilterParameters`: both window ends required; only PipelineName Equals/In filters are modelled."""
    if not isinstance(body, dict):
        return "body must be RunFilterParameters"
    for name in ("lastUpdatedAfter", "lastUpdatedBefore"):
        try:
            parse_time(body[name])
        except (KeyError, TypeError, ValueError):
            return f"{name} is required (an ISO 8601 time)"
    for item in body.get("filters", []):
        if not isinstance(item, dict) or item.get("operand") != "PipelineName" \
                or item.get("operator") not in ("Equals", "In") or not isinstance(item.get("values"), list):
            return f"unsupported filter {item!r}"
    return None


def blob_named(body: Any) -> str | None:
    """The blob a submission of any kind names (AML DataPath, Data Factory `fileName`, a batch UriFile input, an
    AML v2 job's `uri_file` input, a Databricks `blob_url` job parameter)."""
    if not isinstance(body, dict):
        return None
    if (path := relative_path(body)) is not None:
        return path
    if isinstance(body.get("fileName"), str):
        return body["fileName"]
    if isinstance(body.get("job_parameters"), dict) and isinstance(body["job_parameters"].get("blob_url"), str):
        return unquote(body["job_parameters"]["blob_url"].rsplit("/", 1)[-1])  # a Databricks run-now
    properties = body.get("properties") if isinstance(body.get("properties"), dict) else {}
    inputs = properties.get("inputData") or properties.get("inputs") or {}  # a batch invoke, an AML v2 job
    uris = [item["uri"] for item in inputs.values() if isinstance(item, dict)
            and item.get("jobInputType") in ("UriFile", "uri_file")]
    return unquote(uris[0].rsplit("/", 1)[-1]) if uris else None
