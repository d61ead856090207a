"""The floor the bridge is compared with: the round trips one submission needs, as raw HTTP and nothing else.

One conditional create (`If-None-Match: *`, what a ledger claim is) on the same Azurite, then a POST of the
bridge's own request body to the same stand-in, on kept-alive connections with a token fetched once. For an
event, `read_first` adds what the event path does before its claim: a properties read (`HEAD`) of the blob.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from azure.storage.blob import (
    BlobSasPermissions,
    ContainerClient,
    ContainerSasPermissions,
    generate_blob_sas,
    generate_container_sas,
)

from bench.harness import Services
from tests.support.azurite import ACCOUNT, ACCOUNT_KEY

MANAGEMENT_RESOURCE = "https://management.azure.com"
VERSION = {"x-ms-version": "2025-01-05"}


@dataclass(frozen=True)
class BridgeRequest:
    """What the bridge sent for one blob: its POST body, and one of its ledger records (the claim's size)."""

    body: Any
    record: bytes

    @classmethod
    def latest(cls, services: Services) -> BridgeRequest:
        """Take it right after the bridge's own request: later requests may be the ones being measured."""
        ledger = services.ledger()
        record = ledger.download_blob(next(iter(ledger.list_blob_names(name_starts_with="runs/")))).readall()
        return cls(services.standin.requests[-1].body, record)


class RawRoundTrips:
    """One instance per thread: its session and its counter are not shared."""

    def __init__(self, services: Services, like: BridgeRequest, read_first: ContainerClient | None = None) -> None:
        self.requests = services.standin.requests
        container = services.new_container("raw")
        sas = generate_container_sas(ACCOUNT, container.container_name, account_key=ACCOUNT_KEY,
                                     permission=ContainerSasPermissions(create=True, write=True),
                                     expiry=datetime.now(UTC) + timedelta(hours=2))
        self.blob_url = f"{container.url}/{{}}?{sas}"
        self.read_url = read_first and readable_url(read_first, next(iter(read_first.list_blob_names())))
        self.endpoint = services.standin.published_pipeline_url()
        self.session = requests.Session()
        token = self.session.get(services.identity.url, headers={"X-IDENTITY-HEADER": services.identity.secret_header},
                                 params={"api-version": "2019-08-01", "resource": MANAGEMENT_RESOURCE}).json()
        self.post_headers = {"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json"}
        self.create_headers = {"x-ms-blob-type": "BlockBlob", "x-ms-version": "2025-01-05", "If-None-Match": "*",
                               "Content-Type": "application/json"}
        self.body = json.dumps(like.body).encode("utf-8")
        self.record = like.record
        self.count = 0

    def once(self) -> tuple[float, float]:
        """(start -> POST received by the stand-in, start -> response), in seconds."""
        self.count += 1
        seen = len(self.requests)
        started = time.monotonic()
        if self.read_url and self.session.head(self.read_url, headers=VERSION).status_code != 200:
            raise RuntimeError("raw round trips failed: the properties read")
        created = self.session.put(self.blob_url.format(f"claim-{self.count:05d}.json"), data=self.record,
                                   headers=self.create_headers)
        posted = self.session.post(self.endpoint, data=self.body, headers=self.post_headers)
        finished = time.monotonic()
        if created.status_code != 201 or posted.status_code != 200:
            raise RuntimeError(f"raw round trips failed: create {created.status_code}, post {posted.status_code}")
        return self.requests[seen].at - started, finished - started


def readable_url(container: ContainerClient, name: str) -> str:
    sas = generate_blob_sas(ACCOUNT, container.container_name, name, account_key=ACCOUNT_KEY,
                            permission=BlobSasPermissions(read=True), expiry=datetime.now(UTC) + timedelta(hours=2))
    return f"{container.get_blob_client(name).url}?{sas}"
