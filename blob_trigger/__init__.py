"""Event Grid `BlobCreated` -> pipeline runs. Thin: adapts the trigger input, `shared` does the work."""

import azure.functions as func

from shared.event_path import handle_blob_event


def main(event: func.EventGridEvent) -> None:
    handle_blob_event(event.id, event.event_type, event.subject, event.get_json())
