"""How long one timer tick may keep starting sweep work, so a tick stays well inside `functionTimeout`.

The timer does not overlap its own invocations: while a tick runs, the next minute's schedules wait. So
a tick fires its schedules first, then sweeps until the deadline, and a sweep that is not finished by
then stops starting new blobs, lets the ones in flight finish (each at most the longest submission),
saves where its listing got to and continues on the next tick. A timeout kill would instead leave its
claims to expire and its progress unsaved.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .settings import float_setting

TICK_SETTING = "PIPELINE_TICK_SWEEP_SECONDS"
DEFAULT_TICK_SECONDS = 40.0
FUNCTION_TIMEOUT_SECONDS = 600.0  # host.json `functionTimeout` (00:10:00); tests/test_tick.py keeps them equal


class Deadline:
    """A point on a monotonic clock; `clock` is injectable so tests decide when it passes, not the machine."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.at = clock() + seconds

    @property
    def passed(self) -> bool:
        return self.clock() >= self.at

    @classmethod
    def for_tick(cls) -> Deadline:
        return cls(tick_seconds())


def tick_seconds() -> float:
    return float_setting(TICK_SETTING, DEFAULT_TICK_SECONDS)
