"""Errors a command reports as one message and an exit code, and storage failures named by their settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import AzureError, HttpResponseError

from ..config import DEFAULT_CONNECTION, BridgeConfig, Trigger
from ..ledger import DEFAULT_CONTAINER
from ..settings import get_setting

USAGE = 2  # also what argparse and a ConfigError exit with


class CliError(Exception):
    """Stops the command: the message is printed as `error: ...` and `code` becomes the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def find_trigger(config: BridgeConfig, name: str) -> Trigger:
    try:
        return config.trigger(name)
    except KeyError as error:
        raise CliError(str(error.args[0]), USAGE) from None


def find_watch(config: BridgeConfig, name: str, command: str) -> Trigger:
    trigger = find_trigger(config, name)
    if trigger.watch is None:
        watches = ", ".join(t.name for t in config.triggers if t.watch) or "none"
        raise CliError(f"trigger {name!r} is a schedule; {command} works on watch triggers (configured: {watches})",
                       USAGE)
    return trigger


def ledger_storage() -> str:
    """Where the ledger and state documents live, in the settings' own names."""
    connection = get_setting("PIPELINE_LEDGER_CONNECTION", DEFAULT_CONNECTION)
    container = get_setting("PIPELINE_LEDGER_CONTAINER", DEFAULT_CONTAINER)
    return f"ledger: storage connection setting {connection}, container {container}"


def watch_storage(trigger: Trigger) -> str:
    assert trigger.watch is not None
    return f"watched blobs: storage connection setting {trigger.watch.connection}, container {trigger.watch.container}"


@contextmanager
def storage_errors(*places: str) -> Iterator[None]:
    """Turn a storage failure into one line that says which connection setting and container were in use."""
    try:
        yield
    except AzureError as error:
        detail = (str(error).strip().splitlines() or [""])[0]
        if isinstance(error, HttpResponseError) and error.status_code is not None:
            code = getattr(error.error_code, "value", error.error_code)  # the storage SDK uses an enum
            detail = f"HTTP {error.status_code}{' ' + str(code) if code else ''}: {detail}"
        raise CliError(f"storage request failed ({'; '.join(places)}): {detail}") from None
