"""Structured decision logs: one line per decision, `event=<name> key=value ...`.

Operators answer "which blob caused which run, and why not that one" by querying these lines in
Application Insights (the Functions host forwards the standard logging records; no extra SDK needed).
Values are quoted JSON-style when they hold spaces or quotes so a line parses back unambiguously.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

LOGGER = logging.getLogger("pipeline_bridge")
# azure-core logs every HTTP request and response of the storage clients at INFO (the URL and headers, several
# lines per blob). The Python worker forwards every record at INFO and above as the function's own log, and
# host.json keeps every trace (never sampled), so they would bury the decision lines and be billed per request.
# Its warnings and errors still pass; `logging.getLogger(SDK_REQUEST_LOGGER).setLevel(logging.INFO)` brings the
# lines back when debugging.
SDK_REQUEST_LOGGER = "azure.core.pipeline.policies.http_logging_policy"
logging.getLogger(SDK_REQUEST_LOGGER).setLevel(logging.WARNING)
_BARE = re.compile(r"[A-Za-z0-9_.:/@+-]+")  # fullmatch: `$` would also match before a final newline
# JSON leaves these unescaped, but log readers (and str.splitlines) break lines at them: a blob name
# holding one would split a decision into two lines, the second one forged by whoever named the blob.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def format_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, str) and _BARE.fullmatch(value):
        return value
    if isinstance(value, str):
        return json.dumps(text, ensure_ascii=False).translate(_LINE_BREAKS)
    return text.translate(_LINE_BREAKS)


def format_decision(event: str, fields: dict[str, Any]) -> str:
    parts = [f"event={event}"]
    parts.extend(f"{key}={format_value(value)}" for key, value in fields.items() if value is not None)
    return " ".join(parts)


def log_decision(event: str, level: int = logging.INFO, **fields: Any) -> None:
    LOGGER.log(level, format_decision(event, fields), extra={"decision": event, "fields": fields})
