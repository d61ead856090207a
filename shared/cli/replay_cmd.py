"""`replay`: resubmit failed ledger entries once their cause is fixed, through the ledger.

`Ledger.reopen` claims only a `failed` entry, or a stalled one (released or uncertain, and nothing retried it
for an hour: its events expired and no sweep lists it), so a submitted one is never replayed and two
operators replaying at once submit once. The stored request is sent as it was, unless `--rebuild` builds it
from the current configuration (when the fix was a configuration change). The request is prepared
before the entry is claimed, so a request that cannot be built never strands a claim.

An entry whose last attempt may have started a run (uncertain) is looked up by its run key first: a run
found is recorded, nothing is sent. Only for kinds without a lookup does the operator have to check the
service; the confirmation says so.
"""

from __future__ import annotations

import argparse
import dataclasses

from ..clock import utc_now
from ..config import BridgeConfig, ConfigError, load_config
from ..dispatch import FiringResult, Outcome, build_request, submit_claimed
from ..firing import BlobVersion, Firing, firing_from_record
from ..ledger import (
    CLAIMED,
    FAILED,
    RELEASED,
    STALLED_HOURS,
    SUBMITTED,
    UNCERTAIN,
    Ledger,
    LedgerEntry,
    Refusal,
    stalled,
)
from ..ledger_listing import LedgerListing
from ..listing import watched_container
from ..submitter import shared_submitter
from ..targets import TARGET_KINDS, PipelineRequest
from .entries import MIN_PREFIX, SHORT_KEY, entries_table, error_text, subject
from .errors import USAGE, CliError, find_trigger, ledger_storage, storage_errors
from .parsing import add_command, add_yes_option
from .terminal import Progress, confirm


def register(commands: argparse._SubParsersAction) -> None:
    parser = add_command(
        commands, "replay", "resubmit failed entries after the cause is fixed",
        "Resubmit failed ledger entries through the ledger: one entry by key (at least 8 characters of it), every "
        "failed entry (--failed), or every stalled one (--stalled), optionally of one --trigger. A replay that "
        "succeeds is recorded as submitted; a submitted entry is never replayed.", run)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("key", nargs="?", metavar="ID", help="the entry's key or a prefix of it (8+ characters)")
    which.add_argument("--failed", action="store_true",
                       help="every entry in state failed (released ones are retried by the bridge itself; but see "
                            "--stalled)")
    which.add_argument("--stalled", action="store_true",
                       help=f"every released or uncertain entry nothing has retried for {STALLED_HOURS} h (its "
                            "events expired and no sweep lists it); uncertain ones are looked up first")
    parser.add_argument("--trigger", help="only this trigger's entries")
    parser.add_argument("--rebuild", action="store_true",
                        help="build the request from the current configuration instead of the stored one")
    add_yes_option(parser)


def run(args: argparse.Namespace) -> int:
    ledger = Ledger.from_settings()
    with storage_errors(ledger_storage()):
        entries = [entry_by_key(ledger, args.key, args.trigger)] if args.key else listed(ledger, args)
    if not entries:
        print(f"no {'stalled' if args.stalled else 'failed'} entries: nothing to replay")
        return 0
    config = load_config() if args.rebuild else None
    requests = [prepare(entry, config) for entry in entries]
    print(entries_table(entries))
    for entry, (_, request) in zip(entries, requests, strict=True):
        if may_have_run(entry) and not TARGET_KINDS[request.kind].can_look_up(request):
            print(f"warning: {entry.key[:SHORT_KEY]} may already have started a run, and kind {request.kind} has no "
                  "lookup: check the service for it before replaying")
        elif may_have_run(entry):
            print(f"note: {entry.key[:SHORT_KEY]} may already have started a run: it is looked up by its run key "
                  f"{request.run_key} first, and resubmitted only if not found")
    confirm(f"Replay {len(entries)} entr{'ies' if len(entries) != 1 else 'y'}"
            f"{' with requests rebuilt from the current configuration' if args.rebuild else ''}?", args.yes)
    results: list[FiringResult | Refusal] = []
    with storage_errors(ledger_storage()), Progress("replay", total=len(entries)) as progress:
        for done, (entry, (firing, request)) in enumerate(zip(entries, requests, strict=True), start=1):
            results.append(replay_one(ledger, entry, firing, request))
            progress(done)
    for entry, result in zip(entries, results, strict=True):
        print(result_text(entry, result))
    return 0 if all(isinstance(r, FiringResult) and r.outcome is Outcome.SUBMITTED for r in results) else 1


def listed(ledger: Ledger, args: argparse.Namespace) -> list[LedgerEntry]:
    if not args.stalled:
        return list(ledger.entries(args.trigger, {FAILED}))
    now = utc_now()
    return [entry for entry in ledger.entries(args.trigger, {RELEASED, UNCERTAIN})
            if stalled(entry.state, entry.updated_at, now)]


def entry_by_key(ledger: Ledger, prefix: str, trigger: str | None) -> LedgerEntry:
    if len(prefix) < MIN_PREFIX:
        raise CliError(f"give at least {MIN_PREFIX} characters of the key (see `history`); got {prefix!r}", USAGE)
    listing = LedgerListing(ledger)
    try:
        matches = listing.find(prefix.lower(), trigger, configured_triggers())
    except ValueError as error:
        raise CliError(f"{error} (see `history`)", USAGE) from None
    if len(matches) > 1:
        shown = [row for row in map(listing.complete, matches) if row is not None]
        raise CliError(f"key prefix {prefix!r} is ambiguous; it matches:\n{entries_table(shown)}", USAGE)
    entry = listing.entry(matches[0]) if matches else None
    if entry is None:
        raise CliError(f"no ledger entry has a key starting {prefix!r}")
    if entry.state != FAILED and not stalled(entry.state, entry.updated_at, utc_now()):
        why = {SUBMITTED: f"it already started run {entry.run_id}",
               RELEASED: "a transient failure: the next event delivery or sweep retries it",
               CLAIMED: "a submission is under way",
               UNCERTAIN: "the service may have started a run: the next event delivery or sweep looks it up by its "
                          "run key"}.get(entry.state, "")
        raise CliError(f"entry {entry.key[:SHORT_KEY]} is {entry.state} ({why}), not failed: only failed entries, "
                       f"and released or uncertain ones nothing has retried for {STALLED_HOURS} h, are replayed")
    return entry


def may_have_run(entry: LedgerEntry) -> bool:
    return entry.uncertain_at is not None or bool(entry.error and entry.error.get("ambiguous"))


def configured_triggers() -> list[str]:
    """Where a key is most likely found; an invalid configuration only means looking everywhere."""
    try:
        return [t.name for t in load_config().triggers]
    except ConfigError:
        return []


def prepare(entry: LedgerEntry, config: BridgeConfig | None) -> tuple[Firing, PipelineRequest]:
    """The firing (for the decision log) and the request to send: stored, or rebuilt from `config`."""
    firing = firing_from_record(entry.firing)
    if config is None:
        if not entry.request:
            raise CliError(f"entry {entry.key[:SHORT_KEY]} holds no stored request: use --rebuild")
        request = PipelineRequest.from_json(entry.request)
        if request.kind not in TARGET_KINDS:
            raise CliError(f"entry {entry.key[:SHORT_KEY]} holds a request for kind {request.kind!r}, which this "
                           "version does not know: use --rebuild")
        return firing, request
    trigger = find_trigger(config, entry.trigger)
    if isinstance(firing, BlobVersion) and trigger.watch is not None:
        firing = dataclasses.replace(firing, url=watched_container(trigger.watch).get_blob_client(firing.name).url)
    return firing, build_request(trigger, firing)


def replay_one(ledger: Ledger, entry: LedgerEntry, firing: Firing, request: PipelineRequest) -> FiringResult | Refusal:
    claim = ledger.reopen(entry, include_stalled=True)
    if isinstance(claim, Refusal):
        return claim
    claim.entry.request = request.to_json()  # what is recorded is what was sent
    return submit_claimed(entry.trigger, firing, claim, request, ledger=ledger, submitter=shared_submitter(),
                          source="replay", retry_later=False, operator_checked=True)


def result_text(entry: LedgerEntry, result: FiringResult | Refusal) -> str:
    head = f"{entry.key[:SHORT_KEY]} {entry.trigger} {subject(entry)}:"
    if isinstance(result, Refusal):
        return f"{head} not replayed: it is {result.entry.state} now"
    if result.outcome is Outcome.SUBMITTED:
        return f"{head} submitted, run {result.run_id or '(no run id returned)'}"
    error = error_text(result.error.to_json()) if result.error else "unknown error"
    return f"{head} failed again: {error}"
