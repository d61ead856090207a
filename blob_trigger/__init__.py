"""Event Grid storage events -> pipeline runs. Thin: adapts the trigger input, `shared` does the work."""

import azure.functions as func

from shared.event_path import handle_blob_event
from shared.invocation import invocation


def main(event: func.EventGridEvent, context: func.Context) -> None:
    # A subscription in the CloudEvents schema delivers the same event with `type` for `event_type` and
    # `source` for `topic`.
    event_type = getattr(event, "event_type", None) or getattr(event, "type", "")
    topic = getattr(event, "topic", None) or getattr(event, "source", None)
    with invocation(context):
        handle_blob_event(event.id, event_type, event.subject, event.get_json(), topic=topic)
