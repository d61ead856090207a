"""Azure Synapse pipelines: `createRun` on the workspace's development endpoint (docs/services.md,
"Azure Synapse pipelines").

Synapse runs Data Factory's pipeline engine, so the body is `adf_pipeline`'s: typed parameters, the
blob's `folderPath` and `fileName`, and the run key in `run_key_parameter`; so is the lookup by run key
(`queryPipelineRuns`, on the workspace). Only the URL (the workspace's `dev.azuresynapse.net` host), the
api-version, the token's scope and the 202 answer differ.
"""

from __future__ import annotations

import re
from typing import Any

from ..firing import Firing
from ..validation import FieldReader
from . import adf_pipeline
from .fields import check_endpoint_path, parameters_only, reject_fields
from .pipeline_runs_query import pipeline_runs_lookup
from .request import PipelineRequest
from .spec import PipelineTarget, TargetKind, json_request

NAME = "synapse_pipeline"
SCOPE_SYNAPSE = "https://dev.azuresynapse.net/.default"
API_VERSION = "2020-12-01"
PIPELINE_PATH = re.compile(r"/pipelines/[^/]+/?$")
SHAPE = "the pipeline's URL, https://{workspace}.dev.azuresynapse.net/pipelines/{pipeline}"
UNUSED = parameters_only("Synapse's createRun")


def check(reader: FieldReader, is_watch: bool) -> dict[str, Any]:
    reject_fields(reader, NAME, UNUSED)
    check_endpoint_path(reader, PIPELINE_PATH, SHAPE, "/createRun", f"?api-version={API_VERSION}")
    return adf_pipeline.check_parameters(reader, is_watch)


def build(target: PipelineTarget, firing: Firing, run_key: str) -> PipelineRequest:
    url = f"{target.endpoint.rstrip('/')}/createRun?api-version={API_VERSION}"
    return json_request(target, url, adf_pipeline.run_parameters(target, firing, run_key), run_key)


KIND = TargetKind(
    name=NAME,
    default_scope=SCOPE_SYNAPSE,
    option_fields=adf_pipeline.KIND.option_fields,
    check=check,
    build=build,
    run_id=adf_pipeline.run_id,
    lookup=pipeline_runs_lookup(API_VERSION),
    run_key_plan=adf_pipeline.run_key_plan,
)
