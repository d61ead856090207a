"""Recurrence and cron triggers through the timer path: each slot fires once, whatever the ticks do."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.ledger import Ledger
from shared.runtime import current_runtime
from shared.timer_path import handle_tick
from tests.support.host import load_function, timer_payload
from tests.support.standin import PipelineStandIn

Setter = Callable[[list[Any]], None]
T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def scheduled(name: str, endpoint: str, **schedule: Any) -> dict[str, Any]:
    return {"name": name, **schedule,
            "pipeline": {"endpoint": endpoint, "experiment_name": "nightly",
                         "parameter_assignments": {"mode": "full", "limit": 10}}}


def tick(at: datetime, past_due: bool = False) -> None:
    handle_tick(past_due=past_due, now=at, runtime=current_runtime())


def slots_fired(standin: PipelineStandIn) -> int:
    return len(standin.runs)


def test_recurrence_without_start_time_runs_on_the_first_tick_through_main(
    set_triggers: Setter, standin: PipelineStandIn
) -> None:
    set_triggers([scheduled("hourly", standin.published_pipeline_url(), recurrence={"frequency": "Hour"})])
    timer = load_function("timer_trigger")
    timer.invoke(timer_payload())
    timer.invoke(timer_payload(past_due=True))

    assert slots_fired(standin) == 1
    body = standin.requests[0].body
    key = body["Properties"]["bridge_run_key"]
    assert key.startswith("pb-")
    assert body == {"ExperimentName": "nightly", "ParameterAssignments": {"mode": "full", "limit": "10"},
                    "RunSource": "SDK", "tags": {"bridge_run_key": key}, "Properties": {"bridge_run_key": key}}


def test_each_slot_fires_once_across_early_late_and_duplicate_ticks(
    set_triggers: Setter, standin: PipelineStandIn
) -> None:
    set_triggers([scheduled("every-15", standin.published_pipeline_url(),
                            recurrence={"frequency": "Minute", "interval": 15})])
    tick(T0 + timedelta(seconds=2))  # anchors at 10:00 and fires it
    tick(T0 + timedelta(seconds=40))  # a duplicate tick in the same minute
    tick(T0 + timedelta(minutes=14, seconds=59))  # early: 10:15 is not due yet
    assert slots_fired(standin) == 1
    tick(T0 + timedelta(minutes=15, seconds=1), past_due=True)
    tick(T0 + timedelta(minutes=16))  # late tick: nothing new
    assert slots_fired(standin) == 2

    [entry_10, entry_15] = sorted(Ledger.from_settings().entries(), key=lambda e: e.firing["slot"])
    assert (entry_10.firing["slot"], entry_15.firing["slot"]) == ("2026-11-25T10:00:00Z", "2026-11-25T10:15:00Z")


def test_after_an_outage_only_the_latest_missed_slot_fires_and_the_skip_is_logged(
    set_triggers: Setter, standin: PipelineStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    set_triggers([scheduled("every-10", standin.published_pipeline_url(),
                            recurrence={"frequency": "Minute", "interval": 10})])
    tick(T0)
    with caplog.at_level(logging.INFO, logger="pipeline_bridge"):
        tick(T0 + timedelta(hours=5, minutes=3))  # down for five hours
    assert slots_fired(standin) == 2
    slots = sorted(e.firing["slot"] for e in Ledger.from_settings().entries())
    assert slots == ["2026-11-25T10:00:00Z", "2026-11-25T15:00:00Z"]
    assert any("event=missed_slots_skipped" in r.message and "skipped=29" in r.message for r in caplog.records)


def test_start_time_in_the_past_waits_for_the_next_computed_slot(
    set_triggers: Setter, standin: PipelineStandIn
) -> None:
    set_triggers([scheduled("daily", standin.published_pipeline_url(),
                            recurrence={"frequency": "Day", "start_time": "2026-01-01T06:30:00",
                                        "time_zone": "Europe/Berlin"})])
    tick(T0)  # 11:00 Berlin: today's 06:30 is history
    assert slots_fired(standin) == 0
    tick(datetime(2026, 11, 26, 5, 30, 5, tzinfo=UTC))  # 06:30 CET = 05:30Z
    assert slots_fired(standin) == 1


def test_start_time_in_the_future_fires_nothing_before_it(set_triggers: Setter, standin: PipelineStandIn) -> None:
    set_triggers([scheduled("later", standin.published_pipeline_url(),
                            recurrence={"frequency": "Hour", "start_time": "2026-11-25T12:00:00"})])
    tick(T0)
    tick(T0 + timedelta(hours=1, minutes=59))
    assert slots_fired(standin) == 0
    tick(T0 + timedelta(hours=2))
    assert slots_fired(standin) == 1


def test_cron_trigger_fires_on_its_slots(set_triggers: Setter, standin: PipelineStandIn) -> None:
    set_triggers([scheduled("cron", standin.published_pipeline_url(), cron="0 */30 * * * *")])
    tick(T0 + timedelta(minutes=5))  # armed after 10:00: that slot is history
    tick(T0 + timedelta(minutes=30))
    tick(T0 + timedelta(minutes=31))
    assert slots_fired(standin) == 1


def test_two_hosts_ticking_at_once_fire_the_slot_once(set_triggers: Setter, standin: PipelineStandIn) -> None:
    set_triggers([scheduled("hourly", standin.published_pipeline_url(), recurrence={"frequency": "Hour"})])
    tick(T0)
    barrier = threading.Barrier(4)

    def host() -> None:
        barrier.wait()
        tick(T0 + timedelta(hours=1))

    threads = [threading.Thread(target=host) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slots_fired(standin) == 2


def test_disabled_schedule_does_not_fire_and_resumes_at_its_next_slot(
    set_triggers: Setter, standin: PipelineStandIn
) -> None:
    trigger = scheduled("hourly", standin.published_pipeline_url(), recurrence={"frequency": "Hour"})
    set_triggers([trigger])
    tick(T0)
    set_triggers([{**trigger, "status": "Disabled"}])
    tick(T0 + timedelta(hours=1))
    tick(T0 + timedelta(hours=2))
    assert slots_fired(standin) == 1
    set_triggers([trigger])
    tick(T0 + timedelta(hours=2, minutes=30))  # re-enabled: the missed slots are not replayed
    assert slots_fired(standin) == 1
    tick(T0 + timedelta(hours=3))
    assert slots_fired(standin) == 2


def test_transient_failure_retries_the_same_slot_on_the_next_tick(
    set_triggers: Setter, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    set_triggers([scheduled("hourly", standin.published_pipeline_url(), recurrence={"frequency": "Hour"})])
    standin.fail_next(503)
    tick(T0)
    assert slots_fired(standin) == 0
    tick(T0 + timedelta(minutes=1))
    assert slots_fired(standin) == 1
    [entry] = list(Ledger.from_settings().entries())
    assert entry.firing["slot"] == "2026-11-25T10:00:00Z" and entry.state == "submitted" and entry.attempts == 2


def test_a_failed_slot_of_a_frequent_schedule_is_retried_after_the_next_slot_is_due(
    set_triggers: Setter, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient failure is retried on later ticks until the slot is submitted or recorded failed, even when
    newer slots fire meanwhile: it is not counted as missed (#12.5)."""
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    set_triggers([scheduled("every-minute", standin.published_pipeline_url(), recurrence={"frequency": "Minute"})])
    standin.fail_next(503, times=2)
    tick(T0)  # 10:00 fails
    tick(T0 + timedelta(minutes=1))  # 10:00 fails again, 10:01 runs
    tick(T0 + timedelta(minutes=2))  # 10:00 runs, 10:02 runs
    tick(T0 + timedelta(minutes=2, seconds=30))  # nothing left to do

    entries = {e.firing["slot"]: e for e in Ledger.from_settings().entries()}
    assert sorted(entries) == ["2026-11-25T10:00:00Z", "2026-11-25T10:01:00Z", "2026-11-25T10:02:00Z"]
    assert {slot: e.state for slot, e in entries.items()} == dict.fromkeys(entries, "submitted")
    assert entries["2026-11-25T10:00:00Z"].attempts == 3 and slots_fired(standin) == 3


def test_a_slot_that_keeps_failing_is_recorded_failed_and_then_left_alone(
    set_triggers: Setter, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("PIPELINE_MAX_DELIVERY_ATTEMPTS", "2")
    set_triggers([scheduled("hourly", standin.published_pipeline_url(), recurrence={"frequency": "Hour"})])
    standin.fail_next(503, times=2)
    tick(T0)
    tick(T0 + timedelta(minutes=1))  # second and last attempt: recorded failed
    tick(T0 + timedelta(minutes=2))

    [entry] = list(Ledger.from_settings().entries())
    assert entry.state == "failed" and entry.attempts == 2
    assert len(standin.requests) == 2
