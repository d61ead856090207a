"""Ledger entries as an operator reads them: what fired, how it ended, and the short key to act on it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..ledger import LedgerEntry
from ..ledger_index import IndexRow
from .output import shorten, table

SHORT_KEY = 12
MIN_PREFIX = 8
Shown = LedgerEntry | IndexRow  # a whole record, or what its listing says about it


def subject(entry: Shown) -> str:
    """`container/blob` for a blob version, `slot <time>` for a scheduled slot."""
    firing = entry.firing or {}
    if "slot" in firing:
        return f"slot {firing['slot']}"
    return f"{firing.get('container')}/{firing.get('blob')}"


def error_text(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    status = f"HTTP {error['status']}" if error.get("status") is not None else "no response"
    code = f" {error['code']}" if error.get("code") else ""
    flags = " [ambiguous: the service may have started a run]" if error.get("ambiguous") else ""
    return f"{status}{code}: {error.get('message')}{flags}"


def as_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "key": entry.key, "short_key": entry.key[:SHORT_KEY], "trigger": entry.trigger, "state": entry.state,
        "subject": subject(entry), "firing": entry.firing, "etag": entry.firing.get("etag"),
        "run_id": entry.run_id, "attempts": entry.attempts, "replays": entry.replays,
        "last_error": error_text(entry.error), "error": entry.error, "created_at": entry.created_at,
        "updated_at": entry.updated_at, "submitted_at": entry.submitted_at,
    }


def entries_table(entries: Iterable[Shown]) -> str:
    headers = ("UPDATED", "TRIGGER", "STATE", "BLOB OR SLOT", "ETAG", "RUN ID", "ATTEMPTS", "KEY", "LAST ERROR")
    return table(headers, (
        (e.updated_at, e.trigger, e.state, subject(e), (e.firing or {}).get("etag"), e.run_id, e.attempts,
         e.key[:SHORT_KEY], shorten(error_text(e.error), 70))
        for e in entries
    ))
