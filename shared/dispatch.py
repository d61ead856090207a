"""One firing of one trigger: build the request -> claim in the ledger -> submit -> record the outcome.

Shared by the event path, the sweep, the schedules and operator replays, so every path gets the same
exactly-once rules and the same decision log lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .config import Trigger
from .firing import Firing
from .ledger import CLAIMED, FAILED, RELEASED, SUBMITTED, Claim, Ledger, Refusal, entry_key
from .logs import log_decision
from .run_keys import run_key_for
from .submitter import SubmitError, SubmitResult
from .targets import PipelineRequest, target_kind


class RequestSender(Protocol):
    """What a firing needs of the submitter (the sweep wraps it to bound requests in flight)."""

    def submit(self, request: PipelineRequest) -> SubmitResult: ...


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    DUPLICATE = "duplicate"  # the ledger already holds a final record (submitted or failed)
    IN_PROGRESS = "in_progress"  # another invocation holds a live claim
    FAILED = "failed"  # recorded as failed: an operator replays it
    RETRY = "retry"  # recorded as released: the next delivery or sweep tries again


# The entry's state after recording a failure: normally released or failed, but a claim whose lease ran out
# may find that another invocation took the entry over meanwhile (and perhaps submitted it).
OUTCOME_OF_STATE = {RELEASED: Outcome.RETRY, FAILED: Outcome.FAILED, SUBMITTED: Outcome.DUPLICATE,
                    CLAIMED: Outcome.IN_PROGRESS}


@dataclass(frozen=True)
class FiringResult:
    trigger: str
    firing: Firing
    outcome: Outcome
    ledger_key: str
    run_id: str | None = None
    error: SubmitError | None = None


def build_request(trigger: Trigger, firing: Firing) -> PipelineRequest:
    """The kind's request, carrying the firing's run key (the same firing always gets the same key)."""
    key = run_key_for(entry_key(trigger.name, firing))
    return target_kind(trigger.pipeline.kind).build(trigger.pipeline, firing, key)


def fire(trigger: Trigger, firing: Firing, *, ledger: Ledger, submitter: RequestSender, source: str) -> FiringResult:
    request = build_request(trigger, firing)
    claim = ledger.claim(trigger.name, firing, request.to_json())
    if isinstance(claim, Refusal):
        return _refused(trigger, firing, claim, source)
    return submit_claimed(trigger.name, firing, claim, request, ledger=ledger, submitter=submitter, source=source)


def _refused(trigger: Trigger, firing: Firing, refusal: Refusal, source: str) -> FiringResult:
    outcome = Outcome.IN_PROGRESS if refusal.reason == "in_progress" else Outcome.DUPLICATE
    log_decision(
        "skipped",
        trigger=trigger.name,
        **firing.describe(),
        reason="duplicate" if outcome is Outcome.DUPLICATE else "claimed_elsewhere",
        ledger_state=refusal.entry.state,
        run_id=refusal.entry.run_id,
        ledger_key=refusal.entry.key,
        source=source,
    )
    return FiringResult(trigger.name, firing, outcome, refusal.entry.key, run_id=refusal.entry.run_id)


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
) -> FiringResult:
    """Submit and record the outcome; `retry_later=False` is for an operator's replay, which no later
    delivery repeats: a transient failure is then recorded as failed, so the operator can replay it again."""
    key = claim.entry.key
    try:
        result = submitter.submit(request)
    except SubmitError as error:
        retryable = retry_later and error.transient and not error.ambiguous
        state = ledger.record_failure(claim, error.to_json(), retryable=retryable)
        log_decision(
            "failed",
            logging.WARNING if state == RELEASED else logging.ERROR,
            trigger=trigger_name,
            **firing.describe(),
            status=error.status,
            code=error.code,
            message=error.message,
            correlation=error.correlation or None,
            attempts=error.attempts,
            ledger_state=state,
            ledger_key=key,
            source=source,
        )
        outcome = OUTCOME_OF_STATE.get(state, Outcome.FAILED)
        return FiringResult(trigger_name, firing, outcome, key, error=error)
    except BaseException:
        # An unexpected failure must not strand the claim until its lease runs out.
        ledger.record_failure(claim, {"message": "the submission was interrupted", "transient": True},
                              retryable=retry_later)
        raise
    try:
        ledger.record_submitted(claim, result.run_id)
    except Exception as error:
        # The run exists but the ledger cannot say so: once the lease runs out, the next delivery submits
        # again. This line is then the only trace of the first run, for an operator to match the two.
        log_decision("unrecorded", logging.ERROR, trigger=trigger_name, **firing.describe(), run_id=result.run_id,
                     message=f"{type(error).__name__}: {error}", ledger_key=key, source=source)
        raise
    log_decision(
        "submitted",
        logging.INFO if result.run_id else logging.WARNING,
        trigger=trigger_name,
        **firing.describe(),
        run_id=result.run_id or "(the service returned no run id)",
        latency_ms=round(result.latency * 1000),
        attempts=result.attempts,
        ledger_key=key,
        source=source,
    )
    return FiringResult(trigger_name, firing, Outcome.SUBMITTED, key, run_id=result.run_id)
