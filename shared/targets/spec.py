"""What every target kind shares: the validated pipeline section and the kind's interface.

Each kind is one small module that supplies a `TargetKind`; the submitter, retries, ledger and logging
never look at the kind, so adding one is an addition, not a change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..firing import Firing
from ..validation import FieldReader
from .request import PipelineRequest, ServiceAnswer

SCOPE_MANAGEMENT = "https://management.azure.com/.default"
SCOPE_MACHINE_LEARNING = "https://ml.azure.com/.default"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class DataPath:
    datastore_name: str
    relative_path: str


@dataclass(frozen=True)
class PipelineTarget:
    """The `pipeline` section of a trigger, validated; `options` holds the kind's own fields."""

    kind: str
    endpoint: str
    scope: str
    experiment_name: str | None = None
    parameter_assignments: dict[str, str] = field(default_factory=dict)
    datastore_name: str | None = None
    data_path_parameter_name: str | None = None
    data_path_assignments: dict[str, DataPath] = field(default_factory=dict)
    continue_on_step_failure: bool | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    client_id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LookupWindow:
    """The runs a lookup considers: created (or, for Data Factory, last updated) between `start` and `end`."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class LookupPage:
    """What one page of a lookup says: the runs on it that carry the run key, and the next page's request."""

    run_ids: list[str] = field(default_factory=list)
    next: PipelineRequest | None = None


@dataclass(frozen=True)
class RunLookup:
    """How a kind finds a run again by its run key, after an uncertain outcome (docs/services.md).

    `supports`: the submitted request carries its key where this lookup can see it. `first` builds the
    first page's request; `read` reads a page's answer (submitted request, page request, answer, window).
    A page that cannot be read raises `ValueError`.
    """

    supports: Callable[[PipelineRequest], bool]
    first: Callable[[PipelineRequest, LookupWindow], PipelineRequest]
    read: Callable[[PipelineRequest, PipelineRequest, ServiceAnswer, LookupWindow], LookupPage]


def inside_window(moment: Any, window: LookupWindow) -> bool:
    """A run's ISO time as a service lists it, inside the window; a run without one is judged by its key alone."""
    if not isinstance(moment, str):
        return True
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return True
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return window.start <= parsed <= window.end


@dataclass(frozen=True)
class RunKeyPlan:
    """For `list` and `dry-run`: where a trigger's run key goes, and how (or whether) its run is found again."""

    attached: str
    lookup: str | None  # None: no lookup; `why_not` says why
    why_not: str | None = None


@dataclass(frozen=True)
class TargetKind:
    """One kind of pipeline service.

    `check` reads the kind's own fields (named in `option_fields`) and returns them as `options`;
    `build` is pure: (target, firing, run key) -> request; `run_id` finds the run id in a 2xx answer.
    `idempotent`: the service itself deduplicates a re-sent request by its run key (the same key never
    starts a second run), so re-sending after an uncertain outcome is safe and is the resolution.
    `existing_run`: for a refusal that says the run already exists (an AML v2 job name taken by an
    earlier attempt of the same firing), the request that reads that run; it is sent and its 2xx answer
    treated as the submission's. None (the default, or for other refusals): an error.
    `lookup`: how a run is found by its run key (None: no lookup; an uncertain outcome is then left
    for an operator). `run_key_plan` describes both for a trigger.
    """

    name: str
    default_scope: str
    option_fields: frozenset[str]
    check: Callable[[FieldReader, bool], dict[str, Any]]
    build: Callable[[PipelineTarget, Firing, str], PipelineRequest]
    run_id: Callable[[ServiceAnswer], str | None]
    idempotent: bool = False
    existing_run: Callable[[PipelineRequest, ServiceAnswer], PipelineRequest | None] | None = None
    lookup: RunLookup | None = None
    run_key_plan: Callable[[PipelineTarget], RunKeyPlan] | None = None

    def can_look_up(self, request: PipelineRequest) -> bool:
        return self.lookup is not None and self.lookup.supports(request)

    def describe_run_key(self, target: PipelineTarget) -> RunKeyPlan:
        """The kind's own description, else what `idempotent` and `lookup` imply."""
        if self.run_key_plan is not None:
            return self.run_key_plan(target)
        if self.idempotent:
            return RunKeyPlan("as the service's own idempotency key", "not needed: re-sending returns the same run")
        return RunKeyPlan("not attached", None, "this kind has no place for a client key")


def json_request(
    target: PipelineTarget, url: str, body: Any, run_key: str, headers: Mapping[str, str] | None = None,
    method: str = "POST",
) -> PipelineRequest:
    """Every kind sends JSON with the trigger's scope and identity; only URL, body and extra headers differ."""
    return PipelineRequest(
        kind=target.kind,
        url=url,
        headers={**JSON_HEADERS, **(headers or {})},
        body=body,
        scope=target.scope,
        client_id=target.client_id,
        method=method,
        run_key=run_key,
    )


def string_field(response: Any, *keys: str) -> str | None:
    """The first non-empty string among `keys` of a JSON object response (services name the run id differently)."""
    if isinstance(response, dict):
        for key in keys:
            value = response.get(key)
            if isinstance(value, str) and value:
                return value
    return None
