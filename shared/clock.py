"""Time in one spelling: aware UTC now, and the ISO-8601 text (millisecond `Z`) the ledger and state documents store.

The ledger, the sweep's watermark, the schedules and the CLI all read and write these strings, so they live
here, with time, rather than in any one of those modules.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
