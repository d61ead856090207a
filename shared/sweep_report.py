"""What one sweep or backfill did, for its `swept`/`sweep_armed`/`backfilled` log line and the CLI."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SweepReport:
    trigger: str
    state: str = "swept"  # swept | armed | not_due | paused | backfilled
    listed: int = 0
    candidates: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    watermark: str | None = None

    def summary(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "state": self.state, "listed": self.listed,
                "candidates": self.candidates, **{f"n_{k}": v for k, v in self.outcomes.items()},
                **{f"skipped_{k}": v for k, v in self.skipped.items()}, "errors": len(self.errors) or None,
                "watermark": self.watermark}
