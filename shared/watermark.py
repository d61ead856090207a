"""The sweep's progress per trigger: its watermark, when it last ran, and whether it is paused.

Kept as a state document beside the ledger (`state/sweep/<trigger>.json`), written conditionally, so two
hosts cannot silently overwrite each other. The watermark only advances to the server time at which the
listing started, held back to the oldest blob whose submission is not settled (transient failure, claimed
elsewhere, error), so a crash or a failure mid-sweep loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .checkpoints import StateStore, sweep_state
from .clock import iso, parse_iso

OVERLAP = timedelta(seconds=1)  # the Date header already rounds down; this covers clock skew
DUE_TOLERANCE = timedelta(seconds=10)


@dataclass
class SweepState:
    """One trigger's state document as read, with the ETag every write is conditional on."""

    store: StateStore
    name: str
    document: dict[str, Any]
    etag: str | None

    @classmethod
    def read(cls, store: StateStore, trigger: str) -> SweepState:
        name = sweep_state(trigger)
        document, etag = store.read(name)
        return cls(store, name, document, etag)

    @property
    def watermark(self) -> datetime | None:
        return parse_iso(self.document["watermark"]) if self.document.get("watermark") else None

    @property
    def paused(self) -> bool:
        return bool(self.document.get("paused"))

    @property
    def armed(self) -> bool:
        """A watermark to sweep from: not the first sweep, nor the first after a pause."""
        return self.watermark is not None and not self.paused

    @property
    def progress(self) -> dict[str, Any] | None:
        """Where an unfinished sweep (stopped at a tick's deadline) continues: see `checkpoint`."""
        return self.document.get("progress")

    @property
    def turn(self) -> str:
        """When this trigger's sweep last ran, finished or not ("" if never): a tick serves the oldest first."""
        return str((self.progress or {}).get("at") or self.document.get("last_sweep_at") or "")

    def due(self, now: datetime, interval: timedelta) -> bool:
        """An unfinished sweep is always due: it continues where it stopped."""
        last = parse_iso(self.document["last_sweep_at"]) if self.document.get("last_sweep_at") else None
        return last is None or self.paused or self.progress is not None or now >= last + interval - DUE_TOLERANCE

    def pause(self) -> None:
        if self.document and not self.paused:
            self.store.write(self.name, {**self.document, "paused": True}, self.etag)

    def checkpoint(self, progress: dict[str, Any], now: datetime) -> None:
        """Save an unfinished sweep's place; the watermark stays where it was until its listing is done."""
        self.store.write(self.name, {**self.document, "progress": {**progress, "at": iso(now)}}, self.etag)

    def advance(self, started: datetime, oldest_unsettled: datetime | None, now: datetime) -> str:
        """Move the watermark to the listing's start, held back to the oldest blob not yet settled."""
        watermark = iso(min(started, oldest_unsettled) if oldest_unsettled else started)
        self.store.write(self.name, {"watermark": watermark, "last_sweep_at": iso(now)}, self.etag)
        return watermark
