"""Which storage account an event, a URL or a connection names.

Two accounts may both have a container `uploads`, so an event fires only the triggers whose connection is
the event's account, and the ledger key includes the account. The event and the sweep must derive the same
name for the same account, so both go through these functions (see docs/services.md, "Azure Storage events").
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .settings import get_setting

_TOPIC = re.compile(r"/providers/Microsoft\.Storage/storageAccounts/([^/]+)/?$", re.IGNORECASE)


def account_from_topic(topic: object) -> str | None:
    """`/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<name>`."""
    match = _TOPIC.search(topic) if isinstance(topic, str) else None
    return match.group(1).lower() if match else None


def is_path_style(host: str) -> bool:
    """Azurite and other emulators serve `http://<host>:<port>/<account>/...`: an IP address or a bare name
    (`localhost`, a compose service `azurite`); real endpoints are `<account>.blob.core.windows.net`."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return "." not in host


def split_account_url(url: str) -> tuple[str, list[str]] | None:
    """(account, the path's segments after it, still percent-encoded), or None when `url` names no account."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    segments = parts.path.lstrip("/").split("/")
    if is_path_style(host):
        account, segments = segments[0], segments[1:]
    else:
        account = host.split(".", 1)[0]
    return (account.lower(), segments) if account else None


def account_from_url(url: str) -> str | None:
    split = split_account_url(url)
    return split[0] if split else None


def connection_account(connection: str) -> str | None:
    """The account a trigger's `connection` reaches: `<NAME>__accountName` when set (the only way to name it
    behind a custom domain), else the first label of the blob endpoint's host (or Azurite's first path segment)."""
    from .storage import blob_service

    url = blob_service(connection).url
    named = None if get_setting(connection) else get_setting(f"{connection}__accountName")
    return named.lower() if named else account_from_url(url)
