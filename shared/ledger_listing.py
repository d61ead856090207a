"""Reading the ledger through its listing: one listing answers, and only the records shown are downloaded.

A listing page of 5,000 records costs about what downloading a handful of them does, so `history`,
`status`, `prune` and key lookups list with metadata (`shared/ledger_index.py`), filter and sort on it,
and download only the entries they show. A key lookup lists only the names starting with the key
(`runs/<trigger>/<key prefix>`), one small listing per trigger folder.

Records written before the index existed are downloaded once and re-indexed in place (metadata and
tags only, conditional on the record's ETag, so a concurrent write always wins); only final records
are re-indexed, since a claimed or released one is rewritten, and so indexed, by its next delivery.
"""

from __future__ import annotations

import contextlib
import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobPrefix, BlobProperties

from .clock import parse_iso
from .ledger import FAILED, RUNS_PREFIX, SUBMITTED, Ledger, LedgerEntry
from .ledger_index import IndexRow, index_metadata, index_tags

KEY_PREFIX = re.compile(r"^[0-9a-f]{1,64}$")
REINDEXED_STATES = frozenset({SUBMITTED, FAILED})


@dataclass(frozen=True)
class Page:
    """The newest rows that pass the filters, and how many more passed them."""

    rows: list[IndexRow]
    not_shown: int


class LedgerListing:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.container = ledger.container

    def rows(self, trigger: str | None = None, states: set[str] | None = None) -> Iterator[IndexRow]:
        """Every record of one trigger (or all), in name order; `states` filters before any download."""
        prefix = f"{RUNS_PREFIX}{trigger}/" if trigger else RUNS_PREFIX
        return self._rows(self.container.list_blobs(name_starts_with=prefix, include=["metadata"]), states)

    def _rows(self, items: Iterable[BlobProperties], states: set[str] | None) -> Iterator[IndexRow]:
        with missing_container_is_empty():
            for item in items:
                metadata = item.metadata or {}
                if states and metadata.get("state") not in states:
                    continue
                row = IndexRow.from_metadata(item.name, metadata, str(item.etag)) or self._read_and_reindex(item)
                if row is not None:
                    yield row

    def _read_and_reindex(self, item: BlobProperties) -> IndexRow | None:
        found = self.ledger.read(item.name)
        if found is None:  # deleted since the listing
            return None
        entry, record_etag = found
        if entry.state in REINDEXED_STATES:
            blob = self.container.get_blob_client(item.name)
            with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):  # written meanwhile: indexed
                record_etag = str(blob.set_blob_metadata(index_metadata(entry), etag=record_etag,
                                                         match_condition=MatchConditions.IfNotModified)["etag"])
                blob.set_blob_tags(index_tags(entry))
        return IndexRow.from_entry(item.name, entry, record_etag)

    def newest(self, limit: int, trigger: str | None = None, states: set[str] | None = None,
               since: datetime | None = None) -> Page:
        """The `limit` most recently updated rows, from one listing held to `limit` rows in memory."""
        passed = 0
        heap: list[tuple[str, str, IndexRow]] = []
        for row in self.rows(trigger, states):
            if since is not None and parse_iso(row.updated_at) < since:
                continue
            passed += 1
            item = (row.updated_at, row.name, row)
            if len(heap) < limit:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)
        shown = [row for _, _, row in sorted(heap, key=lambda item: item[:2], reverse=True)]
        return Page(shown, passed - len(shown))

    def find(self, key_prefix: str, trigger: str | None = None, likely: Sequence[str] = ()) -> list[IndexRow]:
        """Rows whose key starts with `key_prefix`: the key is in the record's name, so only those are listed.

        Without `trigger`, the folders of the `likely` triggers (the configured ones) are looked in first; only
        when none holds the key are all trigger folders listed (a delimiter listing: it walks the whole ledger
        on some servers), for a trigger removed from the configuration since.
        """
        if not KEY_PREFIX.match(key_prefix):
            raise ValueError(f"{key_prefix!r} is not a ledger key: keys are 64 hexadecimal characters")
        folders = [f"{RUNS_PREFIX}{name}/" for name in ([trigger] if trigger else likely)]
        found = self._find_in(folders, key_prefix)
        if not found and trigger is None:
            found = self._find_in([f for f in self.trigger_folders() if f not in folders], key_prefix)
        return found

    def _find_in(self, folders: Iterable[str], key_prefix: str) -> list[IndexRow]:
        found: list[IndexRow] = []
        for folder in folders:
            items = self.container.list_blobs(name_starts_with=f"{folder}{key_prefix}", include=["metadata"])
            found.extend(self._rows(items, None))
        return found

    def trigger_folders(self) -> list[str]:
        """`runs/<trigger>/` for every trigger with records, configured or not any more."""
        with missing_container_is_empty():
            return [item.name for item in self.container.walk_blobs(name_starts_with=RUNS_PREFIX, delimiter="/")
                    if isinstance(item, BlobPrefix)]
        return []

    def complete(self, row: IndexRow) -> IndexRow | None:
        """The row with its firing, downloading the record only when the firing did not fit the metadata."""
        if row.firing is not None:
            return row
        entry = self.entry(row)
        return IndexRow.from_entry(row.name, entry, row.record_etag) if entry is not None else None

    def entry(self, row: IndexRow) -> LedgerEntry | None:
        """The whole record behind a row (None when it was deleted since the listing)."""
        found = self.ledger.read(row.name)
        return found[0] if found is not None else None


@contextlib.contextmanager
def missing_container_is_empty() -> Iterator[None]:
    """A ledger whose container was never created (nothing ever fired) lists as empty."""
    try:
        yield
    except ResourceNotFoundError as error:
        if error.error_code != "ContainerNotFound":
            raise
