"""The pipeline services the bridge can start runs on, by `pipeline.kind`."""

from __future__ import annotations

from . import (
    adf_pipeline,
    aml_pipeline_job,
    batch_endpoint,
    databricks_job,
    fabric_pipeline,
    pipeline_endpoint,
    published_pipeline,
    synapse_pipeline,
)
from .request import PipelineRequest, ServiceAnswer
from .spec import PipelineTarget, TargetKind

TARGET_KINDS: dict[str, TargetKind] = {
    kind.name: kind
    for kind in (published_pipeline.KIND, pipeline_endpoint.KIND, batch_endpoint.KIND, adf_pipeline.KIND,
                 aml_pipeline_job.KIND, databricks_job.KIND, fabric_pipeline.KIND, synapse_pipeline.KIND)
}

DEFAULT_KIND = published_pipeline.KIND.name


def target_kind(name: str) -> TargetKind:
    return TARGET_KINDS[name]


__all__ = ["DEFAULT_KIND", "TARGET_KINDS", "PipelineRequest", "PipelineTarget", "ServiceAnswer", "TargetKind",
           "target_kind"]
