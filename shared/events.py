"""Reading `Microsoft.Storage.BlobCreated` events into a `BlobVersion` (see reference/blob-events.md).

Event Grid retries for 24 hours whatever a function does not acknowledge, so anything that cannot
be used is returned as a reason to log, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .endpoints import is_loopback_host
from .firing import BlobVersion, normalise_etag
from .validation import json_type

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
SUBJECT_PREFIX = "/blobServices/default/containers/"


@dataclass(frozen=True)
class Unusable:
    """Why an event was acknowledged without action."""

    reason: str
    detail: str


def _split_subject(subject: object) -> tuple[str, str] | None:
    if not isinstance(subject, str) or not subject.startswith(SUBJECT_PREFIX):
        return None
    container, separator, name = subject[len(SUBJECT_PREFIX):].partition("/blobs/")
    if not separator or not container or not name or "/" in container:
        return None
    return container, name


def _split_url(url: str) -> tuple[str, str] | None:
    """(container, decoded blob name) from a blob URL; path-style URLs (Azurite) carry the account first."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    segments = parts.path.lstrip("/").split("/")
    if is_loopback_host(parts.hostname) and len(segments) > 2:
        segments = segments[1:]
    if len(segments) < 2 or not segments[0] or not "/".join(segments[1:]):
        return None
    return unquote(segments[0]), unquote("/".join(segments[1:]))


def blob_from_event(event_type: str, subject: object, data: Any) -> BlobVersion | Unusable:
    if event_type != BLOB_CREATED:
        return Unusable("not_blob_created", f"event type {event_type!r} is not handled")
    location = _split_subject(subject)
    if location is None:
        return Unusable("malformed", f"subject {subject!r} is not /blobServices/default/containers/<c>/blobs/<name>")
    if not isinstance(data, dict):
        return Unusable("malformed", f"data must be a JSON object (got {json_type(data)})")
    container, name = location
    url = data.get("url")
    if url is not None:
        from_url = _split_url(url) if isinstance(url, str) else None
        if from_url is None or from_url[0] != container:
            return Unusable("malformed", f"data.url {url!r} does not name container {container!r} of the subject")
        if from_url[1] != name and unquote(name) == from_url[1]:
            name = from_url[1]  # this subject arrived percent-encoded; the URL says what the name is
    etag = data.get("eTag")
    if not isinstance(etag, str) or not normalise_etag(etag):
        return Unusable("malformed", "data.eTag is missing or not a string")
    size = data.get("contentLength")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        return Unusable("malformed", f"data.contentLength must be a non-negative integer (got {size!r})")
    api = data.get("api")
    return BlobVersion(
        container=container,
        name=name,
        etag=normalise_etag(etag),
        size=size,
        url=url if isinstance(url, str) else None,
        api=api if isinstance(api, str) else None,
    )
