"""The per-process parts every invocation reuses: configuration, ledger and submitter.

Building them once keeps warm invocations to the work itself (no new credential, HTTP session or
storage client per event); tests get fresh ones simply by changing settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoints import StateStore
from .config import BridgeConfig, load_config
from .ledger import Ledger
from .submitter import Submitter, shared_submitter


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


def current_runtime() -> Runtime:
    """Raises `ConfigError` (every problem listed) when the configuration is invalid: fail loudly."""
    return Runtime(config=load_config(), ledger=Ledger.from_settings(), submitter=shared_submitter())
