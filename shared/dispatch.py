"""One firing of one trigger: build the request -> claim in the ledger -> look up -> submit -> record.

Shared by the event path, the sweep, the schedules and operator replays, so every path gets the same
exactly-once rules and the same decision log lines. Kind-agnostic: the kind builds the request, reads the
run id from the answer and, after an uncertain outcome, finds the run by its run key.

An outcome is *uncertain* when the service may have started the run without us knowing (an HTTP
500/502/504, a read timeout or dropped connection after sending, a cut-off answer, an interrupted
submission, a claim that expired mid-submission). Nothing is then re-sent blindly: an idempotent kind is
simply sent again (the service dedupes by the key); a kind with a lookup has its run looked up first, once
the uncertain attempt is `PIPELINE_LOOKUP_DELAY_SECONDS` old (services list new runs late) - found: recorded
`submitted` (`resolved_by: lookup`), not found: submitted; a kind without one is recorded `failed`, flagged
for an operator.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from .clock import parse_iso, utc_now
from .config import Trigger
from .content_versions import content_version
from .firing import BlobVersion, Firing
from .ledger import (
    CLAIMED,
    FAILED,
    RELEASED,
    SUBMITTED,
    UNCERTAIN,
    Claim,
    Ledger,
    Refusal,
    entry_key,
)
from .logs import log_decision
from .lookup import LookupFailedError, find_runs, lookup_window
from .run_keys import run_key_for
from .settings import float_setting
from .submitter import SubmitError, SubmitResult
from .targets import TARGET_KINDS, PipelineRequest, ServiceAnswer, TargetKind, target_kind

HOLDER_POLL_SECONDS = 0.5
RECORD_MARGIN_SECONDS = 2.0  # for the outcome's write after the last answer, inside the lease (at most a tenth)


class RequestSender(Protocol):
    """What a firing needs of the submitter (the sweep wraps it to bound requests in flight)."""

    def submit(self, request: PipelineRequest, deadline: float | None = None) -> SubmitResult: ...


class Outcome(StrEnum):
    SUBMITTED = "submitted"  # a run was started, or found by its run key
    DUPLICATE = "duplicate"  # the ledger already holds a final record: submitted, or failed (`already_failed`)
    IN_PROGRESS = "in_progress"  # another invocation holds a live claim
    FAILED = "failed"  # recorded as failed: an operator replays it
    RETRY = "retry"  # recorded released or uncertain: the next delivery or sweep tries (or looks up) again


# The entry's state after recording an outcome: normally this claim's own, but a claim whose lease ran out
# may find that another invocation took the entry over meanwhile (and perhaps submitted it).
OUTCOME_OF_STATE = {RELEASED: Outcome.RETRY, UNCERTAIN: Outcome.RETRY, FAILED: Outcome.FAILED,
                    SUBMITTED: Outcome.DUPLICATE, CLAIMED: Outcome.IN_PROGRESS}
REFUSAL_REASONS = {SUBMITTED: "duplicate", FAILED: "already_failed", "in_progress": "claimed_elsewhere",
                   UNCERTAIN: "awaiting_lookup"}


@dataclass(frozen=True)
class FiringResult:
    trigger: str
    firing: Firing
    outcome: Outcome
    ledger_key: str
    run_id: str | None = None
    error: SubmitError | None = None


def lookup_delay() -> float:
    """How old an uncertain attempt must be before a lookup that does not find its run is believed."""
    return float_setting("PIPELINE_LOOKUP_DELAY_SECONDS", 120)


def build_request(trigger: Trigger, firing: Firing) -> PipelineRequest:
    """The kind's request, carrying the firing's run key (the same firing always gets the same key)."""
    key = run_key_for(entry_key(trigger.name, firing))
    kind = target_kind(trigger.pipeline.kind)
    return dataclasses.replace(kind.build(trigger.pipeline, firing, key), idempotent=kind.idempotent)


def resolve_content_version(ledger: Ledger, blob: BlobVersion) -> BlobVersion:
    """A metadata-only change is the version whose bytes it kept (`content_versions`)."""
    ledger.ensure_container()
    return content_version(ledger.container, blob)


def fire(trigger: Trigger, firing: Firing, *, ledger: Ledger, submitter: RequestSender, source: str,
         deadline: float | None = None) -> FiringResult:
    """`deadline` (monotonic): the caller must answer by then (the event path), so the submission is bounded by
    it, and a claim held elsewhere is waited for until then rather than failing this delivery at once."""
    if isinstance(firing, BlobVersion) and firing.content_version is None:
        firing = resolve_content_version(ledger, firing)
    request = build_request(trigger, firing)
    delay = 0.0 if request.idempotent else lookup_delay()
    claim = ledger.claim(trigger.name, firing, request.to_json(), lookup_delay=delay)
    while isinstance(claim, Refusal) and claim.reason == "in_progress" and holder_let_go(ledger, claim, deadline):
        claim = ledger.claim(trigger.name, firing, request.to_json(), lookup_delay=delay)
    if isinstance(claim, Refusal):
        return _refused(trigger, firing, claim, source)
    return submit_claimed(trigger.name, firing, claim, request, ledger=ledger, submitter=submitter, source=source,
                          deadline=deadline)


def holder_let_go(ledger: Ledger, refusal: Refusal, deadline: float | None) -> bool:
    """True once the claim's holder recorded an outcome or its lease ran out; False at the deadline."""
    while deadline is not None and time.monotonic() + HOLDER_POLL_SECONDS < deadline:
        time.sleep(HOLDER_POLL_SECONDS)
        found = ledger.read(refusal.entry.blob_name)
        if found is None or found[0].state != CLAIMED or found[0].lease_expired(utc_now()):
            return True
    return False


def _refused(trigger: Trigger, firing: Firing, refusal: Refusal, source: str) -> FiringResult:
    outcome = {"in_progress": Outcome.IN_PROGRESS, UNCERTAIN: Outcome.RETRY}.get(refusal.reason, Outcome.DUPLICATE)
    entry = refusal.entry
    log_decision(
        "skipped",
        trigger=trigger.name,
        **firing.describe(),
        reason=REFUSAL_REASONS.get(refusal.reason, refusal.reason),
        ledger_state=entry.state,
        run_id=entry.run_id,
        lookup_after=_lookup_after(entry.uncertain_at) if refusal.reason == UNCERTAIN else None,
        ledger_key=entry.key,
        source=source,
    )
    return FiringResult(trigger.name, firing, outcome, entry.key, run_id=entry.run_id)


def _lookup_after(uncertain_at: str | None) -> str | None:
    if uncertain_at is None:
        return None
    moment = parse_iso(uncertain_at) + timedelta(seconds=lookup_delay())
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def submit_claimed(
    trigger_name: str,
    firing: Firing,
    claim: Claim,
    request: PipelineRequest,
    *,
    ledger: Ledger,
    submitter: RequestSender,
    source: str,
    retry_later: bool = True,
    operator_checked: bool = False,
    deadline: float | None = None,
) -> FiringResult:
    """Look up (if an earlier attempt was uncertain), submit and record the outcome.

    `retry_later=False` is for an operator's replay, which no later delivery repeats: what would be left
    for a later delivery is recorded failed instead, so the operator can replay it again.
    `operator_checked`: the operator checked the service for a run of a kind that has no lookup.
    """
    deadline = within_the_lease(claim, deadline)
    submission = _Submission(trigger_name, firing, claim, request, ledger, submitter, source, retry_later, deadline)
    kind = TARGET_KINDS.get(request.kind)
    if kind is None:  # a stored request from another version: refuse before anything is sent
        return submission.failed(SubmitError(
            f"the stored request is for kind {request.kind!r}, which this version does not know; nothing was "
            "sent (replay it with --rebuild to build it from the current configuration)", code="UnknownKind"))
    if claim.uncertain and not request.idempotent:
        resolved = submission.resolve(kind, operator_checked)
        if resolved is not None:
            return resolved
    attempted_at = utc_now()
    try:
        result = send(kind, request, submitter, deadline)
    except SubmitError as error:
        return submission.failed(error, kind, attempted_at)
    except BaseException as interruption:
        # Interrupted (or a bug): the request may have been sent, so this is uncertain, never "safe to retry".
        # Recorded if we still can; a failed write leaves the claim to expire and be looked up after takeover.
        with contextlib.suppress(Exception):
            submission.failed(SubmitError(
                f"the submission was interrupted ({type(interruption).__name__}); the request may have been sent",
                code="Interrupted", ambiguous=True), kind, attempted_at)
        raise
    return submission.recorded(read_run_id(kind, result.answer), result)


def within_the_lease(claim: Claim, deadline: float | None) -> float | None:
    """The claim's requests end before its lease runs out: otherwise another delivery could take the claim over
    while a request is still being sent and, finding no run yet, start a second one. Everything since the claim
    counts (a lookup before the submission, a wait for a request slot); what is left cuts the submission's
    timeouts, and too little sends nothing (the firing is released for the next delivery)."""
    entry = claim.entry
    if entry.lease_until is None or entry.claimed_at is None:
        return deadline
    lease_until = parse_iso(entry.lease_until)
    margin = min(RECORD_MARGIN_SECONDS, (lease_until - parse_iso(entry.claimed_at)).total_seconds() / 10)
    left = (lease_until - utc_now()).total_seconds() - margin
    bound = time.monotonic() + left
    return bound if deadline is None else min(deadline, bound)


def send(kind: TargetKind, request: PipelineRequest, sender: RequestSender,
         deadline: float | None = None) -> SubmitResult:
    """Submit; a refusal the kind reads as "this run already exists" (an AML v2 job name taken by an earlier
    attempt of the same firing) is answered by reading that run, whose answer stands for the submission's."""
    try:
        return sender.submit(request, deadline=deadline)
    except SubmitError as error:
        existing = kind.existing_run(request, error.answer) if kind.existing_run and error.answer else None
        if existing is None:
            raise
        found = sender.submit(dataclasses.replace(existing, idempotent=True), deadline=deadline)
        return dataclasses.replace(found, attempts=error.attempts + found.attempts)


def read_run_id(kind: TargetKind, answer: ServiceAnswer) -> str | None:
    """The run exists whatever its answer looks like: an unreadable id is recorded as none, never raised."""
    try:
        return kind.run_id(answer)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class _Submission:
    """One claimed firing on its way to a recorded outcome, with what every log line names."""

    trigger: str
    firing: Firing
    claim: Claim
    request: PipelineRequest
    ledger: Ledger
    submitter: RequestSender
    source: str
    retry_later: bool
    deadline: float | None

    def log(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        log_decision(event, level, trigger=self.trigger, **self.firing.describe(), **fields,
                     ledger_key=self.claim.entry.key, source=self.source)

    def result(self, state: str, error: SubmitError | None = None) -> FiringResult:
        outcome = OUTCOME_OF_STATE.get(state, Outcome.FAILED)
        return FiringResult(self.trigger, self.firing, outcome, self.claim.entry.key, error=error)

    def failed(self, error: SubmitError, kind: TargetKind | None = None,
               attempted_at: datetime | None = None) -> FiringResult:
        """Record a submission that started no known run: released, uncertain or failed, as `error` says."""
        if error.ambiguous and attempted_at is not None and kind is not None and not self.request.idempotent:
            looked_up_later = self.retry_later and kind.can_look_up(self.request)
            state = self.ledger.record_uncertain(self.claim, error.to_json(), attempted_at, final=not looked_up_later)
        else:  # nothing reached the service, or re-sending is safe (an idempotent kind): released, or failed
            retryable = self.retry_later and (error.transient or (error.ambiguous and self.request.idempotent))
            state = self.ledger.record_failure(self.claim, error.to_json(), retryable=retryable)
        self.log("failed", logging.WARNING if state in (RELEASED, UNCERTAIN) else logging.ERROR,
                 status=error.status, code=error.code, message=error.message, correlation=error.correlation or None,
                 attempts=error.attempts, uncertain=error.ambiguous or None, ledger_state=state)
        return self.result(state, error)

    def resolve(self, kind: TargetKind, operator_checked: bool) -> FiringResult | None:
        """Before re-sending an uncertain firing: its run, if the service has it; None: send it."""
        entry = self.claim.entry
        uncertain_at = parse_iso(str(entry.uncertain_at))
        if not kind.can_look_up(self.request):
            if operator_checked:
                return None
            return self.failed(SubmitError(
                "an earlier attempt may have started a run and this kind has no lookup: check the service for a "
                "run of this firing, then replay", code="UncertainNoLookup", ambiguous=True), kind, uncertain_at)
        if utc_now() < uncertain_at + timedelta(seconds=lookup_delay()):  # only a replay gets here this early
            return self.failed(SubmitError(
                f"the uncertain attempt is younger than PIPELINE_LOOKUP_DELAY_SECONDS; look again after "
                f"{_lookup_after(entry.uncertain_at)}", code="LookupTooSoon", ambiguous=True), kind, uncertain_at)
        assert kind.lookup is not None
        window = lookup_window(parse_iso(entry.created_at), utc_now())
        try:
            runs = find_runs(kind.lookup, self.request, window,
                             lambda page: self.submitter.submit(page, deadline=self.deadline))
        except LookupFailedError as error:
            return self.failed(SubmitError(str(error), code="LookupFailed", transient=True, ambiguous=True), kind,
                               uncertain_at)
        if not runs:
            self.log("looked_up", found=0, run_key=self.request.run_key, taken_over=self.claim.taken_over or None)
            return None
        other = self.ledger.record_submitted(self.claim, runs[0], resolved_by="lookup")
        self.log("resolved", run_id=runs[0], run_key=self.request.run_key, resolved_by="lookup",
                 taken_over=self.claim.taken_over or None, attempts=entry.attempts)
        for extra in [*runs[1:], *([other] if other else [])]:
            self.log("duplicate_run", logging.ERROR, run_id=runs[0], other_run_id=extra, run_key=self.request.run_key)
        return FiringResult(self.trigger, self.firing, Outcome.SUBMITTED, entry.key, run_id=runs[0])

    def recorded(self, run_id: str | None, result: SubmitResult) -> FiringResult:
        try:
            other = self.ledger.record_submitted(self.claim, run_id)
        except Exception as error:
            # The run exists but the ledger cannot say so: once the lease runs out, the next delivery looks the
            # run up by its key (kinds with a lookup). This line is the only trace of it for the other kinds.
            self.log("unrecorded", logging.ERROR, run_id=run_id, run_key=self.request.run_key,
                     message=f"{type(error).__name__}: {error}")
            raise
        if other is not None:  # a lost race after a takeover: both runs exist, both ids are kept
            self.log("duplicate_run", logging.ERROR, run_id=other, other_run_id=run_id, run_key=self.request.run_key,
                     claim_id=self.claim.entry.claim_id)
        self.log("submitted", logging.INFO if run_id else logging.WARNING,
                 run_id=run_id or "(the service returned no run id)", latency_ms=round(result.latency * 1000),
                 attempts=result.attempts, taken_over=self.claim.taken_over or None)
        return FiringResult(self.trigger, self.firing, Outcome.SUBMITTED, self.claim.entry.key, run_id=run_id)
