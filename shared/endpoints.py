"""Which endpoint URLs the bridge may send tokens to.

A bearer token sent over plain http can be read on the wire, so only https is accepted; loopback hosts
are the one exception, for the local stand-in endpoints used in development and tests.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})
# Characters on which URL parsers disagree: urllib3 (what requests sends with) ends the host at a
# backslash, while urlsplit reads `http://evil.example\@127.0.0.1/` as host 127.0.0.1; urlsplit also
# silently drops tabs and newlines. Refusing them keeps the host we check the host we send to.
_AMBIGUOUS_CHARACTERS = re.compile(r"[\\\x00-\x1f\x7f]")


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
    if _AMBIGUOUS_CHARACTERS.search(url):
        return f"must not contain backslashes or control characters (got {url!r})"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
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
