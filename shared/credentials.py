"""Access tokens for the pipeline services, from azure-identity.

One credential per identity for the life of the process, so its token cache is reused across
invocations. Where the platform provides a managed identity (`IDENTITY_ENDPOINT`, as in Azure Functions),
`ManagedIdentityCredential` is used directly (system-assigned, or the user-assigned one named by
`client_id`/`AZURE_CLIENT_ID`): `DefaultAzureCredential` would fall back to other credentials (a developer's
CLI login) when the identity endpoint fails. Elsewhere, `DefaultAzureCredential` (e.g. `az login` locally).

Every identity call is bounded: each HTTP request to the identity endpoint by
`PIPELINE_IDENTITY_CONNECT_TIMEOUT_SECONDS` / `PIPELINE_IDENTITY_READ_TIMEOUT_SECONDS` (azure-identity's own
default is 300 s each, on every one of its retries), and a submission's token fetch by what is left of its
retry budget, so a token never holds a claim past the lease check (`runtime.check_lease`). See
docs/services.md, "Managed identity endpoint".

A token is handed out again while it has more than `REFRESH_MARGIN_SECONDS` to live (what azure-core's own
bearer-token policy does): asking the credential each time cost every submission a hop to a `token` thread and
a search of MSAL's cache, 2-4% of the sweep's CPU in the burst profile.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from .invocation import bound_to_invocation
from .settings import float_setting, get_setting

# A fetch that outlives its caller's wait finishes here, bounded by the identity timeouts above. The threads
# serve every invocation of the process, so each fetch carries its caller's invocation (what azure-identity
# logs there stays correlated).
_fetches = ThreadPoolExecutor(max_workers=8, thread_name_prefix="token")


class TokenTimeoutError(AzureError):
    """No token within the time the caller could wait (the identity endpoint is slow or silent)."""


REFRESH_MARGIN_SECONDS = 300
IDENTITY_SETTINGS = ("PIPELINE_IDENTITY_CONNECT_TIMEOUT_SECONDS", "PIPELINE_IDENTITY_READ_TIMEOUT_SECONDS")


def identity_options() -> dict[str, Any]:
    """Transport timeouts for azure-identity's requests, which default to 300 s (connect and read)."""
    return {
        "connection_timeout": float_setting(IDENTITY_SETTINGS[0], 5.0),
        "read_timeout": float_setting(IDENTITY_SETTINGS[1], 10.0),
    }


class TokenProvider:
    def __init__(self) -> None:
        self._credentials: dict[str | None, TokenCredential] = {}
        self._tokens: dict[tuple[str, str | None], AccessToken] = {}
        self._lock = threading.Lock()

    def _credential(self, client_id: str | None) -> TokenCredential:
        with self._lock:
            credential = self._credentials.get(client_id)
            if credential is None:
                credential = self._credentials[client_id] = identity_credential(client_id)
            return credential

    def token(self, scope: str, client_id: str | None, timeout: float | None = None) -> AccessToken:
        """The token, or `TokenTimeoutError` after `timeout` seconds (the fetch itself then ends on its own,
        within the identity timeouts); without `timeout`, only those bound the call."""
        with self._lock:
            held = self._tokens.get((scope, client_id))
        if held is not None and held.expires_on - time.time() > REFRESH_MARGIN_SECONDS:
            return held
        credential = self._credential(client_id)
        token = self._fetch(credential, scope, timeout)
        with self._lock:
            if self._credentials.get(client_id) is credential:  # not forgotten meanwhile (a 401 elsewhere)
                self._tokens[(scope, client_id)] = token
        return token

    @staticmethod
    def _fetch(credential: TokenCredential, scope: str, timeout: float | None) -> AccessToken:
        if timeout is None:
            return credential.get_token(scope)
        future = _fetches.submit(bound_to_invocation(credential.get_token), scope)
        try:
            return future.result(timeout=max(timeout, 0.0))
        except FutureTimeoutError:
            raise TokenTimeoutError(f"no token within {timeout:.3g}s: the identity endpoint did not answer in "
                                    "time") from None

    def forget(self, client_id: str | None) -> None:
        """Drop the cached credential (and its tokens), so the next token is fetched fresh after a 401."""
        with self._lock:
            self._credentials.pop(client_id, None)
            for key in [key for key in self._tokens if key[1] == client_id]:
                del self._tokens[key]


def identity_credential(client_id: str | None) -> TokenCredential:
    if get_setting("IDENTITY_ENDPOINT") or get_setting("MSI_ENDPOINT"):
        return ManagedIdentityCredential(client_id=client_id, **identity_options())
    return DefaultAzureCredential(managed_identity_client_id=client_id, exclude_interactive_browser_credential=True,
                                  **identity_options())
