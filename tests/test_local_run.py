"""`scripts/local_run.py` as a newcomer runs it: a real subprocess, real Azurite, real output and exit code."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = [sys.executable, str(REPO_ROOT / "scripts" / "local_run.py"), "--host", "inprocess", "--no-install"]
PORTS = re.compile(r"(?:Azurite blob endpoint|identity endpoint|pipeline stand-in)\s+http://127\.0\.0\.1:(\d+)/")


def run_bounded(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SCRIPT, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def assert_everything_stopped(output: str) -> None:
    ports = [int(p) for p in PORTS.findall(output)]
    assert len(ports) == 3, output
    assert not any(listening(port) for port in ports)
    assert "stopped everything this run started" in output


@pytest.mark.slow
def test_bounded_run_shows_exactly_the_root_file_becoming_a_run() -> None:
    done = run_bounded("--once", "--timeout", "90")

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "uploaded uploads/sample-root.csv" in out and "uploaded uploads/archive/sample-nested.csv" in out
    assert out.count("PipelineSubmit/local-demo <-") == 1
    assert "'RelativePath': 'sample-root.csv'" in out
    assert re.search(r"event=skipped .*blob=archive/sample-nested\.csv .*reason=subfolder", out)
    assert re.search(r"uploads/sample-root\.csv\s+-> pipeline run [0-9a-f]{32}", out)
    assert re.search(r"uploads/archive/sample-nested\.csv\s+-> no run: it is in a subfolder", out)
    assert "OK: exactly the root file became a pipeline run" in out
    assert_everything_stopped(out)
    tour = out[out.index("event tour:"):]  # one example of each event decision, after the check
    for reason in ("superseded", "deleted", "subfolder", "sftp_create", "other_account"):
        assert re.search(rf"event=skipped .*trigger=event-tour .*reason={reason}\b", tour), reason
    assert re.search(r"event=ignored .*reason=other_event_type", tour)
    submitted = re.findall(r"event=submitted trigger=event-tour .*?blob=(\S+)", tour)
    assert submitted == ["incoming/upload.csv", "incoming/renamed.csv", "incoming/copied.csv", "incoming/sftp.csv"]


@pytest.mark.slow
def test_bounded_run_fails_when_the_outcome_is_not_seen_in_time() -> None:
    done = run_bounded("--timeout", "0")
    assert done.returncode == 1
    assert "FAILED: the expected outcome (one run, for sample-root.csv only) was not seen within 0s" in done.stdout
    assert_everything_stopped(done.stdout)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT as Ctrl-C does")
def test_ctrl_c_stops_everything_it_started() -> None:
    process = subprocess.Popen(SCRIPT, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C to stop everything" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=120), "".join(lines)
        assert any("OK: exactly the root file became a pipeline run" in line for line in lines)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=10)
    assert_everything_stopped("".join(lines))
