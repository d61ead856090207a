"""The argument parser and the one place errors become messages and exit statuses.

Exit statuses: 0 done, 1 the operation failed (nothing hidden: the reason is printed), 2 a usage or
configuration problem (argparse's own convention), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..config import ConfigError
from ..logs import LOGGER
from ..storage import StorageSettingError
from . import dry_run, health_cmd, history_cmd, inspect_cmds, polling_cmds, prune_cmd, replay_cmd, status_cmd
from .errors import USAGE, CliError

COMMANDS = (inspect_cmds, dry_run, polling_cmds, history_cmd, replay_cmd, prune_cmd, health_cmd, status_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared",
        description="Operate the pipeline trigger bridge with the app settings in the environment "
                    "(PIPELINE_TRIGGERS, AzureWebJobsStorage, ...), exactly as the functions see them.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also print the bridge's decision log lines (event=...) on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error argparse already explained
        return stop.code if isinstance(stop.code, int) else USAGE
    with decision_lines(args.verbose):
        return run(args)


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"error: the trigger configuration is invalid ({len(error.problems)} problems):", file=sys.stderr)
        for problem in error.problems:
            print(f"- {problem}", file=sys.stderr)
        return USAGE
    except StorageSettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


@contextmanager
def decision_lines(enabled: bool) -> Iterator[None]:
    """With -v, the bridge's `event=...` lines go to stderr for this command only (main may run in-process)."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    level = LOGGER.level
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(level)
