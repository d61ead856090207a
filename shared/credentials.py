"""Access tokens for the pipeline services, from azure-identity.

One credential per identity for the life of the process, so its token cache is reused across
invocations. `DefaultAzureCredential` picks the managed identity in Azure (system-assigned, or the
user-assigned one named by `client_id`/`AZURE_CLIENT_ID`) and the developer's Azure CLI login locally.
"""

from __future__ import annotations

import threading

from azure.core.credentials import AccessToken, TokenCredential
from azure.identity import DefaultAzureCredential


class TokenProvider:
    def __init__(self) -> None:
        self._credentials: dict[str | None, TokenCredential] = {}
        self._lock = threading.Lock()

    def _credential(self, client_id: str | None) -> TokenCredential:
        with self._lock:
            credential = self._credentials.get(client_id)
            if credential is None:
                credential = DefaultAzureCredential(
                    managed_identity_client_id=client_id,
                    exclude_interactive_browser_credential=True,
                )
                self._credentials[client_id] = credential
            return credential

    def token(self, scope: str, client_id: str | None) -> AccessToken:
        return self._credential(client_id).get_token(scope)

    def forget(self, client_id: str | None) -> None:
        """Drop the cached credential (and its token cache), so the next token is fetched fresh after a 401."""
        with self._lock:
            self._credentials.pop(client_id, None)
