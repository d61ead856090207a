"""The code stays `ruff` clean: part of the one test command, so CI and developers see the same thing."""

from __future__ import annotations

import subprocess
import sys

from tests.support.azurite import REPO_ROOT


def test_ruff_reports_no_problems() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
