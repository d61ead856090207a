"""A delivery of `blob_trigger` in a child process, for tests that kill the process (SIGKILL) mid-submission.

The child is the real function as the host loads it, with the test's app settings (its environment), and
reads the event from stdin; killing it leaves whatever it had done (a claim, a request the service got)
exactly as a crashed host would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from .host import REPO_ROOT

CHILD = ("import json, sys\n"
         "from tests.support.host import load_function\n"
         "load_function('blob_trigger').invoke(json.load(sys.stdin))\n")


def start_delivery(event: dict[str, Any]) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO_ROOT, env=dict(os.environ),
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert child.stdin is not None
    child.stdin.write(json.dumps(event).encode("utf-8"))
    child.stdin.close()
    return child
