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

    @property
    def state(self) -> StateStore:
        """Schedule and sweep progress, kept beside the ledger records."""
        self.ledger.ensure_container()
        return StateStore(self.ledger.container)


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
    runtime = Runtime(config=load_config(), ledger=Ledger.from_settings(), submitter=shared_submitter())
    check_lease(runtime.ledger, runtime.submitter.policy)
    return runtime
