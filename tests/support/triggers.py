"""Trigger configurations for tests, written the way users write them."""

from __future__ import annotations

from typing import Any

AML_COMPONENT_ID = ("/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/"
                    "workspaces/ws-1/components/ingest/versions/1")


def watch_trigger(name: str, container: str, endpoint: str, folder: str = "", **watch: Any) -> dict[str, Any]:
    return {
        "name": name,
        "watch": {"container": container, "path_on_datastore": folder, **watch},
        "pipeline": {
            "endpoint": endpoint,
            "experiment_name": f"exp-{name}",
            "parameter_assignments": {"input_string": "sample_string3", "threshold": 0.5},
            "datastore_name": "workspaceblobstore",
            "data_path_parameter_name": "input_datapath",
        },
    }


def kind_trigger(kind: str, name: str, container: str, endpoint: str, run_key_parameter: str | None = None,
                 **watch: Any) -> dict[str, Any]:
    """A watch trigger for any kind, with only the fields that kind takes."""
    if kind in ("published_pipeline", "pipeline_endpoint"):
        trigger = watch_trigger(name, container, endpoint, **watch)
    else:
        trigger = {"name": name, "watch": {"container": container, "path_on_datastore": "", **watch},
                   "pipeline": {"endpoint": endpoint, "parameter_assignments": {"threshold": 0.5}}}
        if kind == "batch_endpoint":
            trigger["pipeline"].update(input_name="data", experiment_name=f"exp-{name}")
        if kind == "aml_pipeline_job":
            trigger["pipeline"].update(input_name="data", component_id=AML_COMPONENT_ID)
        if kind == "databricks_job":
            trigger["pipeline"].update(job_id=11)
    trigger["pipeline"]["kind"] = kind
    if run_key_parameter:
        trigger["pipeline"]["run_key_parameter"] = run_key_parameter
    return trigger
