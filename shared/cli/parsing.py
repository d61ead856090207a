"""How a command module declares itself to the parser, so every command gets `--help` text the same way."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import timedelta

Handler = Callable[[argparse.Namespace], int]
DURATION = re.compile(r"^(\d+)([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(text: str) -> timedelta | None:
    """`30s`, `30m`, `2h`, `3d`, `4w`, or None when the text is not such a duration."""
    match = DURATION.match(text.strip())
    return timedelta(**{UNITS[match[2]]: int(match[1])}) if match else None


def add_command(commands: argparse._SubParsersAction, name: str, summary: str, description: str,
                handler: Handler) -> argparse.ArgumentParser:
    """`summary` is the line in `python -m shared --help`; `description` heads the command's own `--help`."""
    parser = commands.add_parser(name, help=summary, description=description)
    parser.set_defaults(handler=handler)
    return parser


def add_yes_option(parser: argparse.ArgumentParser) -> None:
    """For commands that submit runs: they ask first on a terminal and refuse without one unless given --yes."""
    parser.add_argument("--yes", action="store_true",
                        help="do not ask for confirmation (required when stdin is not a terminal)")
