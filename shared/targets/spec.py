"""What every target kind shares: the validated pipeline section and the kind's interface.

Each kind is one small module that supplies a `TargetKind`; the submitter, retries, ledger and logging
never look at the kind, so adding one is an addition, not a change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
class TargetKind:
    """One kind of pipeline service.

    `check` reads the kind's own fields (named in `option_fields`) and returns them as `options`;
    `build` is pure: (target, firing, run key) -> request; `run_id` finds the run id in a 2xx answer.
    `idempotent`: the service itself deduplicates a re-sent request by its run key (the same key never
    starts a second run), so re-sending after an uncertain outcome is safe.
    `existing_run`: for a refusal that says the run already exists (an AML v2 job name taken by an
    earlier attempt of the same firing), the request that reads that run; the submitter sends it and
    treats its 2xx answer as the submission's. None (the default, or for other refusals): an error.
    """

    name: str
    default_scope: str
    option_fields: frozenset[str]
    check: Callable[[FieldReader, bool], dict[str, Any]]
    build: Callable[[PipelineTarget, Firing, str], PipelineRequest]
    run_id: Callable[[ServiceAnswer], str | None]
    idempotent: bool = False
    existing_run: Callable[[PipelineRequest, ServiceAnswer], PipelineRequest | None] | None = None


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
