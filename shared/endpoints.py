"""Which endpoint URLs the bridge may send tokens to.

A bearer token sent over plain http can be read on the wire, so only https is accepted; loopback hosts
are the one exception, for the local stand-in endpoints used in development and tests.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_problem(url: object) -> str | None:
    """Why `url` may not be used as a pipeline endpoint, or None when it may."""
    if not isinstance(url, str) or not url.strip():
        return "must be a non-empty URL"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if not host:
        return f"is not an absolute URL with a host (got {url!r})"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback_host(host):
        return None
    if parts.scheme == "http":
        return f"must use https (http is only allowed for loopback hosts in local development; got host {host!r})"
    return f"must be an https URL (got scheme {parts.scheme!r})"
