"""Invoke a function folder the way the Functions host does (Python v1 model).

The host reads `function.json`, imports `scriptFile`, decodes the trigger payload with the
azure-functions library's own converters and calls `main`; so do these helpers.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.timer import TimerRequestConverter
from azure.storage.blob import BlobClient

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FunctionApp:
    name: str
    bindings: list[dict[str, Any]]
    module: ModuleType

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if b["type"].endswith("Trigger"))

    def invoke(self, payload: dict[str, Any]) -> Any:
        """Decode the JSON payload with the binding's converter, then call `main` with it by name."""
        binding = self.trigger
        datum = meta.Datum(json.dumps(payload), "json")
        converter = {"eventGridTrigger": EventGridEventInConverter, "timerTrigger": TimerRequestConverter}[
            binding["type"]
        ]
        argument = converter.decode(datum, trigger_metadata={})
        return self.module.main(**{binding["name"]: argument})


def load_function(name: str) -> FunctionApp:
    folder = REPO_ROOT / name
    spec_json = json.loads((folder / "function.json").read_text())
    script = folder / spec_json.get("scriptFile", "__init__.py")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return FunctionApp(name, spec_json["bindings"], module)


def blob_created_event(
    blob: BlobClient,
    *,
    api: str = "PutBlob",
    subject_name: str | None = None,
    data_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event Event Grid would deliver for this blob, built from its real properties in Azurite."""
    props = blob.get_blob_properties()
    name = subject_name if subject_name is not None else blob.blob_name
    data: dict[str, Any] = {
        "api": api,
        "clientRequestId": str(uuid.uuid4()),
        "requestId": str(uuid.uuid4()),
        "eTag": str(props.etag).strip('"'),
        "contentType": props.content_settings.content_type or "application/octet-stream",
        "contentLength": props.size,
        "blobType": "BlockBlob",
        "url": blob.url,
        "sequencer": f"{uuid.uuid4().int:048x}"[:48],
        "storageDiagnostics": {"batchId": str(uuid.uuid4())},
    }
    data.update(data_overrides or {})
    return {
        "id": str(uuid.uuid4()),
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
        "Microsoft.Storage/storageAccounts/devstoreaccount1",
        "subject": f"/blobServices/default/containers/{blob.container_name}/blobs/{name}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "dataVersion": "",
        "metadataVersion": "1",
        "data": data,
    }


def timer_payload(past_due: bool = False) -> dict[str, Any]:
    """What the host passes a timer trigger (`IsPastDue`, `ScheduleStatus`)."""
    now = datetime.now(UTC).isoformat()
    return {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {"Last": now, "Next": now, "LastUpdated": now},
            "IsPastDue": past_due}
