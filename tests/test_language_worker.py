"""Both functions as the real Python language worker loads and invokes them, not as our host emulation thinks.

`azure-functions-runtime-v1` (Python >= 3.13) does the loading: it checks each `main`'s parameter names and
annotations against function.json's bindings and converts the trigger payloads with azure-functions' own
converters; `tests/support/language_worker.py` plays the host. The worker runs in its own interpreter, named
by PIPELINE_WORKER_PYTHON (`.ci/run` creates it); against Azurite, the identity endpoint and the stand-in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.ledger import SUBMITTED, Ledger
from tests.support.host import REPO_ROOT, blob_created_event, timer_payload
from tests.support.standin import PipelineStandIn, relative_path
from tests.support.triggers import watch_trigger

WORKER_SETTING = "PIPELINE_WORKER_PYTHON"
DRIVER = Path(__file__).parent / "support" / "language_worker.py"
FUNCTIONS = ["blob_trigger", "timer_trigger"]


def worker_python() -> str:
    configured = os.environ.get(WORKER_SETTING)
    if not configured or not Path(configured).exists():
        pytest.skip(f"the real language worker needs Python >= 3.13 with azure-functions-runtime-v1: set "
                    f"{WORKER_SETTING} to that interpreter (.ci/run creates one; got {configured!r})")
    return str(Path(configured).absolute())  # absolute, not resolved: a venv python is a symlink to its base


def run_worker(app: Path, load: list[str], invoke: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    done = subprocess.run([worker_python(), str(DRIVER), str(app), json.dumps({"load": load, "invoke": invoke})],
                          capture_output=True, text=True, timeout=240, env=dict(os.environ), cwd=app)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def copy_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    for part in (*FUNCTIONS, "shared"):
        shutil.copytree(REPO_ROOT / part, app / part, ignore=shutil.ignore_patterns("__pycache__"))
    return app


def test_both_functions_load_in_the_real_worker() -> None:
    results = run_worker(REPO_ROOT, FUNCTIONS)
    assert results == [{"request": "init", "ok": True, "error": ""},
                       *({"request": "load", "function": name, "ok": True, "error": ""} for name in FUNCTIONS)]


@pytest.mark.parametrize(("change", "reason"), [
    ({"name": "evt"}, "the following parameters are declared in Python but not in function.json: {'event'}"),
    ({"type": "timerTrigger"}, "type of event binding in function.json \"timerTrigger\" does not match its Python "
                               "annotation \"EventGridEvent\""),
], ids=["binding-name", "binding-type"])
def test_the_worker_refuses_a_function_whose_bindings_do_not_match_main(
    change: dict[str, str], reason: str, tmp_path: Path
) -> None:
    """The load-time checks are live: a function.json that disagrees with `main` fails to load, with the reason."""
    app = copy_app(tmp_path)
    spec_path = app / "blob_trigger" / "function.json"
    spec = json.loads(spec_path.read_text())
    spec["bindings"][0].update(change)
    spec_path.write_text(json.dumps(spec))
    [_, loaded] = run_worker(app, ["blob_trigger"])
    assert loaded["ok"] is False
    assert reason in loaded["error"]


def test_an_event_and_a_timer_tick_run_end_to_end_through_the_worker(
    set_triggers: Callable[[list[Any]], None], container: ContainerClient, standin: PipelineStandIn
) -> None:
    set_triggers([
        watch_trigger("landing", container.container_name, standin.published_pipeline_url(), folder="incoming"),
        {"name": "hourly", "recurrence": {"frequency": "Hour"},
         "pipeline": {"endpoint": standin.published_pipeline_url("pp-2"), "experiment_name": "nightly"}},
    ])
    blob = container.get_blob_client("incoming/day.csv")
    blob.upload_blob(b"a,b\n1,2\n")
    results = run_worker(REPO_ROOT, FUNCTIONS, [
        {"function": "blob_trigger", "payload": blob_created_event(blob)},
        {"function": "timer_trigger", "payload": timer_payload()},
    ])

    assert [r for r in results if r["request"] == "invoke"] == [
        {"request": "invoke", "function": name, "ok": True, "error": ""} for name in FUNCTIONS]
    assert sorted(run.path.rsplit("/", 1)[1] for run in standin.runs) == ["pp-1", "pp-2"]
    [event_run] = [run for run in standin.runs if run.path.endswith("/pp-1")]
    assert relative_path(event_run.body) == "incoming/day.csv"
    entries = list(Ledger.from_settings().entries())
    assert sorted(e.trigger for e in entries) == ["hourly", "landing"]
    assert {e.state for e in entries} == {SUBMITTED}
