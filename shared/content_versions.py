"""Which content version a blob's ETag belongs to: only a content change is a new version.

Set Blob Metadata and Set Blob Properties give a blob a new ETag and Last-Modified but keep its bytes; Set
Blob Tags and Set Blob Tier change neither. Neither a listing nor an event says which kind of write made an
ETag, so per blob the ledger keeps a short history of the ETags seen, each with the fingerprint a
properties-only listing gives (`Content-MD5`, size) and the content version (an ETag) it belongs to; see
docs/services.md, "Azure Blob Storage". A new ETag whose fingerprint equals that of its neighbour in time
(the ETag before it, or the one after it when it is decided late) is the same content version, recorded under
that version's ledger entry; anything else is a new one.

Without a `Content-MD5` on both sides (blobs written in blocks without one, ADLS Gen2 writes, a Set Blob
Properties that cleared it) equal sizes cannot tell the two apart, and the ETag counts as a new version:
a run too many rather than a content change lost. Same bytes uploaded again are the same version.

Every change to a history is a conditional write (`If-None-Match: *` / `If-Match`), so an event and the
sweep, or two hosts, deciding about one blob at once are serialised: the loser reads again and decides again.
A firing that relies on a history last written more than `REFRESH_AFTER` ago writes it again unchanged, so a
`prune` that read it meanwhile (it deletes only histories older than its `--older-than`, and only the version
it read) cannot delete it under the entry this firing is about to claim.

A history names its blob, `{"subject": <the blob's ledger subject>, "seen": [...]}`: its own name is only a
hash of that subject, and an operator looking at one should not have to guess. The first form, a bare list
of ETags, is still read, and is rewritten in this form at its next change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient

from .clock import iso, parse_iso, utc_now
from .firing import BlobVersion
from .ledger import entry_key

VERSIONS_PREFIX = "versions/"
HISTORY = 16  # ETags kept per blob: enough for late events and listings racing a few quick changes
# Half the youngest age prune deletes a history at (retention.MIN_RETENTION, 48 h): a history younger than
# this when a firing reads it is still too young for any prune when that firing's claim is written.
REFRESH_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Stored:
    """A history blob as read: its ETag (the next write is conditional on it) and when it was last written."""

    etag: str
    last_modified: datetime

    def needs_refresh(self) -> bool:
        return self.last_modified < utc_now() - REFRESH_AFTER


@dataclass(frozen=True)
class Seen:
    """One ETag of a blob, its fingerprint, and its content version: the ETag whose ledger entry stands for
    those bytes."""

    etag: str
    version: str
    content_md5: str | None
    size: int | None
    last_modified: str | None

    def same_content(self, blob: BlobVersion) -> bool:
        return (self.content_md5 is not None and self.content_md5 == blob.content_md5
                and self.size == blob.size)

    @property
    def moment(self) -> datetime | None:
        return parse_iso(self.last_modified) if self.last_modified else None


def content_version(container: ContainerClient, blob: BlobVersion) -> BlobVersion:
    """`blob` with `content_version` set: the ETag whose ledger entry stands for its bytes."""
    client = history_blob(container, blob)
    history: list[Seen] = []
    stored: Stored | None = None  # most blobs are new: create their history first, read one only if it exists
    while True:
        version, changed = decide(history, blob)
        if changed is None and stored is not None and stored.needs_refresh():
            changed = history  # written again as it is: a prune that read it can no longer delete it
        if changed is None:
            return dataclasses.replace(blob, content_version=version)
        try:
            _write(client, blob.ledger_subject, changed, stored.etag if stored else None)
        except (ResourceExistsError, ResourceModifiedError):  # a history exists, or changed since it was read
            pass
        except ResourceNotFoundError:  # deleted (a prune) since it was read; never read: no container
            if stored is None:
                raise
        else:
            return dataclasses.replace(blob, content_version=version)
        history, stored = _read(client)


def peek_content_version(container: ContainerClient, blob: BlobVersion) -> BlobVersion:
    """`blob` with the content version its firing would get now, writing nothing (a dry run, prune's count of
    what a backfill would run again). An ETag the history has not seen yet (Set Blob Metadata sends no event,
    so often none has) is decided as `content_version` decides it, from its neighbour in time, but not recorded."""
    history, _ = _read(history_blob(container, blob))
    return dataclasses.replace(blob, content_version=decide(history, blob)[0])


def as_recorded(container: ContainerClient, trigger: str, blob: BlobVersion, recorded_keys: Collection[str],
                recorded_subjects: Collection[str]) -> BlobVersion:
    """`blob` keyed as `trigger`'s firing would key it, for matching against records (their keys, and the blobs
    they are about): a blob with no record at all, or one under its own ETag, costs no history read (an ETag is
    decided once: one recorded as its own version stays its own); any other is peeked (a metadata change since
    its record was written finds that record)."""
    if blob.ledger_subject not in recorded_subjects or entry_key(trigger, blob) in recorded_keys:
        return blob
    return peek_content_version(container, blob)


def decide(history: list[Seen], blob: BlobVersion) -> tuple[str, list[Seen] | None]:
    """The content version of `blob`, and the history to write (None: nothing new was learned)."""
    known = next((seen for seen in history if seen.etag == blob.etag), None)
    if known is not None:
        if known.content_md5 is None and blob.content_md5 is not None:  # one ETag is one content: learn its MD5
            learned = dataclasses.replace(known, content_md5=blob.content_md5, size=blob.size)
            return known.version, [learned if seen is known else seen for seen in history]
        return known.version, None
    same = [seen for seen in neighbours(history, blob.last_modified) if seen.same_content(blob)]
    version = same[0].version if same else blob.etag
    seen = Seen(blob.etag, version, blob.content_md5, blob.size,
                iso(blob.last_modified) if blob.last_modified else None)
    return version, [*history, seen][-HISTORY:]


def neighbours(history: list[Seen], moment: datetime | None) -> list[Seen]:
    """The ETags next to `moment` in time: the one decided last among those not newer (the last one when
    `moment` is unknown), then the oldest newer one (an earlier ETag decided late, after its successor).
    The history is in the order decisions were made: the blob's own order, but for late arrivals."""
    earlier = [seen for seen in history if moment is None or seen.moment is None or seen.moment <= moment]
    later = [seen for seen in history if moment is not None and seen.moment is not None and seen.moment > moment]
    return [*earlier[-1:], *sorted(later, key=lambda seen: seen.moment or moment)[:1]]


def history_name(subject: str) -> str:
    """The history's blob name for a blob's ledger subject: a hash, so any legal blob name fits."""
    return f"{VERSIONS_PREFIX}{hashlib.sha256(subject.encode('utf-8')).hexdigest()}.json"


def history_blob(container: ContainerClient, blob: BlobVersion) -> BlobClient:
    return container.get_blob_client(history_name(blob.ledger_subject))


def parse(data: bytes) -> list[Seen]:
    """A history's ETags, from either form (the first, a bare list, did not name its blob)."""
    raw = json.loads(data)
    return [Seen(**item) for item in (raw if isinstance(raw, list) else raw["seen"])]


def _read(client: BlobClient) -> tuple[list[Seen], Stored | None]:
    try:
        download = client.download_blob()
    except ResourceNotFoundError:
        return [], None
    return parse(download.readall()), Stored(str(download.properties.etag), download.properties.last_modified)


def _write(client: BlobClient, subject: str, history: list[Seen], etag: str | None) -> None:
    data = json.dumps({"subject": subject, "seen": [dataclasses.asdict(seen) for seen in history]}).encode("utf-8")
    if etag is None:
        client.upload_blob(data, overwrite=False)
    else:
        client.upload_blob(data, overwrite=True, etag=etag, match_condition=MatchConditions.IfNotModified)
