"""The per-process parts every invocation reuses: configuration, ledger and submitter.

Building them once keeps warm invocations to the work itself (no new credential, HTTP session or
storage client per event); tests get fresh ones simply by changing settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoints import StateStore
from .config import BridgeConfig, ConfigError, load_config
from .deadline import FUNCTION_TIMEOUT_SECONDS, TICK_SETTING, tick_seconds
from .ledger import Ledger
from .submitter import RetryPolicy, Submitter, shared_submitter


@dataclass(frozen=True)
class Runtime:
    config: BridgeConfig
    ledger: Ledger
    submitter: Submitter
    state: StateStore  # schedule and sweep progress, kept beside the ledger records


def longest_submission(policy: RetryPolicy) -> float:
    return policy.budget + policy.connect_timeout + policy.read_timeout


def lease_problems(ledger: Ledger, policy: RetryPolicy) -> list[str]:
    """A claim must outlive the longest submission, or a slow one can be taken over and sent twice."""
    lease = ledger.lease.total_seconds()
    longest = longest_submission(policy)
    if lease > longest:
        return []
    return [f"PIPELINE_CLAIM_LEASE_SECONDS ({lease:g}) must be longer than the longest submission, "
            f"PIPELINE_RETRY_BUDGET_SECONDS + PIPELINE_CONNECT_TIMEOUT_SECONDS + PIPELINE_READ_TIMEOUT_SECONDS "
            f"({longest:g}): otherwise a slow submission can be taken over and sent twice"]


def tick_problems(policy: RetryPolicy) -> list[str]:
    """A tick stops starting sweep work at its deadline; the blobs in flight then take at most the longest
    submission. Both together must end well inside the timer's `functionTimeout`, or the host kills the tick
    with claims in flight."""
    longest = longest_submission(policy)
    if (tick := tick_seconds()) + longest <= FUNCTION_TIMEOUT_SECONDS * 0.8:
        return []
    return [f"{TICK_SETTING} ({tick:g}) + the longest submission, PIPELINE_RETRY_BUDGET_SECONDS + "
            f"PIPELINE_CONNECT_TIMEOUT_SECONDS + PIPELINE_READ_TIMEOUT_SECONDS ({longest:g}), must stay under 80% "
            f"of the timer's functionTimeout ({FUNCTION_TIMEOUT_SECONDS:g} s in host.json): otherwise the host "
            "kills a tick with submissions in flight"]


def current_runtime() -> Runtime:
    """Raises `ConfigError` (every problem listed) when the configuration is invalid: fail loudly."""
    ledger = Ledger.from_settings()
    runtime = Runtime(config=load_config(), ledger=ledger, submitter=shared_submitter(),
                      state=StateStore(ledger.container))
    if problems := lease_problems(ledger, runtime.submitter.policy) + tick_problems(runtime.submitter.policy):
        raise ConfigError(problems)
    ledger.ensure_container()  # the only storage call here: once per process, not per use of `state`
    return runtime
