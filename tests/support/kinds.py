"""What the target kinds' tests share: triggers written as users write them, the configuration they give,
and the one request a firing sent, checked for its path, query and token audience."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.storage.blob import BlobClient, ContainerClient

from shared.config import ConfigError, parse_config
from shared.firing import BlobVersion, ScheduledSlot
from shared.ledger import Ledger, LedgerEntry
from shared.targets import PipelineTarget, ServiceAnswer

from .standin import PipelineStandIn, Recorded

BLOB = BlobVersion(container="uploads", name="incoming/2026-11-25.csv", etag="0x8DD1",
                   url="https://acct.blob.core.windows.net/uploads/incoming/2026-11-25.csv")
SLOT = ScheduledSlot(at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
RUN_KEY = "pb-0123456789abcdef0123456789abcdef01234567"
JSON = {"Content-Type": "application/json"}


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> ServiceAnswer:
    """An answer with this JSON body, as the submitter hands it to the kind."""
    return ServiceAnswer(status, headers or {}, body)


def watch(pipeline: dict[str, Any], container: str = "uploads", folder: str = "incoming") -> dict[str, Any]:
    return {"name": "t", "watch": {"container": container, "path_on_datastore": folder}, "pipeline": pipeline}


def hourly(pipeline: dict[str, Any]) -> dict[str, Any]:
    """A recurrence; the blob-only fields are dropped (a schedule refuses them, as Azure ML's does)."""
    fields = {k: v for k, v in pipeline.items() if k not in ("datastore_name", "data_path_parameter_name")}
    return {"name": "t", "recurrence": {"frequency": "Hour", "interval": 1}, "pipeline": fields}


def target_of(trigger: dict[str, Any]) -> PipelineTarget:
    return parse_config(json.dumps([trigger])).triggers[0].pipeline


def problems_of(trigger: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps([trigger]))
    return caught.value.problems


def upload(container: ContainerClient, name: str, data: bytes = b"a,b\n1,2\n") -> BlobClient:
    blob = container.get_blob_client(name)
    blob.upload_blob(data, overwrite=True)
    return blob


def ledger_entry() -> LedgerEntry:
    [entry] = list(Ledger.from_settings().entries())
    return entry


def sent(standin: PipelineStandIn, path_end: str, query: dict[str, list[str]], resource: str) -> Recorded:
    """The one request the stand-in got, once its path, query and token audience are checked."""
    [request] = standin.requests
    assert request.path.endswith(path_end)
    assert request.query == query
    assert request.token_resource == resource
    return request
