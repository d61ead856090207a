"""Blob service clients for the connections the configuration names, following the Functions convention.

`<NAME>` may hold a connection string (`UseDevelopmentStorage=true` for Azurite), or the app uses
identity-based settings `<NAME>__blobServiceUri` / `<NAME>__serviceUri` / `<NAME>__accountName` with
`<NAME>__credential` and `<NAME>__clientId`, exactly as the Functions host reads them.
"""

from __future__ import annotations

import threading
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.blob import BlobServiceClient, LinearRetry
from urllib3.util.retry import Retry

from .credentials import IDENTITY_SETTINGS, identity_options
from .endpoints import endpoint_problem
from .http_sessions import pooled_session, verify
from .settings import float_setting, get_setting

# What azure-core mounts on a session of its own: urllib3 retries nothing, the storage retry policy does.
TRANSPORT_RETRIES = Retry(total=False, redirect=False, raise_on_status=False)
RETRY_SETTINGS = ("PIPELINE_STORAGE_RETRY_TOTAL", "PIPELINE_STORAGE_RETRY_BACKOFF_SECONDS",
                  "PIPELINE_STORAGE_CONNECT_TIMEOUT_SECONDS", "PIPELINE_STORAGE_READ_TIMEOUT_SECONDS")


class StorageSettingError(LookupError):
    """A connection's settings are missing or unusable; the message names the settings."""


def _identity(connection: str) -> TokenCredential:
    client_id = get_setting(f"{connection}__clientId")
    if (get_setting(f"{connection}__credential") or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=client_id, **identity_options())
    return DefaultAzureCredential(managed_identity_client_id=client_id, exclude_interactive_browser_credential=True,
                                  **identity_options())


def _service_uri(connection: str) -> str | None:
    uri = get_setting(f"{connection}__blobServiceUri") or get_setting(f"{connection}__serviceUri")
    if uri:
        return uri
    account = get_setting(f"{connection}__accountName")
    return f"https://{account}.blob.core.windows.net" if account else None


def _settings_fingerprint(connection: str) -> tuple[str | None, ...]:
    suffixes = ("", "__blobServiceUri", "__serviceUri", "__accountName", "__credential", "__clientId")
    tuning = (*RETRY_SETTINGS, *IDENTITY_SETTINGS)
    return (*(get_setting(connection + suffix) for suffix in suffixes), *(get_setting(name) for name in tuning))


def _client_options() -> dict[str, Any]:
    """Storage retries and timeouts bounded to seconds, not minutes, over a pooled session
    (`http_sessions`: one connection per sweep thread, no environment scan per request).

    The SDK's default (exponential backoff from 15 s, 60 s to wait for each answer) spent 84 s on an
    unreachable account before raising, well past the 30 s Event Grid waits for an answer; `retry_total`
    retries `backoff` seconds apart, each waiting at most `read_timeout`, bound that.
    """
    backoff = float_setting("PIPELINE_STORAGE_RETRY_BACKOFF_SECONDS", 2.0)
    total = int(float_setting("PIPELINE_STORAGE_RETRY_TOTAL", 3))
    return {
        "retry_policy": LinearRetry(backoff=backoff, retry_total=total, random_jitter_range=backoff / 2),
        "connection_timeout": float_setting("PIPELINE_STORAGE_CONNECT_TIMEOUT_SECONDS", 10.0),
        "read_timeout": float_setting("PIPELINE_STORAGE_READ_TIMEOUT_SECONDS", 20.0),
        "session": pooled_session(TRANSPORT_RETRIES),
        "connection_verify": verify(),  # azure-core sends its own on every request, overriding the session's
    }


def _build_client(connection: str) -> BlobServiceClient:
    connection_string = get_setting(connection)
    if connection_string:
        try:
            return BlobServiceClient.from_connection_string(connection_string, **_client_options())
        except ValueError as error:
            raise StorageSettingError(
                f"app setting {connection} is not a usable storage connection string ({error})"
            ) from None
    uri = _service_uri(connection)
    if uri is None:
        raise StorageSettingError(
            f"storage connection {connection!r} is not configured: set the app setting {connection} (a "
            f"connection string) or {connection}__blobServiceUri / {connection}__serviceUri / "
            f"{connection}__accountName (identity-based)"
        )
    if problem := endpoint_problem(uri):
        raise StorageSettingError(f"{connection}__blobServiceUri {problem}")
    return BlobServiceClient(account_url=uri, credential=_identity(connection), **_client_options())


_clients: dict[tuple[str, tuple[str | None, ...]], BlobServiceClient] = {}
_lock = threading.Lock()


def blob_service(connection: str) -> BlobServiceClient:
    """A client per connection, reused across invocations (connections and tokens are cached in it)."""
    key = (connection, _settings_fingerprint(connection))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _build_client(connection)
        return client
