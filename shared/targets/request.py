"""The request a target kind builds: everything needed to submit it, except the token.

It is stored in the ledger with each claim so a failed submission can be replayed exactly; for that
reason it never holds the Authorization header, nor any other token: `token_headers` names the header
and the scope, and the submitter fetches the token when it sends.
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
    token_headers: dict[str, str] = field(default_factory=dict)  # header -> scope of a second token it carries
    # Re-sending it cannot start a second run (the service dedupes by the run key, or it is a read), so the
    # submitter re-sends it after an uncertain outcome instead of stopping.
    idempotent: bool = False

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
            "token_headers": dict(self.token_headers),
            "idempotent": self.idempotent,
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
            token_headers={str(k): str(v) for k, v in dict(data.get("token_headers") or {}).items()},
            idempotent=bool(data.get("idempotent", False)),
        )


@dataclass(frozen=True)
class ServiceAnswer:
    """A service's answer as the kind reads it: the run id of a 2xx (some services put it in a header,
    `Location`), or whether a refusal says the run already exists."""

    status: int
    headers: Mapping[str, str]
    body: Any
