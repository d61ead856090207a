"""Which content-version histories (`versions/` in the ledger container) may be deleted with the records.

A history maps a blob's later ETags (a metadata or property change) to the content version whose ledger
record stands for those bytes (`shared/content_versions.py`). It is needed while a record of any trigger,
in any state, for one of the versions it lists remains: without it, a metadata-only change of that blob
would count as new content and run once more. So a history goes only when no record left after a prune is
for one of its versions, it was last written before the prune's `--older-than` (a firing writes it just
before its claim), and it is still the version read (a conditional delete: one written meanwhile stays; a
firing that relies on an old history writes it again before its claim, `content_versions.REFRESH_AFTER`).

A record's firing names its blob and content version (`etag`, or `same_content_as` when they differ), and a
history's name is the hash of that blob's ledger subject, so both forms of history are judged alike: the
first form does not name its blob, but the records that need it do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from .content_versions import VERSIONS_PREFIX, history_name, parse
from .firing import BlobVersion, firing_from_record, normalise_etag
from .ledger_listing import missing_container_is_empty


@dataclass(frozen=True)
class StoredHistory:
    """One history as read: its name, its blob's ETag then (the delete is conditional on it), its versions."""

    name: str
    record_etag: str
    versions: frozenset[str]


def old_histories(container: ContainerClient, before: datetime) -> Iterator[StoredHistory]:
    """The histories last written before `before`, read (one download each: only these can go)."""
    with missing_container_is_empty():
        for item in container.list_blobs(name_starts_with=VERSIONS_PREFIX):
            if item.last_modified >= before:
                continue
            try:
                download = container.get_blob_client(item.name).download_blob()
            except ResourceNotFoundError:  # deleted since the listing
                continue
            versions = frozenset(normalise_etag(seen.version) for seen in parse(download.readall()))
            yield StoredHistory(item.name, str(download.properties.etag), versions)


@dataclass
class Needs:
    """Which of the old `histories` (by name) the records that stay still need."""

    histories: dict[str, StoredHistory]
    needed: set[str] = field(default_factory=set)

    def record_stays(self, firing: Mapping[str, Any]) -> None:
        """A record with this firing (`LedgerEntry.firing`) is kept: the history of its version with it."""
        fired = firing_from_record(firing)
        if not isinstance(fired, BlobVersion):
            return
        name = history_name(fired.ledger_subject)
        history = self.histories.get(name)
        if history is not None and normalise_etag(fired.content_version or fired.etag) in history.versions:
            self.needed.add(name)

    def unneeded(self) -> list[StoredHistory]:
        return [history for name, history in sorted(self.histories.items()) if name not in self.needed]
