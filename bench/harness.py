"""Shared plumbing for the benchmarks: arguments, the local services, figures and their JSON summary.

The services are the test bed's own (`tests/support`), so a benchmark measures the same code paths the
tests exercise, against the same real Azurite and the real azure-identity.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient

from tests.support.azurite import REPO_ROOT, Azurite
from tests.support.identity import IdentityEndpoint
from tests.support.standin import PipelineStandIn

RESULTS_DIR = REPO_ROOT / "bench" / "results"
SIZES = ("smoke", "full")
# Settings that would make azure-identity choose another credential than the local identity endpoint.
FOREIGN_IDENTITY = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE",
                    "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "PIPELINE_TRIGGERS_FILE")


@dataclass(frozen=True)
class Run:
    name: str
    size: str
    results_dir: Path
    profile: bool = False

    @property
    def full(self) -> bool:
        return self.size == "full"


def parse_run(name: str, description: str | None, *, profiling: bool = False) -> Run:
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    parser.add_argument("--size", choices=SIZES, default="full", help="smoke: seconds, for CI; full: the figures")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON summary goes")
    if profiling:
        parser.add_argument("--profile", action="store_true", help="also profile the bridge with cProfile")
    args = parser.parse_args()
    return Run(name, args.size, args.results_dir, getattr(args, "profile", False))


@dataclass(frozen=True)
class Target:
    """A figure and the limit the issue sets for it (figures are ratios, so lower is better)."""

    name: str
    value: float
    limit: float

    @property
    def met(self) -> bool:
        return self.value <= self.limit


def milliseconds(seconds: float) -> float:
    return round(seconds * 1000, 2)


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (inclusive method: defined for small smoke samples too)."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": milliseconds(cuts[49]), "p95": milliseconds(cuts[94]), "p99": milliseconds(cuts[98])}


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 2)


def command_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, str]:
    """What the figures came from: they only mean something beside this."""
    memory = next((line.split()[1] for line in command_output(["free", "-h"]).splitlines()
                   if line.startswith("Mem:")), "unknown")
    cpu = next((line.partition(":")[2].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    azurite = json.loads((REPO_ROOT / "node_modules" / "azurite" / "package.json").read_text())["version"]
    return {"nproc": str(len(os.sched_getaffinity(0))), "memory": memory, "cpu": cpu,
            "python": platform.python_version(), "node": command_output(["node", "--version"]).strip(),
            "azurite": azurite, "os": platform.platform()}


def write_summary(run: Run, figures: dict[str, Any], targets: Iterable[Target]) -> Path:
    run.results_dir.mkdir(parents=True, exist_ok=True)
    path = run.results_dir / f"{run.name}.json"
    summary = {"bench": run.name, "size": run.size, "machine": machine(), "figures": figures,
               "targets": {t.name: {**asdict(t), "met": t.met} for t in targets}}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def report(run: Run, figures: dict[str, Any], targets: Sequence[Target]) -> None:
    """Print the figures and targets, and write the JSON summary."""
    print(f"\n== {run.name} ({run.size}) ==")
    for key, value in figures.items():
        print(f"  {key}: {json.dumps(value)}")
    for target in targets:
        verdict = "met" if target.met else "MISSED"
        print(f"  target {target.name}: {target.value:g} (limit {target.limit:g}) {verdict}")
    print(f"  summary: {write_summary(run, figures, targets)}")


def route_decision_logs() -> None:
    """Format every decision line as the host would, but write it nowhere: its cost counts, not its noise."""
    logger = logging.getLogger("pipeline_bridge")
    if not logger.handlers:
        sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
        sink.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(sink)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class Services:
    """Azurite, the identity endpoint and the pipeline stand-in, with the app settings pointing at them.

    Pass an `Azurite` that is not started yet to prepare its folder first (see `bench.seeding`).
    """

    def __init__(self, azurite: Azurite | None = None) -> None:
        self.azurite = azurite or Azurite()
        self.identity = IdentityEndpoint()
        self.standin = PipelineStandIn(self.identity)
        self.ledger_container = f"ledger-{uuid.uuid4().hex[:12]}"
        self._saved_environment: dict[str, str] = {}

    def __enter__(self) -> Services:
        self.azurite.start()
        for server in (self.identity.server, self.standin.server):
            server.start()
        self._saved_environment = dict(os.environ)
        for name in FOREIGN_IDENTITY:
            os.environ.pop(name, None)
        os.environ.update({"AzureWebJobsStorage": self.azurite.connection_string,
                           "PIPELINE_LEDGER_CONTAINER": self.ledger_container,
                           **self.identity.environment()})
        route_decision_logs()
        return self

    def __exit__(self, *_: object) -> None:
        os.environ.clear()
        os.environ.update(self._saved_environment)
        self.standin.stop()
        self.identity.stop()
        self.azurite.stop()

    @property
    def blob_service(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.azurite.connection_string)

    def ledger(self) -> ContainerClient:
        return self.blob_service.get_container_client(self.ledger_container)

    def new_container(self, prefix: str) -> ContainerClient:
        container = self.blob_service.get_container_client(f"{prefix}-{uuid.uuid4().hex[:8]}")
        container.create_container()
        return container

    def set_triggers(self, triggers: list[dict[str, Any]]) -> None:
        os.environ["PIPELINE_TRIGGERS"] = json.dumps(triggers)


def upload_many(container: ContainerClient, names: Sequence[str], data: bytes = b"a,b\n1,2\n",
                threads: int = 8) -> None:
    """Upload concurrently: setup time is not what is measured."""
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda name: container.get_blob_client(name).upload_blob(data, overwrite=True), names))
