"""Where a run key goes in a request: the `bridge_run_key` property and tag of the Azure ML v1 kinds, and the
pipeline parameter a trigger may name (`pipeline.run_key_parameter`).

A pipeline parameter is the one slot every service keeps on the run and returns when runs are listed
(docs/services.md, "Azure ML v1 run history" and "Azure Data Factory"), so it is what a lookup can
rely on; the pipeline must declare it (a String with default "").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..validation import FieldReader
from .fields import parameter_clash
from .request import PipelineRequest

RUN_KEY_PROPERTY = "bridge_run_key"
OPTION = "run_key_parameter"
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_run_key_parameter(reader: FieldReader, filled: Iterable[str | None] = ()) -> dict[str, Any]:
    """`run_key_parameter` as the kinds' `options`: a plain parameter name no other value also fills."""
    value = reader.data.get(OPTION)
    if value is None:
        return {}
    if not isinstance(value, str) or not PARAMETER_NAME.match(value):
        reader.problem(OPTION, f"must be a pipeline parameter name (letters, digits and _, not starting with a "
                               f"digit; got {value!r})")
        return {}
    parameter_clash(reader, OPTION, value)
    if value in set(filled):
        reader.problem(OPTION, f"names {value!r}, which the bridge already fills with the changed blob; "
                               "use a parameter of its own")
    return {OPTION: value}


def key_parameter(parameters: Any, run_key: str | None) -> str | None:
    """The name of the parameter that carries the run key in a submitted request's parameters, if any."""
    if not run_key or not isinstance(parameters, Mapping):
        return None
    return next((str(name) for name, value in parameters.items() if value == run_key), None)


def carries_key_parameter(request: PipelineRequest, parameters: Any) -> bool:
    return key_parameter(parameters, request.run_key) is not None
