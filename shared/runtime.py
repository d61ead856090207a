"""The per-process parts every invocation reuses: configuration, ledger and submitter.

Building them once keeps warm invocations to the work itself (no new credential, HTTP session or
storage client per event); tests get fresh ones simply by changing settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoints import StateStore
from .config import BridgeConfig, ConfigError, load_config
from .ledger import Ledger
from .submitter import RetryPolicy, Submitter, shared_submitter


@dataclass(frozen=True)
class Runtime:
    config: BridgeConfig
    ledger: Ledger
    submitter: Submitter
    state: StateStore  # schedule and sweep progress, kept beside the ledger records


def check_lease(ledger: Ledger, policy: RetryPolicy) -> None:
    """A claim must outlive the longest submission, or a slow one can be taken over and sent twice."""
    lease = ledger.lease.total_seconds()
    longest = policy.budget + policy.connect_timeout + policy.read_timeout
    if lease <= longest:
        raise ConfigError([
            f"PIPELINE_CLAIM_LEASE_SECONDS ({lease:g}) must be longer than the longest submission, "
            f"PIPELINE_RETRY_BUDGET_SECONDS + PIPELINE_CONNECT_TIMEOUT_SECONDS + PIPELINE_READ_TIMEOUT_SECONDS "
            f"({longest:g}): otherwise a slow submission can be taken over and sent twice"
        ])


def current_runtime() -> Runtime:
    """Raises `ConfigError` (every problem listed) when the configuration is invalid: fail loudly."""
    ledger = Ledger.from_settings()
    runtime = Runtime(config=load_config(), ledger=ledger, submitter=shared_submitter(),
                      state=StateStore(ledger.container))
    check_lease(runtime.ledger, runtime.submitter.policy)
    ledger.ensure_container()  # the only storage call here: once per process, not per use of `state`
    return runtime
