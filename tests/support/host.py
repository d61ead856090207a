"""Invoke a function folder the way the Functions host does (Python v1 model).

The host reads `function.json`, imports `scriptFile`, decodes the trigger payload with the
azure-functions library's own converters and calls `main`; so do these helpers.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import azure.functions as func
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.timer import TimerRequestConverter
from azure.storage.blob import BlobClient, ContainerClient

REPO_ROOT = Path(__file__).resolve().parents[2]
# The worker keeps one thread-local for the whole process and sets `invocation_id` on it on the thread that
# calls `main`; its log handler reads it on whichever thread logs (azure-functions-python-worker dispatcher).
INVOCATION_LOCAL = threading.local()


def current_invocation_id() -> str | None:
    """The invocation id the worker's log handler would attach to a record logged on this thread."""
    return getattr(INVOCATION_LOCAL, "invocation_id", None)


class HostContext(func.Context):
    """The `context` argument the worker passes to a `main` that declares one."""

    def __init__(self, function_name: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return INVOCATION_LOCAL

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return str(REPO_ROOT / self._function_name)

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


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
        arguments = {binding["name"]: converter.decode(datum, trigger_metadata={})}
        context = HostContext(self.name)
        if "context" in inspect.signature(self.module.main).parameters:
            arguments["context"] = context
        INVOCATION_LOCAL.invocation_id = context.invocation_id
        try:
            return self.module.main(**arguments)
        finally:
            INVOCATION_LOCAL.invocation_id = None


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


def topic_of(account: str) -> str:
    """The `topic` Event Grid sets: the storage account's resource id."""
    return ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
            f"Microsoft.Storage/storageAccounts/{account}")


def dfs_url(account: str, container: str, path: str) -> str:
    """The Data Lake (`dfs` host) URL rename events carry; the bridge never calls it, so the cloud form is used."""
    return f"https://{account}.dfs.core.windows.net/{container}/{quote(path, safe='/')}"


def grid_event(event_type: str, account: str, container: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """The Event Grid schema envelope around `data`."""
    return {
        "id": str(uuid.uuid4()),
        "topic": topic_of(account),
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": event_type,
        "eventTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "dataVersion": "",
        "metadataVersion": "1",
        "data": data,
    }


def request_ids() -> dict[str, Any]:
    return {"clientRequestId": str(uuid.uuid4()), "requestId": str(uuid.uuid4()),
            "sequencer": f"{uuid.uuid4().int:048x}"[:48], "storageDiagnostics": {"batchId": str(uuid.uuid4())}}


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
        "eTag": str(props.etag).strip('"'),
        "contentType": props.content_settings.content_type or "application/octet-stream",
        "contentLength": props.size,
        "blobType": "BlockBlob",
        "url": blob.url,
        **request_ids(),
    }
    data.update(data_overrides or {})
    return grid_event("Microsoft.Storage.BlobCreated", blob.account_name, blob.container_name, name, data)


def blob_renamed_event(destination: BlobClient, source_name: str) -> dict[str, Any]:
    """`BlobRenamed` for a RenameFile onto `destination` (already written under its final name): both URLs on
    the dfs host, and no eTag, contentLength, contentType or blobType, as Event Grid sends it."""
    account, container = destination.account_name, destination.container_name
    data = {"api": "RenameFile", "sourceUrl": dfs_url(account, container, source_name),
            "destinationUrl": dfs_url(account, container, destination.blob_name), **request_ids()}
    return grid_event("Microsoft.Storage.BlobRenamed", account, container, destination.blob_name, data)


def directory_renamed_event(container: ContainerClient, directory: str, source_directory: str) -> dict[str, Any]:
    """`DirectoryRenamed` for a RenameDirectory: one event for the directory, none for its files."""
    account, name = container.account_name, container.container_name
    data = {"api": "RenameDirectory", "sourceUrl": dfs_url(account, name, source_directory),
            "destinationUrl": dfs_url(account, name, directory), **request_ids()}
    return grid_event("Microsoft.Storage.DirectoryRenamed", account, name, directory, data)


def timer_payload(past_due: bool = False) -> dict[str, Any]:
    """What the host passes a timer trigger (`IsPastDue`, `ScheduleStatus`)."""
    now = datetime.now(UTC).isoformat()
    return {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {"Last": now, "Next": now, "LastUpdated": now},
            "IsPastDue": past_due}
