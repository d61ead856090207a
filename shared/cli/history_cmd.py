"""`history`: ledger entries newest first, to answer "did this blob run, and if not, why"."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..clock import utc_now
from ..ledger import FAILED, RELEASED, UNCERTAIN, Ledger
from ..ledger_listing import LedgerListing
from .entries import as_json, entries_table
from .errors import ledger_storage, storage_errors
from .output import print_json
from .parsing import add_command, duration


def since_value(text: str) -> datetime:
    """`2h`, `3d`, `30m` ago, or an ISO time (UTC when it names no offset)."""
    text = text.strip()
    if (ago := duration(text)) is not None:
        return utc_now() - ago
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a duration like 2h/3d/30m nor an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {text!r})")
    return int(text)


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "history", "ledger entries, newest first",
        "Ledger entries newest first: blob (or slot), ETag, trigger, state, run id, attempts, last error, updated "
        "time and short key (for replay).", run)
    parser.add_argument("--trigger", help="only this trigger's entries")
    parser.add_argument("--failed", action="store_true", help="only entries in state failed, released or uncertain")
    parser.add_argument("--since", type=since_value, metavar="WHEN",
                        help="only entries updated since WHEN: a duration ago (2h, 3d, 30m) or an ISO time")
    parser.add_argument("--limit", type=positive, default=50, metavar="N", help="at most N entries (default 50)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def run(args: argparse.Namespace) -> int:
    """One listing of the ledger (one trigger's folder with --trigger); only the entries shown are downloaded,
    and for the table only those whose firing did not fit in the listing's metadata."""
    states = {FAILED, RELEASED, UNCERTAIN} if args.failed else None
    with storage_errors(ledger_storage()):
        listing = LedgerListing(Ledger.from_settings())
        page = listing.newest(args.limit, args.trigger, states, args.since)
        if args.json:
            print_json([as_json(entry) for entry in map(listing.entry, page.rows) if entry is not None])
            return 0
        rows = [row for row in map(listing.complete, page.rows) if row is not None]
    if not rows:
        print("no ledger entries match")
        return 0
    print(entries_table(rows))
    if page.not_shown:
        print(f"({page.not_shown} older entries not shown: raise --limit)")
    return 0
