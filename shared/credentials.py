"""Access tokens for the pipeline services, from azure-identity.

One credential per identity for the life of the process, so its token cache is reused across
invocations. Where the platform provides a managed identity (`IDENTITY_ENDPOINT`, as in Azure Functions),
`ManagedIdentityCredential` is used directly (system-assigned, or the user-assigned one named by
`client_id`/`AZURE_CLIENT_ID`): `DefaultAzureCredential` would fall back to other credentials (a developer's
CLI login) when the identity endpoint fails. Elsewhere, `DefaultAzureCredential` (e.g. `az login` locally).
"""

from __future__ import annotations

import threading

from azure.core.credentials import AccessToken, TokenCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from .settings import get_setting


class TokenProvider:
    def __init__(self) -> None:
        self._credentials: dict[str | None, TokenCredential] = {}
        self._lock = threading.Lock()

    def _credential(self, client_id: str | None) -> TokenCredential:
        with self._lock:
            credential = self._credentials.get(client_id)
            if credential is None:
                credential = self._credentials[client_id] = identity_credential(client_id)
            return credential

    def token(self, scope: str, client_id: str | None) -> AccessToken:
        return self._credential(client_id).get_token(scope)

    def forget(self, client_id: str | None) -> None:
        """Drop the cached credential (and its token cache), so the next token is fetched fresh after a 401."""
        with self._lock:
            self._credentials.pop(client_id, None)


def identity_credential(client_id: str | None) -> TokenCredential:
    if get_setting("IDENTITY_ENDPOINT") or get_setting("MSI_ENDPOINT"):
        return ManagedIdentityCredential(client_id=client_id)
    return DefaultAzureCredential(managed_identity_client_id=client_id, exclude_interactive_browser_credential=True)
