"""The README "Performance" tables, rendered from the JSON summaries in `bench/results/`.

`python -m bench.table [results-dir]` re-renders them without running anything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.harness import RESULTS_DIR

BENCHES = ("event_overhead", "cold_start", "sweep_scale", "burst", "latency", "ledger_scale")
Row = tuple[str, str, str, str, str]


def load(results_dir: Path) -> dict[str, dict[str, Any]]:
    return {name: json.loads((results_dir / f"{name}.json").read_text()) for name in BENCHES
            if (results_dir / f"{name}.json").exists()}


def verdict(summary: dict[str, Any], target: str) -> str:
    found = summary["targets"][target]
    return f"≤ {found['limit']:g}x {'met' if found['met'] else '**missed**'}"


def event_rows(summary: dict[str, Any]) -> list[Row]:
    f = summary["figures"]
    bridge, raw = f["bridge_to_post_ms"], f["baseline_to_post_ms"]
    label = f"Event overhead, {f['events']:,} events, call → POST received"
    rows = [(f"{label}, {key}", f"{bridge[key]:.1f} ms", f"{raw[key]:.1f} ms", f"{f['ratio'][key]:.2f}x",
             verdict(summary, f"event_{key}_ratio") if f"event_{key}_ratio" in summary["targets"] else "-")
            for key in ("p50", "p95", "p99")]
    if "baseline_without_read_to_post_ms" in f:  # what the stale-event check (one properties read) costs
        rows.append((f"{label}, p50, against a floor without the properties read", f"{bridge['p50']:.1f} ms",
                     f"{f['baseline_without_read_to_post_ms']['p50']:.1f} ms",
                     f"{f['ratio_to_baseline_without_read']['p50']:.2f}x", "-"))
    return rows


def cold_rows(summary: dict[str, Any]) -> list[Row]:
    f = summary["figures"]
    medians = f["median_ms"]
    return [(f"Cold start: fresh interpreter to first event handled (median of {f['repetitions']})",
             f"{medians['bridge_first_event']:.0f} ms", f"{medians['sdk_imports']:.0f} ms",
             f"{f['ratio']:.2f}x", verdict(summary, "cold_start_ratio"))]


def sweep_rows(summary: dict[str, Any]) -> list[Row]:
    f = summary["figures"]
    small, large = f["variants"]
    rows = [(f"Sweep, nothing new: {f['top_level_blobs']:,} top-level + {v['subfolder_blobs']:,} in subfolders",
             f"{v['sweep_wall_ms'] / 1000:.2f} s", f"{v['listing_wall_ms'] / 1000:.2f} s", f"{v['ratio']:.2f}x",
             verdict(summary, f"sweep_ratio_{size}")) for size, v in (("small", small), ("large", large))]
    growth = f["growth_10x"]
    rows.append(("Sweep time when subfolders grow 10x (client CPU in brackets)",
                 f"{growth['sweep_wall_ms']:.2f}x ({growth['sweep_client_cpu_ms']:.2f}x)",
                 f"{growth['listing_wall_ms']:.2f}x ({growth['listing_client_cpu_ms']:.2f}x)", "-",
                 verdict(summary, "sweep_wall_growth_10x")))
    rows.append(("Sweep peak RSS (fresh process), 5k → 50k in subfolders",
                 f"{small['sweep_peak_rss_mib']:.0f} → {large['sweep_peak_rss_mib']:.0f} MiB",
                 f"{small['listing_peak_rss_mib']:.0f} → {large['listing_peak_rss_mib']:.0f} MiB",
                 f"{growth['sweep_peak_rss_mib']:.2f}x", verdict(summary, "sweep_peak_rss_growth_10x")))
    return rows


def burst_rows(summary: dict[str, Any]) -> list[Row]:
    f = summary["figures"]
    return [
        (f"Burst: {f['blobs']:,} blobs through the sweep, service answers in {f['stall_ms']:.0f} ms, "
         f"concurrency {f['concurrency']} (median of {len(f['rounds'])})",
         f"{f['sweep_s']:.2f} s", f"{f['ideal_s']:.2f} s ideal; raw floor {f['raw_floor_s']:.2f} s",
         f"{f['ratio_vs_ideal']:.2f}x ideal ({f['ratio_vs_raw_floor']:.2f}x floor)",
         verdict(summary, "burst_ratio_vs_ideal")),
        ("Burst: runs submitted twice (after a backfill and replayed events)", str(f["duplicates"]), "0", "-",
         "0 " + ("met" if f["duplicates"] == 0 else "**missed**")),
    ]


def ledger_rows(summary: dict[str, Any]) -> list[Row]:
    f = summary["figures"]
    rows = [(f"`{command}`, fresh process, ledger of {v['entries']:,} entries", f"{v[f'{name}_ms'] / 1000:.2f} s",
             f"{v['listing_ms'] / 1000:.2f} s one listing", f"{v[f'{name}_ratio']:.2f}x",
             verdict(summary, f"{name}_ratio_{size}"))
            for name, command in (("history", "history --limit 50"), ("replay", "replay <key>"))
            for size, v in zip(("small", "large"), f["variants"], strict=True)]
    small, large = (f"{v['entries']:,}" for v in f["variants"])
    rows += [(f"`{command}` growth, {small} → {large} entries", f"{f['growth'][name]:.2f}x",
              f"{f['growth']['listing']:.2f}x (the listing)", "-",
              verdict(summary, f"{name}_growth_vs_listing").replace("x", "x the listing's", 1))
             for name, command in (("history", "history"), ("replay", "replay"))]
    return rows


def latency_lines(summary: dict[str, Any]) -> list[str]:
    f = summary["figures"]
    event = f["event_path_ms"]
    lines = ["| path | upload → pipeline POST | figure |", "|---|---|---|",
             f"| this bridge: `blob_trigger` (Event Grid) | p50 {event['p50'] / 1000:.3f} s, p95 "
             f"{event['p95'] / 1000:.3f} s, in the harness; add Event Grid's delivery in Azure | measured "
             f"({f['samples']} uploads) |"]
    lines += [f"| {p['path']} | up to {p['worst_case_s'] / 60:g} min, {p['average_s'] / 60:g} min on average | "
              f"documented: {p['source']} |" for p in f["polling"]]
    return lines


def render(results_dir: Path = RESULTS_DIR) -> str:
    summaries = load(results_dir)
    builders = {"event_overhead": event_rows, "cold_start": cold_rows, "sweep_scale": sweep_rows,
                "burst": burst_rows, "ledger_scale": ledger_rows}
    rows = [row for name, build in builders.items() if name in summaries for row in build(summaries[name])]
    lines = ["| measurement | bridge | baseline, same run | ratio | target |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if "latency" in summaries:
        lines += ["", *latency_lines(summaries["latency"])]
    if summaries:
        machine = next(iter(summaries.values()))["machine"]
        lines += ["", f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM, "
                      f"Python {machine['python']}, Node {machine['node']}, Azurite {machine['azurite']}, "
                      f"{machine['os']}; sizes: {', '.join(sorted({s['size'] for s in summaries.values()}))}."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS_DIR))
