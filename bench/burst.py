"""Burst: 1,000 blobs appear at once, the stand-in answers each POST after 50 ms, and the sweep submits them.

Ideal: blobs x 50 ms / concurrency (`PIPELINE_SWEEP_CONCURRENCY`, default 8), i.e. 6.25 s for 1,000.
Target: the sweep that finds them takes <= 1.5x the ideal, and no blob is submitted twice: a backfill (which
fires every blob older than the watermark through the ledger again) and a replay of blobs' events through
`blob_trigger` add no run.

Baseline, paired in each round: the raw round trips (conditional create + POST; one write fewer than the
bridge, which also records the run) for as many blobs on as many threads against the same stalling stand-in,
the floor this machine allows at that concurrency. Each round has its own Azurite (its per-write cost grows
with the blobs it holds) and alternates which side goes first.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.storage.blob import ContainerClient

from bench.harness import Services, Target, parse_run, ratio, report, upload_many
from bench.raw import BridgeRequest, RawRoundTrips
from shared.backfill import backfill
from shared.runtime import current_runtime
from shared.settings import float_setting
from shared.sweep import sweep_trigger
from shared.sweep_report import SweepReport
from tests.support.host import blob_created_event, load_function
from tests.support.standin import Fault, PipelineStandIn
from tests.support.triggers import watch_trigger

SIZES = {"smoke": (40, 10, 2), "full": (1000, 100, 3)}  # blobs, events replayed per round, rounds
STALL_SECONDS = 0.05
TRIGGER = "burst"


def raw_floor(services: Services, like: BridgeRequest, blobs: int, concurrency: int) -> float:
    """Seconds for `blobs` raw round trips on `concurrency` threads, each with its own connections."""
    local = threading.local()

    def one(_: int) -> None:
        if not hasattr(local, "raw"):
            local.raw = RawRoundTrips(services, like)
        local.raw.once()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency)))  # connections and tokens first: not part of the floor
        started = time.perf_counter()
        list(pool.map(one, range(blobs)))
        return time.perf_counter() - started


def burst_sweep() -> tuple[float, SweepReport]:
    runtime = current_runtime()
    started = time.perf_counter()
    result = sweep_trigger(runtime.config.trigger(TRIGGER), runtime, runtime.state, force=True)
    return time.perf_counter() - started, result


def backfill_all() -> SweepReport:
    """Every blob older than the watermark, fired again: each must be refused by the ledger."""
    runtime = current_runtime()
    return backfill(runtime.config.trigger(TRIGGER), runtime, runtime.state)


def runs_per_blob(standin: PipelineStandIn) -> Counter[str]:
    return Counter(run.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for run in standin.runs)


def replay_events(container: ContainerClient, names: list[str]) -> None:
    function = load_function("blob_trigger")
    for name in names:
        function.invoke(blob_created_event(container.get_blob_client(name)))


def one_round(blobs: int, replayed: int, concurrency: int, floor_first: bool) -> dict[str, Any]:
    with Services() as services:
        container = services.new_container("burst")
        services.set_triggers([watch_trigger(TRIGGER, container.container_name,
                                             services.standin.published_pipeline_url())])
        burst_sweep()  # arms: from now on, new blobs count
        names = [f"burst-{index:05d}.csv" for index in range(blobs)]
        upload_many(container, [*names, "warm-up.csv"], threads=16)
        replay_events(container, ["warm-up.csv"])  # connections, token, and a request for the floor to copy
        like = BridgeRequest.latest(services)
        services.standin.fault_hook = lambda request: Fault(stall=STALL_SECONDS)  # no status: answers normally
        floor = raw_floor(services, like, blobs, concurrency) if floor_first else 0.0
        seconds, first = burst_sweep()
        floor = floor or raw_floor(services, like, blobs, concurrency)
        again = backfill_all()
        replay_events(container, names[:replayed])
        per_blob = runs_per_blob(services.standin)
    if first.outcomes["submitted"] != blobs or not set(names) <= set(per_blob):
        raise RuntimeError(f"not every blob was submitted: {first.summary()}")
    return {"sweep_s": round(seconds, 2), "raw_floor_s": round(floor, 2), "backfill": dict(again.outcomes),
            "duplicates": sum(per_blob[name] - 1 for name in names)}  # the floor's POSTs copy the warm-up


def main() -> None:
    run = parse_run("burst", __doc__)
    blobs, replayed, rounds = SIZES[run.size]
    concurrency = int(float_setting("PIPELINE_SWEEP_CONCURRENCY", 8))
    results = [one_round(blobs, replayed, concurrency, floor_first=index % 2 == 0) for index in range(rounds)]
    ideal = blobs * STALL_SECONDS / concurrency
    sweep = statistics.median(result["sweep_s"] for result in results)
    figures = {
        "blobs": blobs, "stall_ms": STALL_SECONDS * 1000, "concurrency": concurrency, "rounds": results,
        "ideal_s": round(ideal, 2), "sweep_s": sweep,
        "raw_floor_s": statistics.median(result["raw_floor_s"] for result in results),
        "ratio_vs_ideal": ratio(sweep, ideal),
        "ratio_vs_raw_floor": statistics.median(ratio(r["sweep_s"], r["raw_floor_s"]) for r in results),
        "events_replayed_per_round": replayed,
        "duplicates": sum(result["duplicates"] for result in results),
    }
    report(run, figures, [Target("burst_ratio_vs_ideal", figures["ratio_vs_ideal"], 1.5),
                          Target("burst_duplicates", figures["duplicates"], 0)])


if __name__ == "__main__":
    main()
