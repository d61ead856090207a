"""Small JSON state documents beside the ledger: schedule positions and sweep watermarks.

Writes are conditional on the document's ETag, so two hosts (or a restart racing a slow tick) cannot
silently overwrite each other's progress; the loser simply re-reads next tick.
"""

from __future__ import annotations

import json
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

STATE_PREFIX = "state/"


def schedule_state(trigger: str) -> str:
    """The name of a schedule's state document: its anchor, the last slot fired and the pending ones."""
    return f"schedule/{trigger}"


def sweep_state(trigger: str) -> str:
    """The name of a watch trigger's sweep document: its watermark and checkpoint."""
    return f"sweep/{trigger}"


class StateStore:
    def __init__(self, container: ContainerClient) -> None:
        self.container = container

    def _blob(self, name: str):
        return self.container.get_blob_client(f"{STATE_PREFIX}{name}.json")

    def read(self, name: str) -> tuple[dict[str, Any], str | None]:
        """The document and its ETag, or ({}, None) when there is none yet."""
        try:
            download = self._blob(name).download_blob()
        except ResourceNotFoundError:
            return {}, None
        return json.loads(download.readall()), str(download.properties.etag)

    def write(self, name: str, document: dict[str, Any], etag: str | None) -> str | None:
        """Create (etag None) or replace the version read; the new version's ETag (the next write is conditional
        on it), or None when someone else wrote first."""
        data = json.dumps(document, sort_keys=True).encode("utf-8")
        try:
            if etag is None:
                written = self._blob(name).upload_blob(data, overwrite=False)
            else:
                written = self._blob(name).upload_blob(data, overwrite=True, etag=etag,
                                                       match_condition=MatchConditions.IfNotModified)
        except (ResourceExistsError, ResourceModifiedError):
            return None
        return str(written["etag"])
