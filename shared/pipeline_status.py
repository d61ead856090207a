"""The service's own Active/Disabled switch of a published pipeline or a pipeline endpoint.

Unlike a trigger's `status`, this switch is the service's: it stops runs from every caller, and a
submission to a disabled pipeline fails permanently with the service's message (the ledger records it,
and it can be replayed once the pipeline is active again). The routes are the ones the Azure ML SDK's
`PublishedPipeline.disable()` and `PipelineEndpoint.disable()` use (docs/services.md, "Azure ML v1
published pipelines" and "pipeline endpoints"), derived from the trigger's submit URL. Every request goes
through the submitter's `call`: its token, timeouts, retries and https/loopback rule.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .submitter import SubmitError, Submitter
from .targets import PipelineTarget
from .targets.pipeline_endpoint import NAME as PIPELINE_ENDPOINT
from .targets.published_pipeline import KIND as PUBLISHED_PIPELINE
from .targets.request import PipelineRequest
from .targets.spec import JSON_HEADERS

STATUSES = ("Active", "Deprecated", "Disabled")
ENUM_DIGITS = dict(enumerate(STATUSES))
"""The backend answers `EntityStatus` as a name or as its enum digit ("0", "1", "2"); the SDK maps both."""
SUBMIT_PATHS = {
    PUBLISHED_PIPELINE.name: re.compile(r"^(?P<workspace>.*/workspaces/[^/]+)/PipelineRuns/PipelineSubmit/"
                                        r"(?P<id>[^/]+)/?$", re.IGNORECASE),
    PIPELINE_ENDPOINT: re.compile(r"^(?P<workspace>.*/workspaces/[^/]+)/PipelineRuns/PipelineEndpointSubmit/Id/"
                                  r"(?P<id>[^/]+)(?:/[^/]+)?/?$", re.IGNORECASE),
}


class StatusUnsupportedError(ValueError):
    """The trigger's target has no status switch the bridge can read or set."""


class StatusRequestError(RuntimeError):
    """The service refused or could not be reached; the message is safe to print (no token)."""


def entity_status(entity: dict[str, Any]) -> str | None:
    """`EntityStatus` as a name, whichever spelling the service used; None when absent."""
    value = entity.get("EntityStatus")
    if value is None:
        return None
    text = str(value)
    return ENUM_DIGITS[int(text)] if text.isdigit() and int(text) in ENUM_DIGITS else text


class PipelineStatus:
    """Reads and sets the status of the published pipeline or pipeline endpoint one trigger submits to."""

    def __init__(self, target: PipelineTarget, submitter: Submitter) -> None:
        pattern = SUBMIT_PATHS.get(target.kind)
        if pattern is None:
            raise StatusUnsupportedError(
                f"pipeline kind {target.kind} has no Active/Disabled switch the bridge can use (only "
                f"{' and '.join(SUBMIT_PATHS)} targets do); pause the trigger itself with \"status\": \"Disabled\"")
        parts = urlsplit(target.endpoint)
        match = pattern.match(parts.path)
        if match is None:  # configuration validation makes this unreachable for a loaded trigger
            raise StatusUnsupportedError(f"endpoint {target.endpoint} is not a submit URL of kind {target.kind}")
        self.target = target
        self.submitter = submitter
        self.entity_id = match["id"]
        self.label = "published pipeline" if target.kind == PUBLISHED_PIPELINE.name else "pipeline endpoint"
        workspace = urlunsplit((parts.scheme, parts.netloc, match["workspace"], "", ""))
        quoted = quote(self.entity_id, safe="")
        if target.kind == PUBLISHED_PIPELINE.name:
            self.url = f"{workspace}/Pipelines/{quoted}"
            self.write_url = f"{self.url}/status"
        else:
            self.url = f"{workspace}/PipelineEndpoints/Id/{quoted}"
            self.write_url = f"{workspace}/PipelineEndpoints/{quoted}"

    def get(self) -> dict[str, Any]:
        """The entity as the service answers it (`EntityStatus`, `Name`, `Url`, ...)."""
        payload = self._call("GET", self.url, None)
        if not isinstance(payload, dict):
            raise StatusRequestError(f"GET {self.url} did not return a JSON object")
        return payload

    def set(self, status: str) -> None:
        """A published pipeline takes the status alone; an endpoint takes back the whole entity it gave."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)} (got {status!r})")
        if self.target.kind == PUBLISHED_PIPELINE.name:
            self._call("PUT", self.write_url, status)
        else:
            self._call("PUT", self.write_url, {**self.get(), "EntityStatus": status})

    def _call(self, method: str, url: str, body: Any) -> Any:
        request = PipelineRequest(kind=self.target.kind, url=url, body=body, scope=self.target.scope,
                                  client_id=self.target.client_id, method=method, headers=dict(JSON_HEADERS))
        try:
            return self.submitter.call(request)
        except SubmitError as error:
            if error.ambiguous:  # the submitter's wording is about runs; a status request starts none
                raise StatusRequestError(f"{method} {url}: no complete answer ({error.code}); the status may or "
                                         "may not have changed: run pipeline-status again to see") from None
            raise StatusRequestError(f"{method} {url}: {error}") from None
