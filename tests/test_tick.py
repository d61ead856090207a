"""A timer tick never starves the schedules: they fire first; sweeps start until a deadline, the
longest-waiting first, and the rest follow next tick. The deadline's clock is the test's own (it passes after
a given number of looks), so nothing here depends on the machine's speed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.clock import utc_now
from shared.config import ConfigError
from shared.deadline import FUNCTION_TIMEOUT_SECONDS, Deadline
from shared.runtime import current_runtime
from shared.sweep import sweep_trigger
from shared.timer_path import handle_tick
from tests.support.azurite import REPO_ROOT
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]


def after_looks(looks: int) -> Deadline:
    """A deadline that has passed once it has been looked at `looks` times."""
    count = iter(range(10**9))
    return Deadline(looks - 0.5, clock=lambda: float(next(count)))


def submitted(standin: PipelineStandIn) -> list[str]:
    return sorted(r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs
                  if "DataPathAssignments" in r.body)


def arm(name: str) -> None:
    """A sweep that ran five minutes ago: every watch trigger below is due at once."""
    runtime = current_runtime()
    sweep_trigger(runtime.config.trigger(name), runtime, runtime.state, now=utc_now() - timedelta(minutes=5))


def tick(deadline: Deadline) -> None:
    handle_tick(now=utc_now(), runtime=current_runtime(), deadline=deadline)


def upload(container: ContainerClient, names: list[str]) -> None:
    for name in names:
        container.get_blob_client(name).upload_blob(b"x", overwrite=True)


def test_schedules_fire_first_and_a_passed_deadline_defers_the_sweep(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    url = standin.published_pipeline_url()
    set_triggers([watch_trigger("landing", container.container_name, url, polling_interval=1),
                  {"name": "every-minute", "cron": "0 * * * * *", "pipeline": {"endpoint": url,
                                                                             "experiment_name": "m"}}])
    arm("landing")
    upload(container, ["a.csv"])

    tick(after_looks(0))  # the schedule still fires; the sweep waits for the next tick

    assert [r.body["ExperimentName"] for r in standin.runs] == ["m"]
    tick(after_looks(1000))
    assert submitted(standin) == ["a.csv"]


def test_the_sweep_that_waited_longest_goes_first_and_the_other_follows_next_tick(
    set_triggers: Setter, container: ContainerClient, blob_service: Any, standin: PipelineStandIn
) -> None:
    other = blob_service.get_container_client(f"{container.container_name}-b")
    other.create_container()
    url = standin.published_pipeline_url()
    set_triggers([watch_trigger("first-in-config", container.container_name, url, polling_interval=1),
                  watch_trigger("waited-longer", other.container_name, url, polling_interval=1)])
    runtime = current_runtime()
    for name, ago in (("first-in-config", 5), ("waited-longer", 9)):
        sweep_trigger(runtime.config.trigger(name), runtime, runtime.state, now=utc_now() - timedelta(minutes=ago))
    upload(container, ["a-1.csv"])
    upload(other, ["b-1.csv"])

    tick(after_looks(2))  # time for one sweep: the one whose last sweep is older
    assert submitted(standin) == ["b-1.csv"]
    tick(after_looks(2))  # now the other has waited longer
    assert submitted(standin) == ["a-1.csv", "b-1.csv"]


def test_the_tick_deadline_must_leave_room_inside_the_function_timeout(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    monkeypatch.setenv("PIPELINE_TICK_SWEEP_SECONDS", "400")
    with pytest.raises(ConfigError) as error:
        current_runtime()
    assert "PIPELINE_TICK_SWEEP_SECONDS (400) + the longest submission" in str(error.value)


def test_the_function_timeout_the_deadline_is_checked_against_is_host_jsons() -> None:
    timeout = json.loads((REPO_ROOT / "host.json").read_text())["functionTimeout"]
    hours, minutes, seconds = (int(part) for part in timeout.split(":"))
    assert hours * 3600 + minutes * 60 + seconds == FUNCTION_TIMEOUT_SECONDS
