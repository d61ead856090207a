"""Latency versus the alternatives: how long from a blob's upload until the pipeline service gets the POST.

Measured here, for the event path: upload the blob (real Azurite), build the event Event Grid would send from
the blob's properties (one GET, standing in for Event Grid's own delivery, whose delay cannot be measured
locally), call `blob_trigger.main`, stop when the stand-in receives the POST. Baseline in the same run: the
upload alone. The polling alternatives are not run: their latency is set by their polling interval, taken
from their documentation (sources below); the worst case is one interval, a blob waits half of one on average.
"""

from __future__ import annotations

import time

from azure.storage.blob import ContainerClient

from bench.harness import Services, parse_run, percentiles, ratio, report
from tests.support.host import FunctionApp, blob_created_event, load_function
from tests.support.triggers import watch_trigger

SAMPLES = {"smoke": (3, 5), "full": (20, 200)}  # warm-up, measured
MINUTE = 60.0
POLLING = [  # (path, interval in seconds, where the interval comes from)
    ("this bridge: timer_trigger polling sweep", 5 * MINUTE,
     "the trigger's `watch.polling_interval` (default 5 minutes, 1 to 1440; README, Configuration)"),
    ("Logic Apps: When a blob is added or modified (properties only)", 3 * MINUTE,
     "polling trigger; the interval is the workflow's recurrence, which the designer defaults to 3 minutes for "
     "Consumption (maintainer, github.com/Azure/LogicAppsUX/issues/3976); the connector may also postpone new "
     "blobs to a later run (learn.microsoft.com/connectors/azureblob, known issues)"),
    ("Azure ML change-based Schedule (datastore polling)", 5 * MINUTE,
     "`Schedule.create(..., polling_interval=5)`: polls every polling_interval minutes, default 5 "
     "(docs/services.md, Schedules)"),
]


def sample(services: Services, container: ContainerClient, function: FunctionApp, index: int) -> tuple[float, float]:
    """(upload -> POST received, upload alone) in seconds."""
    blob = container.get_blob_client(f"latency-{index:05d}.csv")
    seen = len(services.standin.requests)
    started = time.monotonic()
    blob.upload_blob(b"a,b\n1,2\n")
    uploaded = time.monotonic()
    function.invoke(blob_created_event(blob))
    return services.standin.requests[seen].at - started, uploaded - started


def main() -> None:
    run = parse_run("latency", __doc__)
    warmup, measured = SAMPLES[run.size]
    with Services() as services:
        container = services.new_container("latency")
        services.set_triggers([watch_trigger("landing", container.container_name,
                                             services.standin.published_pipeline_url())])
        function = load_function("blob_trigger")
        samples = [sample(services, container, function, index) for index in range(warmup + measured)][warmup:]
    event_path = percentiles([s[0] for s in samples])
    upload = percentiles([s[1] for s in samples])
    figures = {
        "samples": measured,
        "event_path_ms": event_path,
        "upload_alone_ms": upload,
        "ratio_to_upload_p50": ratio(event_path["p50"], upload["p50"]),
        "polling": [{"path": path, "worst_case_s": interval, "average_s": interval / 2, "source": source,
                     "worst_case_vs_event_p95": round(interval * 1000 / event_path["p95"])}
                    for path, interval, source in POLLING],
    }
    report(run, figures, [])


if __name__ == "__main__":
    main()
