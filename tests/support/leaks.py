"""Catch every log record from every logger at DEBUG, and find secrets in what was logged or stored."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .identity import IdentityEndpoint

_FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def all_logs() -> Iterator[list[logging.LogRecord]]:
    """Every logger (azure, msal, urllib3, ours) at DEBUG into one list, restored afterwards."""
    keep = _Keep()
    root = logging.getLogger()
    loggers = [root, *(item for item in logging.root.manager.loggerDict.values() if isinstance(item, logging.Logger))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    hooked = [logger for logger in loggers if logger is root or not logger.propagate]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
    for logger in hooked:
        logger.addHandler(keep)
    try:
        yield keep.records
    finally:
        for logger in hooked:
            logger.removeHandler(keep)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled


def rendered(records: Iterable[logging.LogRecord]) -> str:
    """The records as a log sink would store them, tracebacks included."""
    return "\n".join(_FORMAT.format(record) for record in records)


def leaked_secrets(text: str, identity: IdentityEndpoint) -> list[str]:
    """What in `text` must never be there: an issued token, a bearer header, the identity endpoint's secret."""
    found = [f"token {token[:12]}..." for token in list(identity.issued) if token in text]
    if "Bearer ey" in text:
        found.append("'Bearer ey...'")
    if identity.secret_header in text:
        found.append("the IDENTITY_HEADER secret")
    return found
