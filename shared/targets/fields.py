"""Checks the kinds' `check` functions share: common fields a kind cannot send, and the endpoint's parts.

A field the service has no place for is rejected rather than ignored: a setting that silently does
nothing is worse than a deploy that fails with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from ..endpoints import endpoint_problem
from ..validation import FieldReader


def reject_fields(reader: FieldReader, kind: str, reasons: Mapping[str, str]) -> None:
    """One problem per field (of `reasons`: field -> why) that the trigger sets."""
    for key, reason in reasons.items():
        if reader.data.get(key) is not None:
            reader.problem(key, f"is not used by kind {kind}: {reason}")


def endpoint_parts(reader: FieldReader) -> SplitResult | None:
    """The endpoint URL split, or None when it is unusable (the common checks already say why)."""
    endpoint = reader.data.get("endpoint")
    if not isinstance(endpoint, str) or endpoint_problem(endpoint) is not None:
        return None
    return urlsplit(endpoint)


def parameter_clash(reader: FieldReader, option: str, name: str | None) -> None:
    """A name the kind fills from the blob must not also be a fixed parameter: one would overwrite the other."""
    parameters = reader.data.get("parameter_assignments")
    if name and isinstance(parameters, Mapping) and name in parameters:
        reader.problem(option, f"names {name!r}, which parameter_assignments also sets; the changed blob "
                               "would overwrite that value, so use a different name")
