"""The functions in a process of their own, so a test can kill them for real (SIGKILL: no handler runs).

`python -m tests.support.worker` reads one JSON command per line on stdin and answers one JSON line on
stdout when it is done: `{"op": "event", "event": {...}}` invokes `blob_trigger` the way the host does,
`{"op": "sweep", "trigger": NAME}` runs that trigger's polling sweep now (the CLI's `sweep`), `{"op": "tick",
"at": ISO}` runs one timer tick as if it were that moment (its schedules and due sweeps). The answer is
`{"ok": true}` or `{"ok": false, "error": "<type>: <message>"}`, as the host would report an invocation.
It runs with the test's app settings (its environment). `Worker` drives one from the test.

To kill it at an exact point without racing it, the pipeline stand-in holds the chosen request
(`standin.Hold`) until the test has killed the worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from typing import Any

from .host import REPO_ROOT


class Worker:
    """One worker process, started on first use with the app settings of that moment; `send` returns its
    answer, or None when it died before answering."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.current: str | None = None  # what it is working on (a blob name, or "sweep")
        self.lock = threading.Lock()

    @property
    def process(self) -> subprocess.Popen[str]:
        if self._process is None:
            self._process = subprocess.Popen([sys.executable, "-m", "tests.support.worker"], cwd=REPO_ROOT,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(os.environ),
                                             stderr=subprocess.DEVNULL,  # its logs: the answer says what failed
                                             text=True, bufsize=1)
        return self._process

    def send(self, command: dict[str, Any], current: str | None = None) -> dict[str, Any] | None:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self.lock:
            self.current = current
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        finally:
            with self.lock:
                self.current = None
        return json.loads(line) if line else None

    def working_on(self, what: str) -> bool:
        with self.lock:
            return self.current == what

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, with no exception handler or `finally` running."""
        if self._process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def close(self) -> None:
        if self._process is None:
            return
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.close()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def serve() -> None:
    from shared.cli.app import main as cli
    from shared.timer_path import handle_tick
    from tests.support.host import load_function

    blob_function = load_function("blob_trigger")
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command["op"] == "event":
                blob_function.invoke(command["event"])
            elif command["op"] == "tick":
                handle_tick(now=datetime.fromisoformat(command["at"]))
            else:
                with contextlib.redirect_stdout(sys.stderr):  # stdout carries the answers only
                    code = cli(["sweep", command["trigger"]])
                if code != 0:
                    raise RuntimeError(f"sweep of {command['trigger']} failed (exit {code})")
            answer: dict[str, Any] = {"ok": True}
        except Exception as error:  # the host reports a failed invocation; Event Grid delivers again
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
