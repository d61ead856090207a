"""Seed Azurite's blob database before it starts, so a 60,000-blob container costs seconds, not minutes.

Why not upload them: Azurite 3.35 keeps blob metadata in LokiJS and finds a blob by account first, which
scans every blob it holds, so each upload costs O(blobs already there). Measured here: ~2 ms of Azurite CPU
per upload when empty, ~8 ms at 14,000 blobs; 60,000 uploads would take about a quarter of an hour,
whatever the client's concurrency (Azurite runs on one core). Loading the same records from its database
file takes seconds. The records are the ones Azurite writes itself for a zero-length block blob, in the
file layout of this very Azurite (taken from a scratch instance), so listings and reads behave as usual.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tests.support.azurite import ACCOUNT, Azurite

DATABASE_FILE = "__azurite_db_blob__.json"
EMPTY_MD5 = {"type": "Buffer", "data": list(hashlib.md5(b"").digest())}


def seeded_azurite(container: str, names: Sequence[str], last_modified: datetime,
                   metadata: Sequence[Mapping[str, str]] | None = None) -> Azurite:
    """An Azurite, not started yet, whose folder already holds `container` with zero-length blobs `names`
    (with `metadata[i]` as the metadata of `names[i]`, when given)."""
    scratch = Azurite().start()  # it saves its empty database in its own format before it listens
    try:
        database = json.loads((scratch.location / DATABASE_FILE).read_text())
    finally:
        scratch.stop()
    stamp = last_modified.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    created = int(last_modified.timestamp() * 1000)
    collections = {collection["name"]: collection for collection in database["collections"]}
    fill(collections["$CONTAINERS_COLLECTION$"], created, [
        {"accountName": ACCOUNT, "name": container,
         "properties": {"etag": '"0x8DD00000000000F"', "lastModified": stamp, "leaseStatus": "unlocked",
                        "leaseState": "available", "hasImmutabilityPolicy": False, "hasLegalHold": False}}])
    fill(collections["$BLOBS_COLLECTION$"], created, [
        {"deleted": False, "accountName": ACCOUNT, "containerName": container, "name": name, "snapshot": "",
         "isCommitted": True,
         "properties": {"creationTime": stamp, "lastModified": stamp, "etag": f'"0x8DD{index:013X}"',
                        "contentLength": 0, "contentType": "application/octet-stream", "contentMD5": EMPTY_MD5,
                        "blobType": "BlockBlob", "leaseStatus": "unlocked", "leaseState": "available",
                        "serverEncrypted": True, "accessTier": "Hot", "accessTierInferred": True},
         **({"metadata": dict(metadata[index])} if metadata else {})}
        for index, name in enumerate(names)])
    azurite = Azurite(startup_seconds=30 + len(names) / 500)  # it loads the whole database before it listens
    (azurite.location / DATABASE_FILE).write_text(json.dumps(database))
    return azurite


def fill(collection: dict[str, Any], created: int, documents: list[dict[str, Any]]) -> None:
    """Set a Loki collection's documents, ids and sorted binary indices as Loki itself would keep them."""
    for position, document in enumerate(documents):
        document["meta"] = {"revision": 0, "created": created, "version": 0}
        document["$loki"] = position + 1
    collection["data"] = documents
    collection["maxId"] = len(documents)
    collection["binaryIndices"] = {
        field: {"name": field, "dirty": False,
                "values": sorted(range(len(documents)), key=lambda position: documents[position][field])}
        for field in collection["binaryIndices"]
    }
