"""The run key: one per firing, derived from its ledger key, carried on every submission.

The same trigger and the same blob version (or scheduled slot) always give the same key, so a service
that deduplicates by a client token (Databricks `idempotency_token`, an AML v2 job name) never starts a
second run for it, and for the other services the run can be found again by the key after an uncertain
outcome. At most 64 characters of `[A-Za-z0-9_-]`: the key goes unescaped into OData filters and into
Databricks tokens (64 characters at most).
"""

from __future__ import annotations

import re

RUN_KEY_PREFIX = "pb-"
RUN_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY_DIGITS = 40  # 160 bits of the ledger key's SHA-256: collisions are out of reach


def run_key_for(ledger_key: str) -> str:
    """The run key of the firing whose ledger key (a SHA-256 hex digest) is given."""
    key = RUN_KEY_PREFIX + ledger_key[:_KEY_DIGITS]
    if not RUN_KEY_PATTERN.match(key):
        raise ValueError(f"ledger key {ledger_key!r} does not give a valid run key")
    return key
