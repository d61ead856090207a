"""Checks the kinds' `check` functions share: common fields a kind cannot send, and the endpoint's parts.

A field the service has no place for is rejected rather than ignored: a setting that silently does
nothing is worse than a deploy that fails with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from ..endpoints import endpoint_problem
from ..validation import FieldReader


def reject_fields(reader: FieldReader, kind: str, reasons: Mapping[str, str]) -> None:
    """One problem per field (of `reasons`: field -> why) that the trigger sets."""
    for key, reason in reasons.items():
        if reader.data.get(key) is not None:
            reader.problem(key, f"is not used by kind {kind}: {reason}")


PARAMETERS_ONLY = ("experiment_name", "datastore_name", "data_path_parameter_name", "data_path_assignments",
                   "continue_on_step_failure", "description", "tags")


def parameters_only(service: str, what: str = "pipeline parameters") -> dict[str, str]:
    """The reasons for a service whose request carries parameters and nothing else (Data Factory and the like)."""
    return dict.fromkeys(PARAMETERS_ONLY, f"{service} takes only {what}; pass the value in parameter_assignments")


def endpoint_parts(reader: FieldReader) -> SplitResult | None:
    """The endpoint URL split, or None when it is unusable (the common checks already say why)."""
    endpoint = reader.data.get("endpoint")
    if not isinstance(endpoint, str) or endpoint_problem(endpoint) is not None:
        return None
    return urlsplit(endpoint)


def check_endpoint_path(reader: FieldReader, pattern: re.Pattern[str], shape: str, path: str, query: str) -> None:
    """The endpoint names the resource the bridge appends `path` and `query` to: its path matches `pattern`
    (else `shape` says what it must be) and it carries no query of its own."""
    parts = endpoint_parts(reader)
    if parts is None:
        return
    if not pattern.search(parts.path):
        reader.problem("endpoint", f"must be {shape} (without {path}: the bridge adds it)")
    if parts.query:
        reader.problem("endpoint", f"must not carry a query: the bridge adds {query}")


def parameter_clash(reader: FieldReader, option: str, name: str | None) -> None:
    """A name the kind fills from the blob must not also be a fixed parameter: one would overwrite the other."""
    parameters = reader.data.get("parameter_assignments")
    if name and isinstance(parameters, Mapping) and name in parameters:
        reader.problem(option, f"names {name!r}, which parameter_assignments also sets; the changed blob "
                               "would overwrite that value, so use a different name")
