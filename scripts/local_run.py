"""Run the bridge end to end on this machine, with nothing from Azure: `python scripts/local_run.py`.

It starts Azurite, a local managed-identity endpoint and a stand-in pipeline service that prints what it
receives, then the bridge: `func start` when the Azure Functions Core Tools are on PATH, otherwise a small
runner that invokes the two functions the way the host does. It uploads one file to the root of the
watched container and one into a subfolder, and shows that exactly the root one became a pipeline run; then
an event tour (`scripts/event_tour.py`) prints one example of each event decision.
Ctrl-C stops everything it started. `--once` / `--timeout SECONDS` exit after the check (0 = as expected).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
from scripts.local_prereqs import PrerequisiteError, ensure_prerequisites  # noqa: E402

CONTAINER = "uploads"
TRIGGER = "local-demo"
ROOT_BLOB = "sample-root.csv"
NESTED_BLOB = "archive/sample-nested.csv"
SETTLE_SECONDS = 3.0
DEFAULT_TIMEOUT = 120.0
# Settings from the developer's shell that would point azure-identity or the bridge elsewhere.
FOREIGN_SETTINGS = ("PIPELINE_TRIGGERS_FILE", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID",
                    "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT")


def say(message: str) -> None:
    print(f"[local-run] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python scripts/local_run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true",
                        help=f"exit after the check: 0 when the expected outcome was seen (default timeout "
                             f"{DEFAULT_TIMEOUT:g}s)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="like --once, with this time limit")
    parser.add_argument("--host", choices=("auto", "func", "inprocess"), default="auto",
                        help="func: `func start`; inprocess: the built-in runner; auto: func when it is on PATH")
    parser.add_argument("--no-install", action="store_true",
                        help="do not install missing Python packages or Azurite; say what to run instead")
    args = parser.parse_args(argv)
    args.bounded = args.once or args.timeout is not None
    args.timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    return args


def trigger_config(endpoint: str, tour_endpoint: str) -> list[dict[str, Any]]:
    from scripts.event_tour import tour_trigger

    return [{
        "name": TRIGGER,
        "description": f"files dropped at the root of '{CONTAINER}' start the local stand-in pipeline",
        "watch": {"container": CONTAINER, "polling_interval": 1},
        "pipeline": {"endpoint": endpoint, "experiment_name": TRIGGER,
                     "parameter_assignments": {"input_string": "sample_string3"},
                     "datastore_name": "workspaceblobstore", "data_path_parameter_name": "input_datapath"},
    }, tour_trigger(tour_endpoint)]


def stop_on_sigterm() -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        ensure_prerequisites(allow_install=not args.no_install)
    except PrerequisiteError as error:
        say(f"cannot start: {error}")
        return 2
    stop_on_sigterm()
    with ExitStack() as stack:  # callbacks run last-registered first: the bridge, then the services
        stack.callback(say, "stopped everything this run started")
        try:
            return run(args, stack)
        except KeyboardInterrupt:
            say("stopping ...")
            return 130 if args.bounded else 0


def run(args: argparse.Namespace, stack: ExitStack) -> int:
    import logging

    from azure.storage.blob import BlobServiceClient

    from scripts.event_tour import TOUR_TRIGGER, run_tour
    from tests.support.azurite import Azurite
    from tests.support.func_host import FuncHost, func_command
    from tests.support.identity import IdentityEndpoint
    from tests.support.local_host import LocalHost, in_process_delivery, in_process_tick, webhook_delivery
    from tests.support.standin import PipelineStandIn

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="[%(name)s] %(message)s")
    for noisy in ("azure", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    azurite = Azurite().start()
    stack.callback(azurite.stop)
    identity = IdentityEndpoint().start()
    stack.callback(identity.stop)
    standin = PipelineStandIn(identity, echo=lambda line: print(f"[pipeline] {line}", flush=True)).start()
    stack.callback(standin.stop)
    endpoint = standin.published_pipeline_url(TRIGGER)
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PIPELINE_TRIGGERS": json.dumps(trigger_config(endpoint, standin.published_pipeline_url(TOUR_TRIGGER))),
        **identity.environment(),
    }
    for name in FOREIGN_SETTINGS:
        os.environ.pop(name, None)
    os.environ.update(settings)

    use_func = args.host == "func" or (args.host == "auto" and func_command() is not None)
    say(f"Azurite blob endpoint  {azurite.blob_endpoint}")
    say(f"identity endpoint      {identity.url}")
    say(f"pipeline stand-in      {endpoint}")
    bridge = "func start (Azure Functions Core Tools)" if use_func else "in-process host runner (func not on PATH)"
    say(f"bridge                 {bridge}")
    say(f"trigger {TRIGGER!r} watches container {CONTAINER!r}: only blobs directly at its root start a run")

    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(CONTAINER)
    container.create_container()
    if use_func:
        func = FuncHost(settings)
        stack.callback(func.stop)
        say(f"starting func in {func.app_dir} (local.settings.json written there) ...")
        func.start()
        host = LocalHost([container], webhook_delivery(func.port)).start()
    else:
        host = LocalHost([container], in_process_delivery(), in_process_tick()).start()
    stack.callback(host.stop)

    for name in (ROOT_BLOB, NESTED_BLOB):
        container.get_blob_client(name).upload_blob(b"id,value\n1,42\n", overwrite=True)
        say(f"uploaded {CONTAINER}/{name}")
    ok = wait_for_outcome(standin, host, args.timeout)
    print_summary(standin, ok, args.timeout)
    if ok:
        run_tour(azurite, host.deliver, say)
    if args.bounded:
        return 0 if ok else 1
    print_next_steps(settings)
    while True:
        time.sleep(3600)


def demo_runs(standin: Any) -> list[Any]:
    """The stand-in's accepted runs of the demo trigger (the event tour's go to their own pipeline)."""
    return [run for run in standin.runs if run.path.endswith(f"/{TRIGGER}")]


def run_ids_for(standin: Any, blob: str) -> list[str]:
    """The demo trigger's accepted runs whose DataPath names `blob`."""
    from tests.support.standin import relative_path

    return [run.run_id for run in demo_runs(standin) if relative_path(run.body) == blob]


def expected_outcome(standin: Any, host: Any) -> bool:
    """One run, for the root file; the nested file's event delivered and acknowledged; the ledger agrees."""
    from shared.ledger import SUBMITTED, Ledger

    runs = run_ids_for(standin, ROOT_BLOB)
    delivered = {d.name for d in host.delivered() if d.error is None}
    if len(demo_runs(standin)) != 1 or len(runs) != 1 or not {ROOT_BLOB, NESTED_BLOB} <= delivered:
        return False
    entries = list(Ledger.from_settings().entries(TRIGGER))
    return [(e.firing.get("blob"), e.state, e.run_id) for e in entries] == [(ROOT_BLOB, SUBMITTED, runs[0])]


def wait_for_outcome(standin: Any, host: Any, timeout: float) -> bool:
    """True once the expected outcome holds and still holds `SETTLE_SECONDS` later (no late extra run)."""
    deadline = time.monotonic() + timeout
    seen_at: float | None = None
    while time.monotonic() < deadline:
        if not expected_outcome(standin, host):
            seen_at = None
        elif seen_at is None:
            seen_at = time.monotonic()
        elif time.monotonic() - seen_at >= SETTLE_SECONDS:
            return True
        time.sleep(0.25)
    return False


def print_summary(standin: Any, ok: bool, timeout: float) -> None:
    root = run_ids_for(standin, ROOT_BLOB)
    nested = run_ids_for(standin, NESTED_BLOB)
    say("-" * 72)
    say("Summary")
    say(f"  {CONTAINER}/{ROOT_BLOB:<28} -> {'pipeline run ' + ', '.join(root) if root else 'NO run'}")
    nested_text = f"run {', '.join(nested)} (unexpected!)" if nested else "no run: it is in a subfolder, never triggers"
    say(f"  {CONTAINER}/{NESTED_BLOB:<28} -> {nested_text}")
    say(f"  pipeline stand-in received {len(demo_runs(standin))} run request(s) in total")
    if ok:
        say("OK: exactly the root file became a pipeline run (ledger: submitted, with the run id).")
    else:
        say(f"FAILED: the expected outcome (one run, for {ROOT_BLOB} only) was not seen within {timeout:g}s.")


def print_next_steps(settings: dict[str, str]) -> None:
    say("The bridge keeps running: upload more files to container 'uploads' and watch them arrive here.")
    say("To use the operator CLI against this run, in another shell (from the repository root):")
    exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in settings.items())
    print(f"    export {exports}", flush=True)
    print("    python -m shared list; python -m shared history", flush=True)
    say("Ctrl-C to stop everything.")


if __name__ == "__main__":
    sys.exit(main())
