"""`status`: per trigger health from one ledger listing and the state documents; exit 1 only when a person
is needed, with each reason named — against real Azurite."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.checkpoints import StateStore
from shared.clock import iso, utc_now
from shared.ledger import CLAIMED, FAILED, RELEASED, SUBMITTED, UNCERTAIN, Ledger
from tests.support.cli import cli
from tests.support.ledger_records import aged_record
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
AMBIGUOUS = {"status": None, "code": "ReadTimeout", "message": "no answer", "ambiguous": True}
PERMANENT = {"status": 404, "code": "NotFound", "message": "no such pipeline"}



@pytest.fixture
def ledger(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn) -> Ledger:
    url = standin.published_pipeline_url()
    set_triggers([watch_trigger("landing", container.container_name, url),
                  {"name": "nightly", "cron": "0 30 2 * * *", "pipeline": {"endpoint": url, "experiment_name": "n"}}])
    ledger = Ledger.from_settings()
    ledger.ensure_container()
    return ledger


def state(ledger: Ledger, name: str, document: dict[str, Any]) -> None:
    StateStore(ledger.container).write(name, document, None)


def ago(**delta: float) -> str:
    return iso(utc_now() - timedelta(**delta))


def last_slot_before(now: datetime) -> datetime:
    """The most recent 02:30 UTC at or before now."""
    slot = now.replace(hour=2, minute=30, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


def test_a_healthy_bridge_exits_0_and_shows_each_triggers_figures(ledger: Ledger) -> None:
    state(ledger, "sweep/landing", {"watermark": ago(minutes=2), "last_sweep_at": ago(minutes=2)})
    state(ledger, "schedule/nightly", {"definition": "x", "anchor": "2026-01-01T00:00:00.000Z",
                                       "last_slot": iso(last_slot_before(utc_now()))})
    for _ in range(3):
        aged_record(ledger, "landing", SUBMITTED, timedelta(minutes=5))
    aged_record(ledger, "landing", RELEASED, timedelta(minutes=1))

    result = cli("status", "--json")

    assert result.code == 0, result.out
    report = json.loads(result.out)
    assert report["needs_operator"] == []
    landing, nightly = report["triggers"]
    assert (landing["trigger"], landing["kind"], landing["watermark_age"]) == ("landing", "watch", "2m")
    assert landing["entries"] == {SUBMITTED: 3, RELEASED: 1}
    assert (landing["failed"], landing["released"], landing["claimed"], landing["uncertain"]) == (0, 1, 0, 0)
    assert nightly["kind"] == "schedule"
    assert datetime.fromisoformat(nightly["next_slot"]) == last_slot_before(utc_now()) + timedelta(days=1)

    text = cli("status")
    assert text.code == 0 and "nothing needs an operator" in text.out
    assert text.out.splitlines()[0].split()[:4] == ["TRIGGER", "KIND", "LAST", "SWEEP"]


def test_each_thing_that_needs_an_operator_is_named_and_exits_1(ledger: Ledger) -> None:
    state(ledger, "sweep/landing", {"watermark": ago(hours=3), "last_sweep_at": ago(hours=1)})
    state(ledger, "schedule/nightly", {"definition": "x", "anchor": "2026-01-01T00:00:00.000Z",
                                       "last_slot": iso(last_slot_before(utc_now()) - timedelta(days=1))})
    aged_record(ledger, "landing", FAILED, timedelta(hours=2), error=PERMANENT)
    oldest = aged_record(ledger, "landing", FAILED, timedelta(hours=5), error=AMBIGUOUS)
    aged_record(ledger, "landing", FAILED, timedelta(hours=1), error=AMBIGUOUS)
    aged_record(ledger, "landing", UNCERTAIN, timedelta(minutes=10), error=AMBIGUOUS)  # its lookup is still to come
    aged_record(ledger, "landing", CLAIMED, timedelta(minutes=30))  # its lease ran out then
    aged_record(ledger, "landing", RELEASED, timedelta(hours=3))
    aged_record(ledger, "removed", FAILED, timedelta(days=3), error=PERMANENT)

    result = cli("status", "--json")

    assert result.code == 1
    report = json.loads(result.out)
    landing = report["triggers"][0]
    assert (landing["failed"], landing["uncertain"], landing["stale_claims"]) == (3, 3, 1)
    assert landing["oldest_uncertain"] == oldest.updated_at
    problems = "\n".join(report["needs_operator"])
    assert "landing: 1 failed: fix the cause, then `python -m shared replay --failed --trigger landing`" in problems
    assert f"landing: 2 failed with an uncertain outcome (oldest uncertain {oldest.updated_at})" in problems
    assert "landing: 1 claims whose lease ran out" in problems
    assert "landing: 1 released or uncertain entries not retried for over 1 h" in problems
    assert "landing: the polling sweep is overdue" in problems
    assert "landing: the sweep's watermark is held back" in problems
    assert "nightly: slot " in problems and "is due and has not fired" in problems
    assert "removed: 1 failed" in problems
    assert report["triggers"][-1]["kind"] == "(not configured)"
    assert len(report["needs_operator"]) == 8

    text = cli("status")
    assert text.code == 1 and "needs an operator:" in text.out


def test_a_ledger_nobody_wrote_yet_is_healthy(set_triggers: Setter, container: ContainerClient,
                                              standin: PipelineStandIn) -> None:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    result = cli("status", "--json")
    assert result.code == 0
    [landing] = json.loads(result.out)["triggers"]
    assert (landing["last_sweep_at"], landing["entries"]) == (None, {})
    assert not Ledger.from_settings().container.exists()  # looking created nothing
