"""The benchmarks keep working: CI runs them all once, in smoke size, through the command users type.

Not timed tests: no figure is checked against anything (these machines are noisy); only that each benchmark
exits 0 and writes its summary with the figures the README table is built from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.table import BENCHES
from tests.support.azurite import REPO_ROOT

# Six benchmarks, each in fresh processes with its own Azurite: more than the suite's 300 s per test on a loaded
# machine (seconds each when idle).
pytestmark = pytest.mark.timeout(600)

EXPECTED_FIGURES = {
    "event_overhead": {"bridge_to_post_ms", "baseline_to_post_ms", "ratio", "round_trips_per_event"},
    "cold_start": {"median_ms", "ratio", "first_event_ms"},
    "sweep_scale": {"variants", "growth_10x"},
    "burst": {"sweep_s", "raw_floor_s", "ideal_s", "ratio_vs_ideal", "duplicates"},
    "latency": {"event_path_ms", "polling"},
    "ledger_scale": {"variants", "growth"},
}


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("bench-results")
    run = subprocess.run([sys.executable, "-m", "bench.run_all", "--size", "smoke", "--results-dir", str(results)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    return results


def test_every_benchmark_is_smoke_tested() -> None:
    assert set(EXPECTED_FIGURES) == set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_benchmark_writes_its_summary(smoke_results: Path, name: str) -> None:
    summary = json.loads((smoke_results / f"{name}.json").read_text())
    assert (summary["bench"], summary["size"]) == (name, "smoke")
    assert {"machine", "figures", "targets"} <= set(summary)
    assert EXPECTED_FIGURES[name] <= set(summary["figures"])
    assert all({"value", "limit", "met"} <= set(target) for target in summary["targets"].values())


def test_the_readme_table_is_rendered(smoke_results: Path) -> None:
    table = (smoke_results / "performance.md").read_text()
    assert table.startswith("| measurement | bridge | baseline, same run | ratio | target |")
    assert "Machine:" in table
