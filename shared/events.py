"""Reading storage events (Event Grid schema) into what they say about a blob (see docs/services.md,
"Azure Storage events (Event Grid)").

- `Microsoft.Storage.BlobCreated`: a blob version, with its ETag and size as the event saw them.
- `Microsoft.Storage.BlobRenamed` (hierarchical namespace, `RenameFile`): the destination, which the event
  names on the `dfs` host and without ETag or size: the event path reads those from the blob itself.
- `Microsoft.Storage.DirectoryRenamed` (`RenameDirectory`): one event for a directory, none for its files.

Event Grid retries for 24 hours whatever a function does not acknowledge, so anything that cannot
be used is returned as a reason to log, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .accounts import account_from_topic, split_account_url
from .firing import BlobVersion, normalise_etag
from .validation import json_type

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
BLOB_RENAMED = "Microsoft.Storage.BlobRenamed"
DIRECTORY_RENAMED = "Microsoft.Storage.DirectoryRenamed"
RENAME_FILE = "RenameFile"
RENAME_DIRECTORY = "RenameDirectory"
SUBJECT_PREFIX = "/blobServices/default/containers/"
# `data.api` values whose event means the content is complete (for a directory rename: the files it moved),
# and those whose content comes with a later event (`FlushWithClose`, `SftpCommit`), which never fire (the
# reason each logs).
FIRING_APIS = ("PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose", "SftpCommit", RENAME_FILE, RENAME_DIRECTORY)
NEVER_FIRING_APIS = {"CreateFile": "adls_create_file", "SftpCreate": "sftp_create"}
UNKNOWN_ETAG = ""  # a rename names no ETag; the event path reads the destination's before anything fires


@dataclass(frozen=True)
class Unusable:
    """Why an event was acknowledged without action."""

    reason: str
    detail: str


@dataclass(frozen=True)
class DirectoryRename:
    """A directory moved to `directory` (its full path in `container`); the event names none of its files."""

    account: str
    container: str
    directory: str
    source: str | None


@dataclass(frozen=True)
class _Location:
    account: str
    container: str
    name: str


def _split_subject(subject: object) -> tuple[str, str] | None:
    if not isinstance(subject, str) or not subject.startswith(SUBJECT_PREFIX):
        return None
    container, separator, name = subject[len(SUBJECT_PREFIX):].partition("/blobs/")
    if not separator or not container or not name or "/" in container:
        return None
    return container, name


def _split_url(url: str) -> _Location | None:
    """Account, container and decoded blob name from a blob (or dfs) URL."""
    split = split_account_url(url)
    if split is None:
        return None
    account, segments = split
    if len(segments) < 2 or not segments[0] or not "/".join(segments[1:]):
        return None
    return _Location(account, unquote(segments[0]), unquote("/".join(segments[1:])))


def _locate(topic: object, subject: object, data: Any, url_field: str) -> _Location | Unusable:
    """Where the event happened: the subject's container and name, checked against the URL in `data`, and the
    account from `topic` (authoritative) or the URL; percent-encoded subjects are decoded using the URL."""
    location = _split_subject(subject)
    if location is None:
        return Unusable("malformed", f"subject {subject!r} is not /blobServices/default/containers/<c>/blobs/<name>")
    if not isinstance(data, dict):
        return Unusable("malformed", f"data must be a JSON object (got {json_type(data)})")
    container, name = location
    url = data.get(url_field)
    from_url = _split_url(url) if isinstance(url, str) else None
    if url is not None and (from_url is None or from_url.container != container):
        return Unusable("malformed", f"data.{url_field} {url!r} does not name container {container!r} of the subject")
    if from_url is not None and from_url.name != name and unquote(name) == from_url.name:
        name = from_url.name  # this subject arrived percent-encoded; the URL says what the name is
    account = account_from_topic(topic)
    if account and from_url and from_url.account != account:
        return Unusable("malformed", f"topic names storage account {account!r} but data.{url_field} names "
                                     f"{from_url.account!r}")
    account = account or (from_url.account if from_url else None)
    if not account:
        return Unusable("malformed", f"the event names no storage account: neither its topic {topic!r} nor "
                                     f"data.{url_field} does")
    return _Location(account, container, name)


def read_event(event_type: str, subject: object, data: Any, topic: object = None
               ) -> BlobVersion | DirectoryRename | Unusable:
    if event_type == BLOB_CREATED:
        return _blob_created(topic, subject, data)
    if event_type == BLOB_RENAMED:
        return _blob_renamed(topic, subject, data)
    if event_type == DIRECTORY_RENAMED:
        return _directory_renamed(topic, subject, data)
    return Unusable("other_event_type", f"event type {event_type!r} is not handled (it never means new content)")


def _blob_created(topic: object, subject: object, data: Any) -> BlobVersion | Unusable:
    location = _locate(topic, subject, data, "url")
    if isinstance(location, Unusable):
        return location
    etag = data.get("eTag")
    if not isinstance(etag, str) or not normalise_etag(etag):
        return Unusable("malformed", "data.eTag is missing or not a string")
    size = data.get("contentLength")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        return Unusable("malformed", f"data.contentLength must be a non-negative integer (got {size!r})")
    api, url = data.get("api"), data.get("url")
    return BlobVersion(container=location.container, name=location.name, etag=normalise_etag(etag), size=size,
                       url=url if isinstance(url, str) else None, api=api if isinstance(api, str) else None,
                       account=location.account)


def _renamed(topic: object, subject: object, data: Any) -> tuple[_Location, str | None] | Unusable:
    """The destination (required: `data.destinationUrl`) and the source's path, for the log."""
    if isinstance(data, dict) and not isinstance(data.get("destinationUrl"), str):
        return Unusable("malformed", "data.destinationUrl is missing or not a string")
    location = _locate(topic, subject, data, "destinationUrl")
    if isinstance(location, Unusable):
        return location
    source = data.get("sourceUrl")
    from_source = _split_url(source) if isinstance(source, str) else None
    return location, f"{from_source.container}/{from_source.name}" if from_source else None


def _blob_renamed(topic: object, subject: object, data: Any) -> BlobVersion | Unusable:
    renamed = _renamed(topic, subject, data)
    if isinstance(renamed, Unusable):
        return renamed
    location, _ = renamed
    # No eTag, size or blob URL in this event (the URLs are on the dfs host): the event path reads them.
    return BlobVersion(container=location.container, name=location.name, etag=UNKNOWN_ETAG, api=RENAME_FILE,
                       account=location.account)


def _directory_renamed(topic: object, subject: object, data: Any) -> DirectoryRename | Unusable:
    renamed = _renamed(topic, subject, data)
    if isinstance(renamed, Unusable):
        return renamed
    location, source = renamed
    return DirectoryRename(location.account, location.container, location.name.strip("/"), source)
