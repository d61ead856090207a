"""Cold start: a fresh interpreter that imports `blob_trigger` and handles its first event, versus a fresh
interpreter that only imports azure-functions, azure-identity, azure-storage-blob and requests.

Wall time of the whole child process (interpreter start included, the same for both), several repetitions
with the variants interleaved, medians compared. A third variant, the import alone, splits the bridge's
cost into its imports and its first event (token fetch, ledger container check, claim, POST, record).
Target: first event <= 1.25x the SDK imports.

Both sides load bytecode from one primed cache (`PYTHONPYCACHEPREFIX`), as pip-installed SDKs always do: with
`PYTHONDONTWRITEBYTECODE` (set on some machines) only the bridge would be compiled from source every time.
What compiling the bridge's own modules costs is reported apart: a package without `.pyc` files on a read-only
mount (run-from-package, which Flex Consumption uses) pays it at every cold start.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REPO_ROOT, Services, Target, milliseconds, parse_run, ratio, report, upload_many
from tests.support.host import blob_created_event
from tests.support.triggers import watch_trigger

REPETITIONS = {"smoke": 2, "full": 15}
# Child programs stay minimal: whatever they import is what is measured.
SDK_IMPORTS = "import azure.functions, azure.identity, azure.storage.blob, requests"
BRIDGE_IMPORT = "from tests.support.host import load_function; load_function('blob_trigger')"
BRIDGE_FIRST_EVENT = ("import json, sys; from tests.support.host import load_function; "
                      "load_function('blob_trigger').invoke(json.loads(sys.argv[1]))")


def child_seconds(environment: dict[str, str], program: str, *arguments: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", program, *arguments], cwd=REPO_ROOT, env=environment, check=True)
    return time.perf_counter() - started


def bridge_compile_seconds() -> float:
    """Compiling every module `blob_trigger` imports from this repository, as an import without `.pyc` does."""
    importlib.import_module("blob_trigger")
    own = [Path(module.__file__) for module in list(sys.modules.values())
           if getattr(module, "__file__", None) and Path(module.__file__).is_relative_to(REPO_ROOT)
           and Path(module.__file__).parts[len(REPO_ROOT.parts)] in ("shared", "blob_trigger")]
    sources = [(path.read_bytes(), str(path)) for path in own]
    passes = []
    for _ in range(5):  # the median of a few passes: one is short enough for noise to matter
        started = time.perf_counter()
        for source, name in sources:
            compile(source, name, "exec")
        passes.append(time.perf_counter() - started)
    return statistics.median(passes)


def main() -> None:
    run = parse_run("cold_start", __doc__)
    repetitions = REPETITIONS[run.size]
    samples: dict[str, list[float]] = {"sdk_imports": [], "bridge_import": [], "bridge_first_event": []}
    with Services() as services, tempfile.TemporaryDirectory(prefix="pycache-") as cache:
        container = services.new_container("cold")
        services.set_triggers([watch_trigger("landing", container.container_name,
                                             services.standin.published_pipeline_url())])
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        environment["PYTHONPYCACHEPREFIX"] = cache
        names = [f"cold-{index:03d}.csv" for index in range(repetitions + 1)]
        upload_many(container, names)
        events = [json.dumps(blob_created_event(container.get_blob_client(name))) for name in names]
        for program in (SDK_IMPORTS, BRIDGE_IMPORT):  # unmeasured: fills the bytecode and the OS file caches
            child_seconds(environment, program)
        child_seconds(environment, BRIDGE_FIRST_EVENT, events[-1])
        for index in range(repetitions):
            variants = [("sdk_imports", (SDK_IMPORTS,)), ("bridge_import", (BRIDGE_IMPORT,)),
                        ("bridge_first_event", (BRIDGE_FIRST_EVENT, events[index]))]
            shift = index % len(variants)  # rotate the order: drift on the machine hits every variant alike
            for name, arguments in variants[shift:] + variants[:shift]:
                samples[name].append(child_seconds(environment, *arguments))
        if len(services.standin.runs) != repetitions + 1:
            raise RuntimeError(f"expected {repetitions + 1} runs from the children, got {len(services.standin.runs)}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    figures = {
        "repetitions": repetitions,
        "median_ms": {name: milliseconds(value) for name, value in medians.items()},
        "bridge_imports_extra_ms": milliseconds(medians["bridge_import"] - medians["sdk_imports"]),
        "first_event_ms": milliseconds(medians["bridge_first_event"] - medians["bridge_import"]),
        "bridge_compile_ms": milliseconds(bridge_compile_seconds()),
        "ratio": ratio(medians["bridge_first_event"], medians["sdk_imports"]),
    }
    report(run, figures, [Target("cold_start_ratio", figures["ratio"], 1.25)])


if __name__ == "__main__":
    main()
