"""A local managed-identity endpoint speaking the App Service protocol (`IDENTITY_ENDPOINT` +
`IDENTITY_HEADER`, api-version 2019-08-01), so the real azure-identity fetches real-looking tokens.

Every token it issues is remembered with its resource and client id, so the pipeline stand-in can
check that a request carries a token for the right scope.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass

from .http_server import Hold, LoopbackServer, Reply, Request


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    client_id: str | None


class IdentityEndpoint:
    """Errors are answered in App Service's format (`statusCode`, `message`), which azure-identity reads."""

    def __init__(self, lifetime_seconds: int = 3600) -> None:
        self.secret_header = uuid.uuid4().hex
        self.lifetime = lifetime_seconds
        self.issued: dict[str, IssuedToken] = {}
        self.requests: list[dict[str, str | None]] = []
        self.failures_to_inject: list[int] = []
        self.holds: list[Hold] = []
        self.revoked: set[str] = set()
        self._lock = threading.Lock()
        self.server = LoopbackServer()
        self.server.route("GET", r"/msi/token", self._token)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/msi/token"

    def environment(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.url, "IDENTITY_HEADER": self.secret_header}

    def start(self) -> IdentityEndpoint:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self.failures_to_inject.extend([status] * times)

    def hold_next(self, hold: Hold) -> None:
        """The next token request waits until the test releases `hold`, then is answered."""
        with self._lock:
            self.holds.append(hold)

    def revoke_all(self) -> None:
        """Tokens issued so far stop being accepted (the stand-in then answers 401)."""
        with self._lock:
            self.revoked.update(self.issued)

    def token_info(self, token: str) -> IssuedToken | None:
        with self._lock:
            return None if token in self.revoked else self.issued.get(token)

    def _jwt(self, resource: str, client_id: str | None) -> str:
        """JWT-shaped (unsigned): Azurite's OAuth mode reads `aud`, `iss`, `nbf`, `exp` from it."""
        now = int(time.time())
        claims = {"aud": resource, "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/",
                  "iat": now, "nbf": now - 60, "exp": now + self.lifetime, "appid": client_id or "system",
                  "oid": "11111111-1111-1111-1111-111111111111", "jti": uuid.uuid4().hex}

        def part(value: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{uuid.uuid4().hex}"

    def _token(self, request: Request) -> Reply:
        resource = (request.query.get("resource") or [""])[0]
        client_id = (request.query.get("client_id") or [None])[0]
        with self._lock:
            self.requests.append({"resource": resource, "client_id": client_id})
            if self.failures_to_inject:
                status = self.failures_to_inject.pop(0)
                return Reply(status, {"statusCode": status, "message": "injected identity failure"})
            hold = self.holds.pop(0) if self.holds else None
        if hold is not None:
            hold.reached.set()
            hold.release.wait(60)
        if request.headers.get("x-identity-header") != self.secret_header:
            return Reply(401, {"statusCode": 401, "message": "X-IDENTITY-HEADER is wrong"})
        if (request.query.get("api-version") or [""])[0] != "2019-08-01":
            return Reply(400, {"statusCode": 400, "message": "unsupported api-version"})
        token = self._jwt(resource, client_id)
        with self._lock:
            self.issued[token] = IssuedToken(resource=resource, client_id=client_id)
        return Reply(200, {
            "access_token": token,
            "expires_on": str(int(time.time()) + self.lifetime),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id or "00000000-0000-0000-0000-000000000000",
        })
