"""Trigger configurations for tests, written the way users write them."""

from __future__ import annotations

from typing import Any


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
