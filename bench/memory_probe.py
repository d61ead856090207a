"""Peak memory of one sweep, or of one bare delimiter listing, in a fresh process.

A separate process, so its peak RSS belongs to that one operation (plus the imports, the same for both);
tracemalloc, started after the imports, adds the peak of what the operation itself allocated. The peak is
`VmHWM` from /proc, not `getrusage().ru_maxrss`: Linux carries the parent's high-water mark into a child's
`ru_maxrss` at exec, so a child of a 250 MiB benchmark would report at least 250 MiB whatever it did.
Usage (settings from the environment, as the benchmark sets them):
`python -m bench.memory_probe sweep <trigger>` or `python -m bench.memory_probe listing <container>`.
"""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path

from shared.runtime import current_runtime
from shared.settings import float_setting
from shared.storage import blob_service
from shared.sweep import sweep_trigger


def sweep(trigger_name: str) -> int:
    runtime = current_runtime()
    return sweep_trigger(runtime.config.trigger(trigger_name), runtime, runtime.state, force=True).listed


def listing(container_name: str) -> int:
    container = blob_service("AzureWebJobsStorage").get_container_client(container_name)
    pages = container.walk_blobs(delimiter="/", results_per_page=int(float_setting("PIPELINE_SWEEP_PAGE_SIZE", 5000)))
    return sum(1 for page in pages.by_page() for _ in page)


def main() -> None:
    operation, name = sys.argv[1], sys.argv[2]
    tracemalloc.start()
    items = {"sweep": sweep, "listing": listing}[operation](name)
    traced_peak = tracemalloc.get_traced_memory()[1]
    status = Path("/proc/self/status").read_text().splitlines()
    peak_rss_kib = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    print(json.dumps({"items": items, "peak_rss_mib": round(peak_rss_kib / 1024, 1),
                      "traced_peak_mib": round(traced_peak / 2**20, 2)}))


if __name__ == "__main__":
    main()
