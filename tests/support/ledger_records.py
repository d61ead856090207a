"""Ledger records as they stand after time has passed: the ledger stamps every write with the current time,
so a test that needs a 40-day-old record (or an expired claim) writes it with the ledger's own index."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.clock import iso, utc_now
from shared.firing import BlobVersion
from shared.ledger import CLAIMED, Ledger, LedgerEntry, entry_key
from shared.ledger_index import index_metadata, index_tags


def aged_record(ledger: Ledger, trigger: str, state: str, age: timedelta, blob: BlobVersion | None = None,
                error: dict[str, Any] | None = None, now: datetime | None = None) -> LedgerEntry:
    """A record last written `age` ago, stored exactly as `Ledger._write` stores one."""
    blob = blob or BlobVersion("uploads", f"in/{uuid.uuid4().hex}.csv", f"0x{uuid.uuid4().hex[:12].upper()}")
    written = iso((now or utc_now()) - age)
    entry = LedgerEntry(key=entry_key(trigger, blob), trigger=trigger, state=state, firing=blob.describe(),
                        created_at=written, updated_at=written, attempts=1, error=error,
                        lease_until=written if state == CLAIMED else None)
    ledger.ensure_container()
    ledger.container.get_blob_client(entry.blob_name).upload_blob(
        entry.to_bytes(), overwrite=True, metadata=index_metadata(entry), tags=index_tags(entry))
    return entry
