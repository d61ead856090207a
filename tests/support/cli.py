"""`python -m shared` in-process, with what it printed: for tests of the operator commands."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass

from shared.cli import main


@dataclass
class Out:
    code: int
    out: str


def cli(*argv: str) -> Out:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(list(argv))
    return Out(code, buffer.getvalue())
