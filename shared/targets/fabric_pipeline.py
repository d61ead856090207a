"""Microsoft Fabric data pipelines: an on-demand `Pipeline` job of the pipeline item (Fabric job scheduler).

Fabric answers 202 with the new job instance's URL in `Location`; its last segment is the run id
(docs/services.md, "Microsoft Fabric data pipelines"). Parameters are those of a Data Factory pipeline
(typed, with the blob's `folderPath` and `fileName`, and the run key in `run_key_parameter`), under
`executionData.parameters`. Fabric lists job instances without their parameters, so a run cannot be found
by its key: an uncertain outcome stays for an operator to check (the pipeline may record the key itself).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..firing import Firing
from ..validation import FieldReader
from . import adf_pipeline
from .fields import check_endpoint_path, parameters_only, reject_fields
from .request import PipelineRequest, ServiceAnswer
from .run_key_slot import OPTION
from .spec import PipelineTarget, RunKeyPlan, TargetKind, json_request

NAME = "fabric_pipeline"
SCOPE_FABRIC = "https://api.fabric.microsoft.com/.default"
UUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
ITEM_PATH = re.compile(rf"/v1/workspaces/{UUID}/items/{UUID}/?$")
ITEM_SHAPE = ("the pipeline item's URL, https://api.fabric.microsoft.com/v1/workspaces/{workspaceId}/items/{itemId} "
              "(both ids are GUIDs, from the pipeline's address in the Fabric portal)")
JOBS = "/jobs/instances"
QUERY = "?jobType=Pipeline"
UNUSED = parameters_only("a Fabric pipeline job")


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    reject_fields(reader, NAME, UNUSED)
    check_endpoint_path(reader, ITEM_PATH, ITEM_SHAPE, JOBS, QUERY)
    return adf_pipeline.check_parameters(reader, is_watch)


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    body = {"executionData": {"parameters": adf_pipeline.run_parameters(target, firing, run_key)}}
    return json_request(target, f"{target.endpoint.rstrip('/')}{JOBS}{QUERY}", body, run_key)


def run_id(answer: ServiceAnswer) -> str | None:
    """The job instance id: the last segment of the `Location` URL."""
    location = answer.headers.get("Location") or ""
    return urlsplit(location).path.rstrip("/").rpartition("/")[2] or None


def run_key_plan(target: PipelineTarget) -> RunKeyPlan:
    parameter = target.options.get(OPTION)
    return RunKeyPlan(f"pipeline parameter {parameter}" if parameter else "not attached", None,
                      "Fabric lists job instances without their parameters, so no run can be found by its key")


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_FABRIC,
    option_fields=adf_pipeline.KIND.option_fields,
    check=check,
    build=build,
    run_id=run_id,
    run_key_plan=run_key_plan,
)
