"""A published pipeline's own Active/Disabled switch (`../shared/reference/pipeline-apis.md` §6).

Unlike a trigger's `status`, this switch is the service's: it stops runs from every caller, and a
submission to a disabled pipeline fails permanently with the service's message (the ledger records it,
and it can be replayed once the pipeline is active again). The URL is derived from the trigger's
`PipelineSubmit` endpoint; the token, HTTP session and https/loopback rule are the submitter's own.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from azure.core.exceptions import AzureError

from .endpoints import endpoint_problem
from .submitter import Submitter, redact, service_error
from .targets import PipelineTarget
from .targets.published_pipeline import KIND as PUBLISHED_PIPELINE

SUBMIT_PATH = re.compile(r"^(?P<workspace>.*/workspaces/[^/]+)/PipelineRuns/PipelineSubmit/(?P<id>[^/]+)/?$",
                         re.IGNORECASE)
STATUSES = ("Active", "Deprecated", "Disabled")


class StatusUnsupportedError(ValueError):
    """The trigger's target has no status switch the bridge can read or set."""


class StatusRequestError(RuntimeError):
    """The service refused or could not be reached; the message is safe to print (no token)."""


def published_pipeline_url(endpoint: str) -> str:
    """`.../workspaces/{ws}/PipelineRuns/PipelineSubmit/{id}` -> `.../workspaces/{ws}/PublishedPipelines/{id}`."""
    parts = urlsplit(endpoint)
    match = SUBMIT_PATH.match(parts.path)
    if match is None:
        raise StatusUnsupportedError(f"endpoint {endpoint} is not a .../PipelineRuns/PipelineSubmit/{{id}} URL, "
                                     "so the published pipeline it runs cannot be named")
    path = f"{match['workspace']}/PublishedPipelines/{match['id']}"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class PublishedPipelineStatus:
    """Reads and sets the status of the published pipeline one trigger submits to."""

    def __init__(self, target: PipelineTarget, submitter: Submitter) -> None:
        if target.kind != PUBLISHED_PIPELINE.name:
            raise StatusUnsupportedError(
                f"pipeline kind {target.kind} has no Active/Disabled switch the bridge can use (only "
                f"{PUBLISHED_PIPELINE.name} targets do); pause the trigger itself with \"status\": \"Disabled\"")
        self.target = target
        self.submitter = submitter
        self.url = published_pipeline_url(target.endpoint)

    @property
    def pipeline_id(self) -> str:
        return self.url.rsplit("/", 1)[1]

    def get(self) -> dict[str, Any]:
        """The pipeline entity (`Status`, `Name`, `Url`, ...)."""
        payload = self._call("GET", self.url, None).json()
        if not isinstance(payload, dict):
            raise StatusRequestError(f"GET {self.url} did not return a JSON object")
        return payload

    def set(self, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)} (got {status!r})")
        self._call("PUT", f"{self.url}/status", status)

    def _call(self, method: str, url: str, body: Any) -> requests.Response:
        if problem := endpoint_problem(url):
            raise StatusRequestError(f"refusing to send a token: endpoint {problem}")
        try:
            token = self.submitter.tokens.token(self.target.scope, self.target.client_id).token
        except AzureError as error:  # refused, or the identity endpoint unreachable
            raise StatusRequestError(f"could not get a token for {self.target.scope}: "
                                     f"{redact(error.message or str(error))}") from None
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        policy = self.submitter.policy
        try:
            response = self.submitter.session.request(
                method, url, headers=headers, data=None if body is None else json.dumps(body).encode("utf-8"),
                timeout=(policy.connect_timeout, policy.read_timeout))
        except requests.RequestException as error:
            raise StatusRequestError(f"{method} {url} failed: {type(error).__name__}") from None
        if not 200 <= response.status_code < 300:
            code, message, _ = service_error(response, token)
            raise StatusRequestError(f"{method} {url}: HTTP {response.status_code}"
                                     f"{' ' + code if code else ''}: {message}")
        return response
