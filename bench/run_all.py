"""Every benchmark, each in its own fresh process (and its own Azurite), then the README tables.

`python -m bench` (or `python -m bench.run_all [--size smoke|full]`); the tables also go to
`bench/results/performance.md`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from bench.harness import REPO_ROOT, RESULTS_DIR, SIZES
from bench.table import BENCHES, render


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    failed = []
    for name in BENCHES:
        command = [sys.executable, "-m", f"bench.{name}", "--size", args.size, "--results-dir", str(args.results_dir)]
        if subprocess.run(command, cwd=REPO_ROOT).returncode != 0:
            failed.append(name)
    table = render(args.results_dir)
    (args.results_dir / "performance.md").write_text(table + "\n")
    print("\n" + table)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
