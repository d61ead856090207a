"""`python -m shared <command>`: operator commands over the same configuration, ledger and submitter
as the functions, so what an operator sees and does is exactly what the bridge sees and does."""

from .app import main

__all__ = ["main"]
