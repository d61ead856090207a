"""What the local run needs before it can import anything: Python 3.11+, the app's packages, and Azurite.

Standard library only, because it runs before the packages exist. Missing pieces are installed the
documented way: the Python packages into a virtual environment (the repository's `.venv`, created if
needed; the run then restarts inside it, so nothing lands in the system Python) and Azurite with
`npm ci`. `--no-install` turns each install into an error that names the command to run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODULES = ("azure.functions", "azure.identity", "azure.storage.blob", "requests")


class PrerequisiteError(RuntimeError):
    """Something the local run needs is missing and was not (or could not be) installed."""


def missing_modules() -> list[str]:
    missing = []
    for name in MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package is missing
            found = False
        if not found:
            missing.append(name)
    return missing


def venv_python() -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    return REPO_ROOT / ".venv" / folder / ("python.exe" if os.name == "nt" else "python")


def run(command: list[str]) -> None:
    print(f"[local-run] installing: {' '.join(command)}", flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def ensure_python_packages(allow_install: bool) -> None:
    missing = missing_modules()
    if not missing:
        return
    if not allow_install:
        raise PrerequisiteError(f"missing Python packages ({', '.join(missing)}): run "
                                "`python -m venv .venv && . .venv/bin/activate && pip install -r requirements-dev.txt`")
    if sys.prefix == sys.base_prefix:  # not in a virtual environment: use (or make) the repository's own
        python = venv_python()
        if not python.exists():
            run([sys.executable, "-m", "venv", str(REPO_ROOT / ".venv")])
        print(f"[local-run] restarting under {python}", flush=True)
        os.execv(str(python), [str(python), *sys.argv])
    run([sys.executable, "-m", "pip", "install", "-r", str(REPO_ROOT / "requirements.txt")])


def ensure_azurite(allow_install: bool) -> None:
    if (REPO_ROOT / "node_modules" / ".bin" / "azurite").exists() or shutil.which("azurite"):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise PrerequisiteError("Azurite needs Node.js 20 with npm: install Node, then run `npm ci` here")
    if not allow_install:
        raise PrerequisiteError("Azurite is not installed: run `npm ci` in the repository root")
    run([npm, "ci"])


def ensure_prerequisites(allow_install: bool) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this runs before anything else, on whatever Python is at hand
        raise PrerequisiteError(f"Python 3.11 or later is needed (this is {sys.version.split()[0]})")
    ensure_python_packages(allow_install)
    ensure_azurite(allow_install)
