"""The real Functions host (`func start`, Azure Functions Core Tools) on a copy of the app, for the local run.

A copy, so the `local.settings.json` written for the local services never overwrites a developer's own.
The host runs the timer itself; Event Grid is not local, so events are POSTed to its webhook
(`local_host.webhook_delivery`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from .ports import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_PARTS = ("host.json", "requirements.txt", "blob_trigger", "timer_trigger", "shared")


def func_command() -> str | None:
    return shutil.which("func")


class FuncHost:
    def __init__(self, settings: dict[str, str]) -> None:
        self.settings = settings
        self.port = free_port()
        self.app_dir = Path(tempfile.mkdtemp(prefix="bridge-app-"))
        self.process: subprocess.Popen[bytes] | None = None

    def write_app(self) -> Path:
        for part in APP_PARTS:
            source = REPO_ROOT / part
            target = self.app_dir / part
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)
        local_settings = {"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", **self.settings}}
        path = self.app_dir / "local.settings.json"
        path.write_text(json.dumps(local_settings, indent=2), encoding="utf-8")
        return path

    def start(self) -> FuncHost:
        command = func_command()
        if command is None:
            raise RuntimeError("the Azure Functions Core Tools (`func`) are not on PATH")
        self.write_app()
        self.process = subprocess.Popen([command, "start", "--port", str(self.port)], cwd=self.app_dir,
                                        start_new_session=os.name == "posix")
        try:
            wait_for_port(self.port, timeout=180)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            if os.name == "posix":  # func starts the language worker as a child: stop the group we started
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.app_dir, ignore_errors=True)
