"""Talking to a person at a terminal: confirmations and a progress counter, both silent when piped.

A script reading our output must never get prompts or `\\r` counter lines mixed into it, and a command
that would submit runs must never wait for an answer nobody can give.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from .errors import USAGE, CliError


def confirm(question: str, assume_yes: bool) -> None:
    """Go on only after "y" from a terminal (or `--yes`); refuse outright when stdin is not a terminal."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} needs confirmation, but stdin is not a terminal: pass --yes to go ahead", USAGE)
    answer = input(f"{question} [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CliError("cancelled: nothing was submitted")


class Progress:
    """`label: done[/total]` on stderr, rewritten in place with `\\r`; does nothing unless stderr is a tty.

    Called from worker threads (the sweep settles blobs on a pool), hence the lock; redraws are
    throttled so a 100k-blob backfill does not spend its time painting the terminal.
    """

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False
        self.drawn_at = 0.0
        self.lock = threading.Lock()

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            now = time.monotonic()
            if self.shown and now - self.drawn_at < 0.1 and done != self.total:
                return
            self.drawn_at, self.shown = now, True
            total = f"/{self.total}" if self.total is not None else ""
            self.stream.write(f"\r{self.label}: {done}{total}")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
