"""A timer tick never starves the schedules: they fire first; sweeps run under a deadline, checkpoint and
continue on the next tick, the longest-waiting first; no claim is left behind. The deadline's clock is the
test's own (it passes after a given number of looks), so nothing here depends on the machine's speed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.clock import utc_now
from shared.config import ConfigError
from shared.deadline import FUNCTION_TIMEOUT_SECONDS, Deadline
from shared.ledger import CLAIMED, SUBMITTED, Ledger
from shared.runtime import current_runtime
from shared.sweep import sweep_trigger
from shared.timer_path import handle_tick
from shared.watermark import SweepState
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


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PIPELINE_SWEEP_PAGE_SIZE", "4")
    monkeypatch.setenv("PIPELINE_SWEEP_CONCURRENCY", "1")
    yield


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


def test_a_sweep_cut_by_the_deadline_continues_next_tick_without_loss_duplicates_or_stranded_claims(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, small_pages: None
) -> None:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url(),
                                polling_interval=1)])
    arm("landing")
    names = [f"f-{index:02d}.csv" for index in range(14)]
    upload(container, names)
    watermark = SweepState.read(current_runtime().state, "landing").watermark

    tick(after_looks(6))

    first = submitted(standin)
    assert 0 < len(first) < len(names)
    state = SweepState.read(current_runtime().state, "landing")
    assert state.watermark == watermark and state.progress  # not advanced: the listing is not done
    assert {e.state for e in Ledger.from_settings().entries()} == {SUBMITTED}  # nothing left claimed

    for _ in range(5):
        tick(after_looks(6))
    assert submitted(standin) == names  # each exactly once
    state = SweepState.read(current_runtime().state, "landing")
    assert not state.progress and state.watermark is not None and state.watermark >= watermark  # type: ignore[operator]
    assert CLAIMED not in {e.state for e in Ledger.from_settings().entries()}


def test_a_huge_sweep_does_not_starve_another_trigger(
    set_triggers: Setter, container: ContainerClient, blob_service: Any, standin: PipelineStandIn, small_pages: None
) -> None:
    other = blob_service.get_container_client(f"{container.container_name}-b")
    other.create_container()
    url = standin.published_pipeline_url()
    set_triggers([watch_trigger("huge", container.container_name, url, polling_interval=1),
                  watch_trigger("small", other.container_name, url, polling_interval=1)])
    arm("huge")
    arm("small")
    upload(container, [f"h-{index:02d}.csv" for index in range(30)])
    upload(other, ["s-1.csv", "s-2.csv"])

    tick(after_looks(5))  # both have waited as long; whichever goes first, the other follows next tick
    tick(after_looks(5))

    assert {"s-1.csv", "s-2.csv"} <= set(submitted(standin))
    assert len([n for n in submitted(standin) if n.startswith("h-")]) < 30  # huge is still going, checkpointed


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
