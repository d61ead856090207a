"""Plain-text tables and JSON for command output."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns two spaces apart; `None` shows as `-`; a cell's line breaks become spaces, so one
    entry stays one line (an error message or a blob name may hold them)."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else " ".join(str(c).splitlines()) for c in row]
                                           for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def shorten(text: str | None, width: int) -> str | None:
    if text is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"
