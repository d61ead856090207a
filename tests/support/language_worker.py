"""Drives the real Python language worker (`azure-functions-runtime-v1`) in-process, the way the Functions host
does over gRPC: WorkerInitRequest, FunctionLoadRequest (with the bindings of each function.json) and
InvocationRequest (the trigger payload as `TypedData.json`), using the worker's own protocol messages.

Run with the worker's interpreter (Python >= 3.13): `python language_worker.py APP_DIR SPEC_JSON`. The spec lists
`{"load": [function names], "invoke": [{"function", "payload"}]}`; one JSON result line per request is printed.
The worker does the loading, the annotation and binding-name checks and the binding conversion; this file only
plays the host's part.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from azure_functions_runtime_v1 import handle_event

from tests import protos  # the worker wheel's own copy of the host protocol (FunctionRpc.proto)


class Envelope:
    """What the worker's proxy hands each handler: the message and the host's properties."""

    def __init__(self, message: Any) -> None:
        self.request = message
        self.properties = {"host": "bridge-test-host", "protos": protos}


def status(result: Any) -> dict[str, Any]:
    ok = result.status == protos.StatusResult.Success
    return {"ok": ok, "error": "" if ok else result.exception.message}


def metadata(app: Path, name: str) -> Any:
    """The function's RpcFunctionMetadata as the host builds it from function.json."""
    spec = json.loads((app / name / "function.json").read_text(encoding="utf-8"))
    bindings = {
        binding["name"]: protos.BindingInfo(type=binding["type"],
                                            direction=protos.BindingInfo.Direction.Value(binding["direction"]))
        for binding in spec["bindings"]
    }
    return protos.RpcFunctionMetadata(
        name=name, directory=str(app / name), script_file=str(app / name / spec.get("scriptFile", "__init__.py")),
        entry_point=spec.get("entryPoint", ""), bindings=bindings)


async def run(app: Path, spec: dict[str, Any]) -> None:
    init = await handle_event.worker_init_request(Envelope(protos.StreamingMessage(
        worker_init_request=protos.WorkerInitRequest(host_version="4.0", function_app_directory=str(app)))))
    print(json.dumps({"request": "init", **status(init.result)}), flush=True)
    ids: dict[str, str] = {}
    for name in spec["load"]:
        ids[name] = uuid.uuid4().hex
        loaded = await handle_event.function_load_request(Envelope(protos.StreamingMessage(
            function_load_request=protos.FunctionLoadRequest(function_id=ids[name], metadata=metadata(app, name)))))
        print(json.dumps({"request": "load", "function": name, **status(loaded.result)}), flush=True)
    for call in spec["invoke"]:
        trigger = next(b for b in json.loads((app / call["function"] / "function.json").read_text())["bindings"]
                       if b["type"].endswith("Trigger"))
        invoked = await handle_event.invocation_request(Envelope(protos.StreamingMessage(
            invocation_request=protos.InvocationRequest(
                invocation_id=uuid.uuid4().hex, function_id=ids[call["function"]],
                input_data=[protos.ParameterBinding(name=trigger["name"],
                                                    data=protos.TypedData(json=json.dumps(call["payload"])))]))))
        print(json.dumps({"request": "invoke", "function": call["function"], **status(invoked.result)}), flush=True)


if __name__ == "__main__":
    root = Path(sys.argv[1]).resolve()
    sys.path.append(str(root))  # the app's own packages (shared/), after the worker's: its `tests` wins
    asyncio.run(run(root, json.loads(sys.argv[2])))
