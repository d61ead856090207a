"""One example of each event decision, for `scripts/local_run.py`: the events Event Grid would send for an
upload, a late event after an overwrite, a deletion, renames, a copy, an SFTP upload, the same container name
in another account and an event type that never means new content, each built from a real blob in Azurite
and delivered like the other events of the local run. The bridge's `event=` lines say what it decided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient

from tests.support.azurite import ACCOUNT, SECOND_ACCOUNT, Azurite
from tests.support.host import blob_created_event, blob_renamed_event, directory_renamed_event

TOUR_TRIGGER = "event-tour"
TOUR_CONTAINER = "landing"
TOUR_FOLDER = "incoming"
CONTENT = b"id,value\n1,42\n"
Deliver = Callable[[dict[str, Any]], None]
Say = Callable[[str], None]


def tour_trigger(endpoint: str) -> dict[str, Any]:
    return {
        "name": TOUR_TRIGGER,
        "description": f"the event tour: files directly in {TOUR_CONTAINER}/{TOUR_FOLDER}, events only",
        "watch": {"container": TOUR_CONTAINER, "path_on_datastore": TOUR_FOLDER, "polling_interval": 0},
        "pipeline": {"endpoint": endpoint, "experiment_name": TOUR_TRIGGER,
                     "datastore_name": "workspaceblobstore", "data_path_parameter_name": "input_datapath"},
    }


def created_containers(azurite: Azurite) -> tuple[ContainerClient, ContainerClient]:
    """The tour's container, and one of the same name in the second account."""
    pair = tuple(BlobServiceClient.from_connection_string(azurite.connection_string_for(account))
                 .get_container_client(TOUR_CONTAINER) for account in (ACCOUNT, SECOND_ACCOUNT))
    for container in pair:
        container.create_container()
    return pair  # type: ignore[return-value]


def steps(landing: ContainerClient, twin: ContainerClient) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    folder = TOUR_FOLDER

    def put(container: ContainerClient, name: str, data: bytes = CONTENT) -> Any:
        blob = container.get_blob_client(name)
        blob.upload_blob(data, overwrite=True)
        return blob

    def superseded() -> dict[str, Any]:
        blob = put(landing, f"{folder}/daily.csv", b"v1")
        late = blob_created_event(blob)
        put(landing, f"{folder}/daily.csv", b"version 2")
        return late

    def deleted() -> dict[str, Any]:
        blob = put(landing, f"{folder}/gone.csv")
        event = blob_created_event(blob)
        blob.delete_blob()
        return event

    def copied() -> dict[str, Any]:
        copy = landing.get_blob_client(f"{folder}/copied.csv")
        copy.start_copy_from_url(put(landing, "staging/source.csv").url)
        return blob_created_event(copy, api="CopyBlob")

    def sftp_create() -> dict[str, Any]:
        return blob_created_event(put(landing, f"{folder}/sftp.csv", b""), api="SftpCreate")

    def sftp_commit() -> dict[str, Any]:
        return blob_created_event(put(landing, f"{folder}/sftp.csv"), api="SftpCommit")

    def other_type() -> dict[str, Any]:
        event = blob_created_event(put(landing, f"{folder}/tiered.csv"))
        event["eventType"] = "Microsoft.Storage.BlobTierChanged"
        return event

    return [
        ("an upload directly into the folder (PutBlob): one run",
         lambda: blob_created_event(put(landing, f"{folder}/upload.csv"))),
        ("a late event for a blob overwritten since: superseded", superseded),
        ("an event for a blob deleted since: deleted", deleted),
        ("a file renamed into the folder (BlobRenamed): one run for its new name",
         lambda: blob_renamed_event(put(landing, f"{folder}/renamed.csv"), "staging/renamed.csv.part")),
        ("a file renamed into a subfolder: never runs",
         lambda: blob_renamed_event(put(landing, f"{folder}/archive/old.csv"), f"{folder}/old.csv")),
        ("a directory renamed into the folder (DirectoryRenamed): a subfolder, never runs",
         lambda: directory_renamed_event(landing, f"{folder}/batch-7", "staging/batch-7")),
        ("a completed copy (CopyBlob): one run", copied),
        ("an SFTP upload, first the empty create (SftpCreate): never runs", sftp_create),
        ("... then its commit (SftpCommit): one run", sftp_commit),
        (f"the same name in account {SECOND_ACCOUNT!r}, whose container has the same name: not this trigger's",
         lambda: blob_created_event(put(twin, f"{folder}/upload.csv"))),
        ("an event that never means new content (BlobTierChanged): ignored", other_type),
    ]


def run_tour(azurite: Azurite, deliver: Deliver, say: Say) -> None:
    landing, twin = created_containers(azurite)
    say(f"event tour: trigger {TOUR_TRIGGER!r} watches {TOUR_CONTAINER}/{TOUR_FOLDER} in account {ACCOUNT!r}")
    for label, make in steps(landing, twin):
        say(f"event tour: {label}")
        try:
            deliver(make())
        except Exception as error:  # the host logs it; Event Grid would deliver the event again
            say(f"event tour: the delivery raised {type(error).__name__}: {error}")
