"""What a listing of the ledger returns about each record, so operator commands need not download it.

Every ledger write (`Ledger._write`) stores these fields as the record blob's metadata, and its state as
a blob index tag (`state`, for storage lifecycle rules). A listing with `include=metadata` then gives,
for each record, everything `history`, `status`, `prune` and `replay`'s lookup filter and sort on.

Metadata values travel as HTTP headers: ASCII only, 8 KB for all of a blob's metadata together. Free
text (blob names, run ids, error messages) is therefore percent-encoded JSON, and a firing too long to
fit (a 1,024-character name of non-ASCII characters is 12 KB encoded) is left out: such a record is
downloaded when it is shown. Records written before this index existed carry only `state` and `trigger`
and are read once and re-indexed (`shared/ledger_listing.py`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from .ledger import LedgerEntry

INDEX_VERSION = "1"
FIRING_BUDGET = 4096  # characters of encoded firing; the rest of the metadata stays well under 1 KB
MESSAGE_CHARS = 200  # of an error message: enough for a table cell; the record holds all of it


def _encode(value: Any) -> str:
    return quote(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True), safe="")


def _decode(text: str) -> Any:
    return json.loads(unquote(text))


def error_summary(error: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The part of an error a listing shows: status, code, a shortened message, and whether it is ambiguous."""
    if not error:
        return None
    summary = {name: error.get(name) for name in ("status", "code", "ambiguous", "out_of_attempts")}
    summary["message"] = str(error.get("message") or "")[:MESSAGE_CHARS]
    return {name: value for name, value in summary.items() if value is not None}


def index_metadata(entry: LedgerEntry) -> dict[str, str]:
    """The record's metadata: what a listing needs to filter, sort and show it."""
    metadata = {"index": INDEX_VERSION, "state": entry.state, "trigger": entry.trigger,
                "updated": entry.updated_at, "attempts": str(entry.attempts)}
    firing = _encode(entry.firing)
    if len(firing) <= FIRING_BUDGET:
        metadata["firing"] = firing
    optional = {"run_id": entry.run_id, "lease_until": entry.lease_until, "error": error_summary(entry.error)}
    metadata.update({name: _encode(value) for name, value in optional.items() if value is not None})
    return metadata


def index_tags(entry: LedgerEntry) -> dict[str, str]:
    """Blob index tags, for lifecycle rules (`blobIndexMatch`, which only tests equality): `state`, and
    `uncertain` ("true" when the run may exist: an operator must check before anything is deleted or resent),
    so a rule can delete `state == failed` records only with `uncertain == false`."""
    return {"state": entry.state, "uncertain": "true" if is_uncertain_error(entry.error) else "false"}


def is_uncertain_error(error: Mapping[str, Any] | None) -> bool:
    return bool((error or {}).get("ambiguous"))


DETAILS = ("firing", "run_id", "lease_until", "error")  # encoded free text, decoded only when read


@dataclass(frozen=True)
class IndexRow:
    """One ledger record as its listing describes it.

    The details are kept encoded and decoded on first read: a listing of 100,000 records filters and sorts
    on state, trigger and time, and only the rows it shows ever need their firing or error.
    """

    name: str
    trigger: str
    state: str
    updated_at: str
    attempts: int
    record_etag: str
    encoded: Mapping[str, str]  # the DETAILS present; `firing` is absent when it did not fit the metadata

    @property
    def key(self) -> str:
        return record_key(self.name)

    @property
    def firing(self) -> dict[str, Any] | None:
        return self._detail("firing")

    @property
    def run_id(self) -> str | None:
        return self._detail("run_id")

    @property
    def lease_until(self) -> str | None:
        return self._detail("lease_until")

    @property
    def error(self) -> dict[str, Any] | None:
        return self._detail("error")

    def _detail(self, name: str) -> Any:
        return _decode(self.encoded[name]) if name in self.encoded else None

    @classmethod
    def from_metadata(cls, name: str, metadata: Mapping[str, str], record_etag: str) -> IndexRow | None:
        """None for a record written before the index (or with metadata it cannot read)."""
        if metadata.get("index") != INDEX_VERSION:
            return None
        try:
            return cls(name=name, trigger=metadata["trigger"], state=metadata["state"],
                       updated_at=metadata["updated"], attempts=int(metadata["attempts"]), record_etag=record_etag,
                       encoded={detail: metadata[detail] for detail in DETAILS if detail in metadata})
        except (KeyError, ValueError):
            return None

    @classmethod
    def from_entry(cls, name: str, entry: LedgerEntry, record_etag: str) -> IndexRow:
        """From the whole record: the firing always included, however long."""
        details = {"firing": entry.firing, "run_id": entry.run_id, "lease_until": entry.lease_until,
                   "error": error_summary(entry.error)}
        return cls(name=name, trigger=entry.trigger, state=entry.state, updated_at=entry.updated_at,
                   attempts=entry.attempts, record_etag=record_etag,
                   encoded={detail: _encode(value) for detail, value in details.items() if value is not None})


def record_key(name: str) -> str:
    """`runs/<trigger>/<key>.json` -> `<key>`."""
    return name.rpartition("/")[2].removesuffix(".json")
