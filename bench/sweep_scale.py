"""Sweep scale: a polling sweep that finds nothing new, versus a bare delimiter listing of the same folder.

A container with 10,000 top-level blobs and 5,000, then 50,000, blobs in 50 subfolders (the same folders,
ten times fuller; smoke: 100 and 50/500). Each variant gets its own Azurite, seeded (`bench.seeding`), the
trigger is armed, then sweeps and bare listings alternate. For each: median wall time, the client's CPU
time (this process) and Azurite's CPU time, so growth can be told apart: the server's or the bridge's.
Peak memory of one sweep and one listing is taken in fresh processes (`bench.memory_probe`).
Targets: sweep <= 1.3x the listing; sweep time and peak RSS flat (<= 1.2x, 1.1x) when subfolders grow 10x.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.storage.blob import ContainerClient

from bench.harness import REPO_ROOT, Run, Services, Target, milliseconds, parse_run, ratio, report
from bench.seeding import seeded_azurite
from shared.runtime import current_runtime
from shared.sweep import sweep_trigger
from tests.support.triggers import watch_trigger

SIZES = {"smoke": (100, (50, 500), 2), "full": (10_000, (5_000, 50_000), 3)}  # top level, subfolders, repetitions
SUBFOLDERS = 50
CONTAINER = "landing"
TRIGGER = "scale"
PAGE_SIZE = 5000  # the sweep's default `PIPELINE_SWEEP_PAGE_SIZE`; the listing uses the same


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Azurite), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ = 100 on Linux)


def timed(operation: Callable[[], None], server_pid: int) -> tuple[float, float, float]:
    """(wall, client CPU, server CPU) seconds of one operation."""
    wall, client, server = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    operation()
    return time.perf_counter() - wall, time.process_time() - client, cpu_seconds(server_pid) - server


def bare_listing(container: ContainerClient, expected: int) -> Callable[[], None]:
    def list_folder() -> None:
        pages = container.walk_blobs(delimiter="/", results_per_page=PAGE_SIZE).by_page()
        if (count := sum(1 for page in pages for _ in page)) != expected:
            raise RuntimeError(f"listing saw {count} items, expected {expected}")

    return list_folder


def quiet_sweep(top_level: int) -> Callable[[], None]:
    runtime = current_runtime()
    trigger = runtime.config.trigger(TRIGGER)

    def sweep() -> None:
        result = sweep_trigger(trigger, runtime, runtime.state, force=True)
        if result.listed != top_level or result.candidates or result.outcomes:
            raise RuntimeError(f"a sweep with nothing new found something: {result.summary()}")

    return sweep


def memory_probe(operation: str, name: str) -> dict[str, Any]:
    output = subprocess.run([sys.executable, "-m", "bench.memory_probe", operation, name], cwd=REPO_ROOT,
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure_variant(top_level: int, in_subfolders: int, repetitions: int) -> dict[str, Any]:
    names = [f"data-{index:05d}.csv" for index in range(top_level)]
    names += [f"archive-{index % SUBFOLDERS:02d}/part-{index:06d}.csv" for index in range(in_subfolders)]
    with Services(seeded_azurite(CONTAINER, names, datetime.now(UTC) - timedelta(hours=1))) as services:
        services.set_triggers([watch_trigger(TRIGGER, CONTAINER, services.standin.published_pipeline_url())])
        operations = {"sweep": quiet_sweep(top_level),
                      "listing": bare_listing(services.blob_service.get_container_client(CONTAINER),
                                              top_level + min(in_subfolders, SUBFOLDERS))}
        runtime = current_runtime()
        sweep_trigger(runtime.config.trigger(TRIGGER), runtime, runtime.state, force=True)  # arms the trigger
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in operations}
        for index in range(repetitions + 1):  # the first round warms connections and caches: not kept
            for name in sorted(operations, reverse=bool(index % 2)):
                sample = timed(operations[name], services.azurite.process.pid)  # type: ignore[union-attr]
                if index:
                    samples[name].append(sample)
        memory = {"sweep": memory_probe("sweep", TRIGGER), "listing": memory_probe("listing", CONTAINER)}
    medians = {name: [statistics.median(column) for column in zip(*values, strict=True)]
               for name, values in samples.items()}
    return {
        "subfolder_blobs": in_subfolders,
        **{f"{name}_{part}_ms": milliseconds(medians[name][column]) for name in medians
           for column, part in enumerate(("wall", "client_cpu", "azurite_cpu"))},
        "ratio": ratio(medians["sweep"][0], medians["listing"][0]),
        **{f"{name}_peak_rss_mib": memory[name]["peak_rss_mib"] for name in memory},
        **{f"{name}_traced_peak_mib": memory[name]["traced_peak_mib"] for name in memory},
    }


def growth(small: dict[str, Any], large: dict[str, Any], key: str) -> float:
    return ratio(large[key], small[key])


def main() -> None:
    run: Run = parse_run("sweep_scale", __doc__)
    top_level, variants, repetitions = SIZES[run.size]
    small, large = (measure_variant(top_level, count, repetitions) for count in variants)
    figures = {
        "top_level_blobs": top_level,
        "subfolders": SUBFOLDERS,
        "repetitions": repetitions,
        "variants": [small, large],
        "growth_10x": {key: growth(small, large, key) for key in (
            "sweep_wall_ms", "listing_wall_ms", "sweep_client_cpu_ms", "listing_client_cpu_ms",
            "sweep_azurite_cpu_ms", "sweep_peak_rss_mib", "sweep_traced_peak_mib")},
    }
    report(run, figures, [
        Target("sweep_ratio_small", small["ratio"], 1.3),
        Target("sweep_ratio_large", large["ratio"], 1.3),
        Target("sweep_wall_growth_10x", figures["growth_10x"]["sweep_wall_ms"], 1.2),
        Target("sweep_client_cpu_growth_10x", figures["growth_10x"]["sweep_client_cpu_ms"], 1.2),
        Target("sweep_peak_rss_growth_10x", figures["growth_10x"]["sweep_peak_rss_mib"], 1.1),
    ])


if __name__ == "__main__":
    main()
