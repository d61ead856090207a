"""The request a target kind builds: everything needed to submit it, except the token.

It is stored in the ledger with each claim so a failed submission can be replayed exactly; for that
reason it never holds the Authorization header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PipelineRequest:
    kind: str
    url: str
    body: Any
    scope: str
    client_id: str | None = None
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    run_key: str | None = None  # the firing's key (`shared.run_keys`), carried in the body as the kind says

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "body": self.body,
            "scope": self.scope,
            "client_id": self.client_id,
            "run_key": self.run_key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PipelineRequest:
        return cls(
            kind=str(data["kind"]),
            method=str(data.get("method", "POST")),
            url=str(data["url"]),
            headers={str(k): str(v) for k, v in dict(data.get("headers") or {}).items()},
            body=data.get("body"),
            scope=str(data["scope"]),
            client_id=data.get("client_id"),
            run_key=data.get("run_key"),
        )


@dataclass(frozen=True)
class ServiceAnswer:
    """A 2xx answer as the kind needs it to find the run id: some services put it in a header (`Location`)."""

    status: int
    headers: Mapping[str, str]
    body: Any
