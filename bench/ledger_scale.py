"""Ledger scale: `history --limit 50` and `replay <key>` over ledgers of 10,000 and 100,000 entries, each as
the operator runs it (a fresh `python -m shared` process), against one bare listing of the ledger in a fresh
process (smoke: 20 and 200, no warm-up round).

Each size gets its own Azurite, its ledger seeded into the database (`bench.seeding`: uploads cost
O(blobs held) in Azurite) with the records' index metadata as `Ledger._write` stores it, spread over three
triggers and 30 days; the failed entries replayed are written through the ledger itself, with their stored
requests. The three commands alternate, first round discarded. Targets: each within 2x of the listing, and
their growth from the small to the large ledger no more than the listing's own (flat apart from it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.harness import REPO_ROOT, Run, Services, Target, milliseconds, parse_run, ratio, report
from bench.seeding import seeded_azurite
from shared.clock import iso
from shared.dispatch import build_request
from shared.firing import BlobVersion
from shared.ledger import SUBMITTED, LedgerEntry, entry_key
from shared.ledger_index import index_metadata
from shared.runtime import current_runtime
from tests.support.triggers import watch_trigger

SIZES = {"smoke": ((20, 200), 1), "full": ((10_000, 100_000), 2)}  # ledger entries, repetitions
TRIGGERS = ("landing", "scoring", "archive")
LEDGER = "ledger-scale"
SPREAD = timedelta(days=30)
LISTING = ("import os, sys\n"
           "from azure.storage.blob import ContainerClient\n"
           "c = ContainerClient.from_connection_string(os.environ['AzureWebJobsStorage'], sys.argv[1])\n"
           "print(sum(1 for _ in c.list_blobs(name_starts_with='runs/', results_per_page=5000)))\n")


def seeded_entries(count: int, now: datetime) -> tuple[list[str], list[dict[str, str]]]:
    """Names and index metadata of `count` submitted records, newest at `now`, oldest `SPREAD` ago."""
    names, metadata = [], []
    for index in range(count):
        trigger = TRIGGERS[index % len(TRIGGERS)]
        blob = BlobVersion("uploads", f"incoming/file-{index:07d}.csv", f"0x8DD{index:013X}")
        written = iso(now - SPREAD * (index / count))
        entry = LedgerEntry(key=entry_key(trigger, blob), trigger=trigger, state=SUBMITTED, firing=blob.describe(),
                            created_at=written, updated_at=written, attempts=1, run_id=uuid.uuid4().hex)
        names.append(entry.blob_name)
        metadata.append(index_metadata(entry))
    return names, metadata


def failed_entries(count: int) -> list[str]:
    """Failed entries written through the ledger, with the request a replay sends again: their keys."""
    runtime = current_runtime()
    trigger = runtime.config.trigger(TRIGGERS[0])
    keys = []
    for index in range(count):
        blob = BlobVersion("uploads", f"incoming/failed-{index}.csv", f"0x8DE{index:013X}")
        request = build_request(trigger, blob)
        claim = runtime.ledger.claim(trigger.name, blob, request.to_json())
        assert not hasattr(claim, "reason"), claim
        runtime.ledger.record_failure(claim, {"status": 404, "code": "NotFound", "message": "fixed since"},  # type: ignore[arg-type]
                                      retryable=False)
        keys.append(claim.entry.key)  # type: ignore[union-attr]
    return keys


def fresh_process(arguments: list[str]) -> float:
    """Wall seconds of one command in a fresh interpreter, as an operator types it."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], cwd=REPO_ROOT, env=dict(os.environ), capture_output=True,
                          text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{arguments} failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-2000:]}")
    return elapsed


def measure(count: int, repetitions: int, warmup: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    names, metadata = seeded_entries(count, now - timedelta(minutes=5))
    with Services(seeded_azurite(LEDGER, names, now - timedelta(minutes=5), metadata)) as services:
        os.environ["PIPELINE_LEDGER_CONTAINER"] = LEDGER
        os.environ["PIPELINE_STORAGE_READ_TIMEOUT_SECONDS"] = "600"  # Azurite pages 100k records slowly
        url = services.standin.published_pipeline_url()
        services.set_triggers([watch_trigger(name, "uploads", url) for name in TRIGGERS])
        replayable = iter(failed_entries(repetitions + warmup))
        commands = {
            "listing": lambda: fresh_process(["-c", LISTING, LEDGER]),
            "history": lambda: fresh_process(["-m", "shared", "history", "--limit", "50"]),
            "replay": lambda: fresh_process(["-m", "shared", "replay", next(replayable)[:12], "--yes"]),
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for index in range(repetitions + warmup):  # a warm-up round (Azurite's caches) is not kept
            for name in sorted(commands, reverse=bool(index % 2)):
                elapsed = commands[name]()
                if index >= warmup:
                    samples[name].append(elapsed)
        replayed = len(services.standin.runs)
    if replayed != repetitions + warmup:
        raise RuntimeError(f"{replayed} replays reached the service, expected {repetitions + warmup}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {"entries": count + repetitions + warmup, **{f"{name}_ms": milliseconds(v) for name, v in medians.items()},
            "history_ratio": ratio(medians["history"], medians["listing"]),
            "replay_ratio": ratio(medians["replay"], medians["listing"])}


def main() -> None:
    run: Run = parse_run("ledger_scale", __doc__)
    (small_count, large_count), repetitions = SIZES[run.size]
    warmup = 1 if run.full else 0
    small, large = (measure(count, repetitions, warmup) for count in (small_count, large_count))
    growth = {name: ratio(large[f"{name}_ms"], small[f"{name}_ms"]) for name in ("listing", "history", "replay")}
    figures = {"repetitions": repetitions, "variants": [small, large], "growth": growth}
    report(run, figures, [
        Target("history_ratio_small", small["history_ratio"], 2.0),
        Target("history_ratio_large", large["history_ratio"], 2.0),
        Target("replay_ratio_small", small["replay_ratio"], 2.0),
        Target("replay_ratio_large", large["replay_ratio"], 2.0),
        Target("history_growth_vs_listing", ratio(growth["history"], growth["listing"]), 1.2),
        Target("replay_growth_vs_listing", ratio(growth["replay"], growth["listing"]), 1.2),
    ])


if __name__ == "__main__":
    main()
