"""How a command module declares itself to the parser, so every command gets `--help` text the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


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
