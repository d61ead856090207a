"""App settings access and the Functions `%NAME%` convention.

Kept in one place so every module reads settings the same way the Functions host exposes them
(environment variables), and so tests can point the app at Azurite by setting variables only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_PLACEHOLDER = re.compile(r"%([A-Za-z0-9_.:-]+)%")
_reads: ContextVar[dict[str, str | None] | None] = ContextVar("setting_reads", default=None)


class MissingSettingError(LookupError):
    """An app setting that the configuration refers to is not defined."""

    def __init__(self, name: str) -> None:
        super().__init__(f"app setting {name!r} is not defined")
        self.name = name


def environment() -> Mapping[str, str]:
    """The app settings as the host exposes them."""
    return os.environ


def _lookup(name: str) -> str | None:
    value = environment().get(name)
    reads = _reads.get()
    if reads is not None:
        reads[name] = value
    return value


@contextmanager
def recording_reads() -> Iterator[dict[str, str | None]]:
    """Every setting looked up (by this thread) inside the block, with the value it had: what a result
    computed from settings depends on, so a cache can be keyed by exactly that and hold no other secret."""
    reads: dict[str, str | None] = {}
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def get_setting(name: str, default: str | None = None) -> str | None:
    value = _lookup(name)
    return default if value in (None, "") else value


def float_setting(name: str, default: float) -> float:
    """A numeric tuning setting; a malformed value is an error that names it."""
    raw = get_setting(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"app setting {name} must be a number (got {raw!r})") from None
    if value < 0:
        raise ValueError(f"app setting {name} must not be negative (got {raw!r})")
    return value


def expand_placeholders(value: str) -> str:
    """Replace each `%NAME%` with the app setting NAME.

    Only plain setting names are looked up: no files are read and nothing is evaluated, so a
    configuration cannot use this to reach anything but app settings.
    """

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        found = _lookup(name)
        if found is None:
            raise MissingSettingError(name)
        return found

    return _PLACEHOLDER.sub(lookup, value)


def function_disabled(function_name: str) -> bool:
    """The standard `AzureWebJobs.<function>.Disabled` switch (Linux plans spell the dots as `_`)."""
    for name in (f"AzureWebJobs.{function_name}.Disabled", f"AzureWebJobs_{function_name}_Disabled"):
        raw = get_setting(name)
        if raw is not None and raw.strip().lower() in {"1", "true", "yes"}:
            return True
    return False
