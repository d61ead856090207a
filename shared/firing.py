"""What caused a pipeline run: a blob version or a scheduled slot.

Both the event path and the sweep describe a blob the same way, so the ledger key they compute for
one blob version is identical whichever path sees it first.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime


def normalise_etag(raw: str) -> str:
    """One spelling per ETag: the SDK quotes it (`"0x8D.."`), Event Grid does not (`0x8D..`)."""
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').strip()


def md5_text(raw: bytes | bytearray | None) -> str | None:
    """`Content-MD5` as the service spells it (base64), from the SDK's bytes; None when the blob has none."""
    return base64.b64encode(bytes(raw)).decode("ascii") if raw else None


@dataclass(frozen=True)
class BlobVersion:
    """One version of one blob, as seen by an event or a listing.

    `account` is the storage account's name (lower case): two accounts may both have a container `uploads`,
    so it is part of the ledger key. `copy_status` is the blob's `x-ms-copy-status` when it is (or was) the
    destination of a copy; a pending or failed copy is not content to run on.
    `content_md5` is the blob's `Content-MD5` (base64) where the service keeps one: with the size, it tells a
    metadata or property change (new ETag, same bytes) from new content. `content_version` is the ETag whose
    ledger entry stands for these bytes (`content_versions` decides it); None until decided, then the ETag
    itself for new content.
    """

    container: str
    name: str
    etag: str
    size: int | None = None
    url: str | None = None
    last_modified: datetime | None = None
    api: str | None = None
    account: str | None = None
    copy_status: str | None = None
    content_md5: str | None = None
    content_version: str | None = None

    @property
    def folder(self) -> str:
        """The blob's folder inside its container ("" at the root)."""
        return self.name.rpartition("/")[0]

    @property
    def file_name(self) -> str:
        return self.name.rpartition("/")[2]

    @property
    def ledger_subject(self) -> str:
        if self.account is None:  # a firing that names no account (dry runs, records written before accounts)
            return f"blob:{self.container}/{self.name}"
        return f"blob:{self.account}/{self.container}/{self.name}"

    def describe(self) -> dict[str, object]:
        described: dict[str, object] = {"account": self.account} if self.account else {}
        same = self.content_version if self.content_version not in (None, self.etag) else None
        return {**described, "container": self.container, "blob": self.name, "etag": self.etag,
                **({"same_content_as": same} if same else {})}


@dataclass(frozen=True)
class ScheduledSlot:
    """One scheduled time of a recurrence or cron trigger (aware UTC)."""

    at: datetime

    @property
    def ledger_subject(self) -> str:
        return "schedule"

    @property
    def etag(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def describe(self) -> dict[str, object]:
        return {"slot": self.etag}


Firing = BlobVersion | ScheduledSlot


def firing_from_record(described: Mapping[str, object]) -> Firing:
    """The firing back from what a ledger entry stores (`describe()`), with the content version it was claimed
    for (decided before every claim), so it keys the same entry and run key: a replay that rebuilds its request
    finds or dedupes the run its first attempt may have started."""
    if "slot" in described:
        return ScheduledSlot(datetime.fromisoformat(str(described["slot"]).replace("Z", "+00:00")))
    account, etag = described.get("account"), str(described["etag"])
    return BlobVersion(container=str(described["container"]), name=str(described["blob"]), etag=etag,
                       account=str(account) if account else None,
                       content_version=str(described.get("same_content_as") or etag))
