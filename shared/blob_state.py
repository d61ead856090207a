"""What the blob is now, compared with what its event said.

Event Grid delivers late and out of order, and a run reads the blob by name: an event whose ETag is no
longer the blob's would run the newer content a second time (its own event runs it too). One properties
read answers that, and gives what a rename's event lacks (ETag, size) and a copy's state (see
docs/services.md, "Azure Storage events (Event Grid)").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from .events import UNKNOWN_ETAG
from .firing import BlobVersion, md5_text, normalise_etag
from .storage import blob_service

COPY_BLOB = "CopyBlob"


@dataclass(frozen=True)
class Gone:
    """The event's version is not the blob's any more: `superseded` (new content since) or `deleted`; or it
    never was one: `unreadable_name` (storage refuses to address the name, e.g. `..`, a URL's dot segment)."""

    reason: str
    fields: dict[str, object]


def current_version(blob: BlobVersion, connection: str) -> BlobVersion | Gone:
    """The blob's current version as read through `connection`, or why the event's version is gone.

    A copy's ETag is the one it had when the copy started; on accounts with a hierarchical namespace the
    event comes at that moment, so a `CopyBlob` event whose copy has since succeeded fires the blob as it is
    now (the copy's properties stay on the blob until another write replaces them).

    A new ETag of the same size may be no new content at all: Set Blob Metadata / Properties / Tags give a new
    ETag and raise no event, so skipping would lose the run when events are all there is. The blob as it is
    now fires then; if it was new content after all, its own event finds it submitted (one key).
    """
    client = blob_service(connection).get_blob_client(blob.container, blob.name)
    try:
        properties = client.get_blob_properties()
    except ResourceNotFoundError:
        return Gone("deleted", {})
    except HttpResponseError as error:
        if error.status_code != 400:  # anything else may pass: raise, and Event Grid delivers the event again
            raise
        return Gone("unreadable_name", {"status": 400, "code": error.error_code})
    etag = normalise_etag(str(properties.etag))
    copy_status = properties.copy.status if properties.copy else None
    copy_completed = blob.api == COPY_BLOB and copy_status == "success"
    if blob.etag not in (UNKNOWN_ETAG, etag) and not copy_completed and properties.size != blob.size:
        return Gone("superseded", {"current_etag": etag, "current_size": properties.size})
    return dataclasses.replace(blob, etag=etag, size=properties.size, url=blob.url or client.url,
                               last_modified=properties.last_modified, copy_status=copy_status,
                               content_md5=md5_text(properties.content_settings.content_md5))
