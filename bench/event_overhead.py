"""Event overhead: `blob_trigger.main` from call to POST received, in a warm process.

Baseline, measured interleaved with the bridge in the same run: the round trips one event needs, done with
raw `requests` and nothing else: a properties read (`HEAD`) of the blob, which tells a stale event from a
current one, a conditional blob create (`If-None-Match: *`) on the same Azurite, then a POST of the same body
to the same stand-in. A second baseline leaves out the read, to show what the read costs. All end when the
stand-in receives the POST. Targets: p50 <= 2x baseline, p99 <= 4x.

`--profile` adds a cProfile of the bridge (top functions printed, `.prof` saved beside the summary).
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
import requests
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from azure.storage.blob import ContainerClient

from bench.harness import Run, Services, Target, parse_run, percentiles, ratio, report, upload_many
from bench.raw import BridgeRequest, RawRoundTrips
from tests.support.host import FunctionApp, HostContext, blob_created_event, load_function
from tests.support.triggers import watch_trigger

SIZES = {"smoke": (5, 20, 10), "full": (50, 1000, 200)}  # warm-up, measured and profiled events
Sample = tuple[float, float]  # seconds from the call to the POST received, and to the return


def grid_events(container: ContainerClient, count: int) -> Iterator[func.EventGridEvent]:
    """Real blobs, and the events Event Grid would deliver for them, decoded as the host decodes them."""
    names = [f"event-{index:05d}.csv" for index in range(count)]
    upload_many(container, names)
    with ThreadPoolExecutor(8) as pool:
        payloads = list(pool.map(lambda name: blob_created_event(container.get_blob_client(name)), names))
    for payload in payloads:
        yield EventGridEventInConverter.decode(meta.Datum(json.dumps(payload), "json"), trigger_metadata={})


class Bridge:
    """Calls `main` like the host and reads when the stand-in received the POST."""

    def __init__(self, services: Services, function: FunctionApp, events: Iterator[func.EventGridEvent]) -> None:
        self.requests = services.standin.requests
        self.call = function.module.main
        self.argument = function.trigger["name"]
        self.events = events

    def once(self) -> Sample:
        seen = len(self.requests)
        arguments = {self.argument: next(self.events), "context": HostContext("blob_trigger")}
        started = time.monotonic()
        self.call(**arguments)
        finished = time.monotonic()
        if len(self.requests) <= seen:
            raise RuntimeError("the bridge returned without posting: the event was not submitted")
        return self.requests[seen].at - started, finished - started


@contextmanager
def counting_round_trips() -> Iterator[Counter[int]]:
    """Count HTTP requests by destination port (storage, identity, pipeline) while the block runs."""
    counts: Counter[int] = Counter()
    original = requests.Session.send

    def send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        counts[urlsplit(request.url).port or 0] += 1
        return original(session, request, **kwargs)

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        requests.Session.send = original  # type: ignore[method-assign]


def round_trips_per_event(services: Services, bridge: Bridge, events: int) -> dict[str, float]:
    names = {services.azurite.blob_port: "storage", services.identity.server.port: "identity",
             services.standin.server.port: "pipeline"}
    with counting_round_trips() as counts:
        for _ in range(events):
            bridge.once()
    return {names.get(port, str(port)): round(count / events, 2) for port, count in counts.items()}


def interleaved(sides: dict[str, Callable[[], Sample]], count: int) -> dict[str, list[Sample]]:
    """Alternate the sides, and which goes first, so the machine's drift and noise hit both alike."""
    samples: dict[str, list[Sample]] = {name: [] for name in sides}
    for index in range(count):
        for name in sorted(sides, reverse=bool(index % 2)):
            samples[name].append(sides[name]())
    return samples


def profile(run: Run, once: Callable[[], object], events: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(events):
        once()
    profiler.disable()
    run.results_dir.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(run.results_dir / f"{run.name}.prof")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
    return text.getvalue()


def main() -> None:
    run = parse_run("event_overhead", __doc__, profiling=True)
    warmup, measured, profiled = SIZES[run.size]
    with Services() as services:
        container = services.new_container("events")
        services.set_triggers([watch_trigger("landing", container.container_name,
                                             services.standin.published_pipeline_url())])
        events = grid_events(container, warmup + measured + 20 + (profiled if run.profile else 0))
        bridge = Bridge(services, load_function("blob_trigger"), events)
        for _ in range(warmup):
            bridge.once()
        like = BridgeRequest.latest(services)
        baseline, without_read = RawRoundTrips(services, like, read_first=container), RawRoundTrips(services, like)
        for _ in range(warmup):
            baseline.once()
            without_read.once()
        samples = interleaved({"bridge": bridge.once, "baseline": baseline.once,
                               "baseline_without_read": without_read.once}, measured)
        anatomy = round_trips_per_event(services, bridge, 20)
        profile_text = profile(run, bridge.once, profiled) if run.profile else None
    figures = summarise(measured, samples, anatomy)
    report(run, figures, [Target("event_p50_ratio", figures["ratio"]["p50"], 2.0),
                          Target("event_p99_ratio", figures["ratio"]["p99"], 4.0)])
    if profile_text:
        print(profile_text)


def summarise(measured: int, samples: dict[str, list[Sample]],
              anatomy: dict[str, float]) -> dict[str, Any]:
    to_post = {name: percentiles([s[0] for s in values]) for name, values in samples.items()}
    to_return = {name: percentiles([s[1] for s in values]) for name, values in samples.items()}
    return {
        "events": measured,
        "bridge_to_post_ms": to_post["bridge"],
        "baseline_to_post_ms": to_post["baseline"],
        "baseline_without_read_to_post_ms": to_post["baseline_without_read"],
        "ratio": {key: ratio(to_post["bridge"][key], to_post["baseline"][key]) for key in to_post["bridge"]},
        "ratio_to_baseline_without_read": {key: ratio(to_post["bridge"][key], to_post["baseline_without_read"][key])
                                           for key in to_post["bridge"]},
        "bridge_call_to_return_ms": to_return["bridge"],
        "baseline_to_response_ms": to_return["baseline"],
        "round_trips_per_event": anatomy,
    }


if __name__ == "__main__":
    main()
