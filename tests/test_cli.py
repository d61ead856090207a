"""`python -m shared`: every command against the real test bed (Azurite, the identity endpoint, the stand-in)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from azure.storage.blob import ContainerClient

from shared import dispatch as dispatch_module
from shared import ledger as ledger_module
from shared import submitter as submitter_module
from shared.checkpoints import StateStore
from shared.cli import main
from shared.cli.terminal import Progress
from shared.event_path import RetryLaterError
from shared.ledger import FAILED, RELEASED, SUBMITTED, UNCERTAIN, Ledger, LedgerEntry
from shared.run_keys import run_key_for
from tests.support.azurite import ACCOUNT_KEY, Azurite
from tests.support.host import blob_created_event, load_function
from tests.support.identity import IdentityEndpoint
from tests.support.standin import MANAGEMENT, PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


class Terminal(io.StringIO):
    """A stream that says it is a terminal (for stdin answers, or stderr progress)."""

    def isatty(self) -> bool:
        return True


def upload(container: ContainerClient, name: str, data: bytes = b"a,b\n1,2\n") -> None:
    container.get_blob_client(name).upload_blob(data, overwrite=True)


def deliver(container: ContainerClient, name: str) -> None:
    """The event Event Grid would send for the blob, handled by the function as the host calls it."""
    load_function("blob_trigger").invoke(blob_created_event(container.get_blob_client(name)))


def scheduled(name: str, endpoint: str, **schedule: Any) -> dict[str, Any]:
    return {"name": name, **schedule, "pipeline": {"endpoint": endpoint, "experiment_name": "nightly"}}


def ledger_entries() -> dict[str, LedgerEntry]:
    return {e.firing.get("blob") or e.firing["slot"]: e for e in Ledger.from_settings().entries()}


def bridge_container() -> str:
    return Ledger.from_settings().container.container_name


def run_names(standin: PipelineStandIn) -> list[str]:
    return sorted(r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs)


@pytest.fixture
def landing(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn) -> ContainerClient:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url(),
                                folder="incoming")])
    return container


# -- help and validate --------------------------------------------------------------------------


def test_python_dash_m_shared_help_lists_every_command() -> None:
    done = subprocess.run([sys.executable, "-m", "shared", "--help"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("validate", "list", "dry-run", "sweep", "backfill", "history", "replay", "prune", "status",
                    "pipeline-status"):
        assert command in done.stdout


@pytest.mark.parametrize("command", ["validate", "list", "dry-run", "sweep", "backfill", "history", "replay",
                                     "prune", "status", "pipeline-status"])
def test_every_command_has_help(cli: Callable[..., Result], command: str) -> None:
    result = cli(command, "--help")
    assert result.code == 0
    assert result.out.startswith(f"usage: python -m shared {command}")


def test_validate_accepts_a_good_configuration(cli: Callable[..., Result], set_triggers: Setter,
                                               standin: PipelineStandIn) -> None:
    set_triggers([watch_trigger("landing", "uploads", standin.published_pipeline_url()),
                  scheduled("nightly", standin.published_pipeline_url(), cron="0 0 2 * * *")])
    result = cli("validate")
    assert result.code == 0
    assert "2 triggers OK" in result.out


def test_validate_prints_every_problem_and_exits_2(cli: Callable[..., Result], set_triggers: Setter) -> None:
    set_triggers([{"name": "bad one", "watch": {"container": "Uploads"}, "pipeline": {"endpoint": "http://x.com"}}])
    result = cli("validate")
    assert result.code == 2
    problems = [line for line in result.out.splitlines() if line.startswith("- ")]
    assert len(problems) >= 4
    assert any("name" in p for p in problems) and any("container" in p for p in problems)
    assert any("https" in p for p in problems)


def test_the_example_local_settings_hold_a_valid_configuration(cli: Callable[..., Result],
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                bridge_env: dict[str, str]) -> None:
    example = json.loads((REPO_ROOT / "local.settings.example.json").read_text())["Values"]
    assert example["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert example["FUNCTIONS_WORKER_RUNTIME"] == "python"
    monkeypatch.setenv("PIPELINE_TRIGGERS", example["PIPELINE_TRIGGERS"])
    result = cli("validate")
    assert result.code == 0, result.out
    assert "1 trigger OK" in result.out


def test_other_commands_report_an_invalid_configuration_with_exit_2(cli: Callable[..., Result],
                                                                    set_triggers: Setter) -> None:
    set_triggers([{"name": "x", "cron": "not cron", "pipeline": {"endpoint": "https://example.com/p"}}])
    result = cli("list")
    assert result.code == 2
    assert "configuration is invalid" in result.err
    assert "- trigger 'x'" in result.err


def test_an_unknown_trigger_names_the_known_ones(cli: Callable[..., Result], landing: ContainerClient) -> None:
    result = cli("dry-run", "landign", "--blob", "incoming/a.csv")
    assert result.code == 2
    assert "no trigger named 'landign'" in result.err and "landing" in result.err


def test_a_missing_storage_setting_is_named(cli: Callable[..., Result], landing: ContainerClient,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage")
    result = cli("history")
    assert result.code == 2
    assert "AzureWebJobsStorage" in result.err


def test_a_storage_failure_names_the_connection_setting_and_container(
    cli: Callable[..., Result], landing: ContainerClient, monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    wrong_key = azurite.connection_string.replace(ACCOUNT_KEY, "d3Jvbmcta2V5")
    monkeypatch.setenv("PIPELINE_LEDGER_CONNECTION", "LedgerStorage")
    monkeypatch.setenv("LedgerStorage", wrong_key)
    result = cli("history")
    assert result.code == 1
    container = bridge_container()
    assert f"storage connection setting LedgerStorage, container {container}" in result.err
    assert "HTTP 403 AuthorizationFailure: Server failed to authenticate the request" in result.err


# -- list ---------------------------------------------------------------------------------------


def next_daily(now: datetime, zone: str, hour: int, minute: int, count: int) -> list[str]:
    """Independently: the next `count` local hh:mm after `now`, day by day."""
    local_now = now.astimezone(ZoneInfo(zone))
    found: list[str] = []
    day = local_now.date()
    while len(found) < count:
        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
        if candidate > local_now:
            found.append(candidate.isoformat())
        day += timedelta(days=1)
    return found


def every(anchor: datetime, step: timedelta, after: datetime, zone: str, count: int) -> list[str]:
    first = anchor
    while first <= after:
        first += step
    return [(first + step * i).astimezone(ZoneInfo(zone)).isoformat() for i in range(count)]


def test_list_shows_kinds_statuses_watches_targets_and_next_fire_times(
    cli: Callable[..., Result], set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = standin.published_pipeline_url()
    set_triggers([
        watch_trigger("landing", container.container_name, url, folder="incoming"),
        {**watch_trigger("paused", container.container_name, url), "status": "Disabled"},
        scheduled("morning", url, cron="0 30 9 * * *", time_zone="Europe/Berlin"),
        scheduled("quarterly", url, recurrence={"frequency": "Minute", "interval": 15,
                                                "time_zone": "America/New_York"}),
        scheduled("hourly", url, recurrence={"frequency": "Hour"}),
    ])
    monkeypatch.setenv("AzureWebJobs.blob_trigger.Disabled", "true")
    anchor = datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    ledger = Ledger.from_settings()
    ledger.ensure_container()
    StateStore(ledger.container).write("schedule/quarterly", {"anchor": "2026-01-01T00:07:00.000Z"}, None)

    before = datetime.now(UTC)
    result = cli("list", "--json")
    after = datetime.now(UTC)

    assert result.code == 0
    items = {item["name"]: item for item in json.loads(result.out)}
    assert items["landing"]["kind"] == "watch"
    assert items["landing"]["effective_status"] == \
        "Active (but blob_trigger disabled by app setting: only the polling sweep runs)"
    assert items["landing"]["watch"]["container"] == container.container_name
    assert items["landing"]["watch"]["folder"] == "incoming"
    assert items["landing"]["watch"]["polling_interval_minutes"] == 5
    assert items["landing"]["target"] == {"kind": "published_pipeline", "endpoint": url}
    assert items["paused"]["status"] == "Disabled"
    assert items["paused"]["effective_status"] == "Disabled (and blob_trigger disabled by app setting)"
    assert items["morning"]["kind"] == "cron" and items["morning"]["effective_status"] == "Active"
    assert items["morning"]["schedule"]["next"] in (next_daily(before, "Europe/Berlin", 9, 30, 3),
                                                    next_daily(after, "Europe/Berlin", 9, 30, 3))
    assert items["quarterly"]["schedule"]["next"] in (
        every(anchor, timedelta(minutes=15), before, "America/New_York", 3),
        every(anchor, timedelta(minutes=15), after, "America/New_York", 3))
    # never seen by the timer and no start_time: it fires on the next tick (whole minute), then hourly
    assert items["hourly"]["schedule"]["next"] in [
        [(tick + timedelta(hours=i)).isoformat() for i in range(3)]
        for tick in (moment.replace(second=0, microsecond=0) + timedelta(minutes=1) for moment in (before, after))
    ]

    text = cli("list").out
    assert "landing  [watch]  Active (but blob_trigger disabled by app setting: only the polling sweep runs)" in text
    assert f"watches:  {container.container_name}/incoming/ (top level only), polling every 5 min" in text
    assert f"target:   published_pipeline {url}" in text
    berlin = [datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %Y-%m-%d %H:%M %Z")
              for t in items["morning"]["schedule"]["next"]]
    assert f"next:     {', '.join(berlin)}" in text


def test_list_reads_but_never_creates_the_state_container(cli: Callable[..., Result], set_triggers: Setter,
                                                          standin: PipelineStandIn) -> None:
    set_triggers([scheduled("nightly", standin.published_pipeline_url(), cron="0 0 2 * * *")])
    assert cli("list").code == 0
    assert not Ledger.from_settings().container.exists()


# -- dry-run ------------------------------------------------------------------------------------


def test_dry_run_prints_the_exact_request_and_sends_nothing(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn, identity: IdentityEndpoint
) -> None:
    upload(landing, "incoming/2026-11-25.csv")
    tokens_before = len(identity.requests)

    result = cli("dry-run", "landing", "--blob", "incoming/2026-11-25.csv")

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert f"POST {standin.published_pipeline_url()}" in lines
    assert "Content-Type: application/json" in lines
    assert "Authorization: Bearer <token for https://management.azure.com/.default, fetched when sending; " \
           "not shown>" in lines
    body = json.loads(result.out[result.out.index("\n{") + 1: result.out.rindex("}") + 1])
    assert body["DataPathAssignments"]["input_datapath"] == {"DataStoreName": "workspaceblobstore",
                                                             "RelativePath": "incoming/2026-11-25.csv"}
    assert "local-token-" not in result.out
    assert standin.requests == [] and len(identity.requests) == tokens_before
    assert not Ledger.from_settings().container.exists()


def test_dry_run_of_a_blob_whose_metadata_changed_shows_the_run_key_its_firing_would_use(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    """Set Blob Metadata gives a new ETag; the firing finds the content version's record, and its run key."""
    upload(landing, "incoming/a.csv")
    uploaded = str(landing.get_blob_client("incoming/a.csv").get_blob_properties().etag).strip('"')
    deliver(landing, "incoming/a.csv")
    (run,) = standin.runs
    landing.get_blob_client("incoming/a.csv").set_blob_metadata({"reviewed": "yes"})
    ledger = Ledger.from_settings().container
    before = {item.name: item.etag for item in ledger.list_blobs()}

    shown = cli("dry-run", "landing", "--blob", "incoming/a.csv", "--json")
    text = cli("dry-run", "landing", "--blob", "incoming/a.csv")

    assert shown.code == 0 and text.code == 0, shown.err + text.err
    request = json.loads(shown.out)
    assert request["run_key"] == run.body["tags"]["bridge_run_key"]
    assert request["firing"]["same_content_as"] == uploaded and request["firing"]["etag"] != uploaded
    assert f"# run key {request['run_key']}:" in text.out and f'"same_content_as": "{uploaded}"' in text.out
    assert {item.name: item.etag for item in ledger.list_blobs()} == before, "a dry run writes nothing"
    assert len(standin.runs) == 1


def test_dry_run_of_a_watch_needs_a_blob_and_says_why_a_blob_would_not_fire(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    missing = cli("dry-run", "landing")
    assert missing.code == 2 and "pass --blob NAME" in missing.err
    nested = cli("dry-run", "landing", "--blob", "incoming/sub/a.csv")
    assert nested.code == 1
    assert "would not fire" in nested.err and "subfolder" in nested.err
    assert standin.requests == []


def test_dry_run_of_a_schedule_shows_its_next_slot(cli: Callable[..., Result], set_triggers: Setter,
                                                   standin: PipelineStandIn) -> None:
    set_triggers([scheduled("nightly", standin.published_pipeline_url(), cron="0 0 2 * * *")])
    result = cli("dry-run", "nightly", "--json")
    assert result.code == 0
    request = json.loads(result.out)
    assert request["method"] == "POST" and request["url"] == standin.published_pipeline_url()
    key = request["run_key"]
    assert request["body"] == {"ExperimentName": "nightly", "ParameterAssignments": {}, "RunSource": "SDK",
                               "tags": {"bridge_run_key": key}, "Properties": {"bridge_run_key": key}}
    assert request["firing"]["slot"].endswith("T02:00:00Z")
    assert "Authorization" not in request["headers"]
    assert standin.requests == []


# -- sweep and backfill -------------------------------------------------------------------------


def test_sweep_arms_then_submits_new_top_level_blobs(cli: Callable[..., Result], landing: ContainerClient,
                                                     standin: PipelineStandIn) -> None:
    first = cli("-v", "sweep")
    assert first.code == 0
    assert first.out.startswith("landing: armed:")
    assert "event=sweep_armed trigger=landing" in first.err  # -v: the bridge's decision lines on stderr
    upload(landing, "incoming/a.csv")
    upload(landing, "incoming/sub/b.csv")
    second = cli("sweep", "landing")
    assert second.code == 0
    assert "landing: swept: listed 1, candidates 1: 1 submitted" in second.out
    assert run_names(standin) == ["incoming/a.csv"]


def test_sweep_reports_failures_with_exit_1(cli: Callable[..., Result], landing: ContainerClient,
                                            standin: PipelineStandIn) -> None:
    cli("sweep")
    upload(landing, "incoming/a.csv")
    standin.fail_next(404)
    result = cli("sweep", "landing")
    assert result.code == 1
    assert "1 failed" in result.out and "history --failed" in result.out


def test_sweep_refuses_a_schedule(cli: Callable[..., Result], set_triggers: Setter, standin: PipelineStandIn) -> None:
    set_triggers([scheduled("nightly", standin.published_pipeline_url(), cron="0 0 2 * * *")])
    result = cli("sweep", "nightly")
    assert result.code == 2 and "is a schedule" in result.err


@pytest.fixture
def armed_with_old_blobs(cli: Callable[..., Result], landing: ContainerClient) -> ContainerClient:
    upload(landing, "incoming/old-1.csv")
    upload(landing, "incoming/old-2.csv")
    upload(landing, "incoming/sub/old-3.csv")
    time.sleep(2.1)  # older than the sweep's one-second overlap
    assert cli("sweep").code == 0
    return landing


def test_backfill_refuses_without_a_terminal_and_submits_with_yes(
    cli: Callable[..., Result], armed_with_old_blobs: ContainerClient, standin: PipelineStandIn
) -> None:
    refused = cli("backfill", "landing")
    assert refused.code == 2
    assert "2 blobs directly in" in refused.out
    assert "stdin is not a terminal: pass --yes" in refused.err
    assert standin.requests == []

    done = cli("backfill", "landing", "--yes")
    assert done.code == 0
    assert "2 submitted" in done.out
    assert run_names(standin) == ["incoming/old-1.csv", "incoming/old-2.csv"]
    again = cli("backfill", "landing", "--yes")
    assert "2 already have a final ledger record (submitted or failed) and are skipped, 0 would be submitted" in \
        again.out and "nothing to backfill" in again.out and len(standin.runs) == 2


@pytest.mark.parametrize(("answer", "code", "runs"), [("y\n", 0, 2), ("n\n", 1, 0)])
def test_backfill_asks_on_a_terminal(cli: Callable[..., Result], armed_with_old_blobs: ContainerClient,
                                     standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch,
                                     answer: str, code: int, runs: int) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    result = cli("backfill", "landing")
    assert result.code == code
    assert "Submit up to 2 pipeline runs for trigger 'landing'? [y/N]" in result.out
    assert len(standin.runs) == runs


# -- progress -----------------------------------------------------------------------------------


def test_progress_is_quiet_when_piped_and_a_counter_on_a_terminal(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("sweep")
    for i in range(5):
        upload(landing, f"incoming/p-{i}.csv")
    piped = cli("sweep", "landing")
    assert "5 submitted" in piped.out
    assert "\r" not in piped.err and "\r" not in piped.out

    for i in range(5):
        upload(landing, f"incoming/q-{i}.csv")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["sweep", "landing"]) == 0
    assert "\rsweep landing: " in terminal.getvalue()
    assert terminal.getvalue().endswith("\n")


def test_progress_shows_the_total_and_always_draws_the_last_count() -> None:
    terminal = Terminal()
    with Progress("replay", total=3, stream=terminal) as progress:
        for done in (1, 2, 3):
            progress(done)
    assert terminal.getvalue().startswith("\rreplay: 1/3")
    assert terminal.getvalue().endswith("\rreplay: 3/3\n")


# -- history ------------------------------------------------------------------------------------


@pytest.fixture
def mixed_history(landing: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four entries in a known order: submitted, failed (404), released (503), submitted."""
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    upload(landing, "incoming/1-ok.csv")
    deliver(landing, "incoming/1-ok.csv")
    upload(landing, "incoming/2-missing.csv")
    standin.fail_next(404, message="pipeline pp-1 not found")
    deliver(landing, "incoming/2-missing.csv")
    upload(landing, "incoming/3-busy.csv")
    standin.fail_next(503)
    with pytest.raises(RetryLaterError):
        deliver(landing, "incoming/3-busy.csv")
    upload(landing, "incoming/4-ok.csv")
    deliver(landing, "incoming/4-ok.csv")


def test_history_lists_entries_newest_first_with_their_details(
    cli: Callable[..., Result], mixed_history: None, landing: ContainerClient
) -> None:
    result = cli("history", "--json")
    assert result.code == 0
    rows = json.loads(result.out)
    assert [row["firing"]["blob"] for row in rows] == [
        "incoming/4-ok.csv", "incoming/3-busy.csv", "incoming/2-missing.csv", "incoming/1-ok.csv"]
    assert [row["state"] for row in rows] == [SUBMITTED, RELEASED, FAILED, SUBMITTED]
    failed = rows[2]
    assert failed["last_error"] == "HTTP 404 Injected404: pipeline pp-1 not found"
    assert failed["attempts"] == 1 and failed["trigger"] == "landing" and failed["run_id"] is None
    assert failed["etag"] == landing.get_blob_client("incoming/2-missing.csv").get_blob_properties().etag.strip('"')
    assert rows[0]["run_id"] and len(rows[0]["key"]) == 64

    text = cli("history").out.splitlines()
    assert text[0].split() == ["UPDATED", "TRIGGER", "STATE", "BLOB", "OR", "SLOT", "ETAG", "RUN", "ID", "ATTEMPTS",
                               "KEY", "LAST", "ERROR"]
    assert f"{landing.container_name}/incoming/4-ok.csv" in text[1]
    assert rows[2]["short_key"] in text[3] and "HTTP 404" in text[3]


def test_replay_by_key_refuses_entries_that_are_not_failed(cli: Callable[..., Result], mixed_history: None,
                                                            standin: PipelineStandIn) -> None:
    entries = ledger_entries()
    runs = len(standin.runs)
    released = cli("replay", entries["incoming/3-busy.csv"].key[:8], "--yes")
    assert released.code == 1 and "is released (a transient failure: the next event delivery or sweep" in released.err
    submitted = cli("replay", entries["incoming/1-ok.csv"].key, "--yes")
    assert submitted.code == 1 and "is submitted (it already started run " in submitted.err
    assert len(standin.runs) == runs


def test_history_filters(cli: Callable[..., Result], mixed_history: None, set_triggers: Setter,
                         container: ContainerClient, standin: PipelineStandIn) -> None:
    failed = json.loads(cli("history", "--failed", "--json").out)
    assert [row["state"] for row in failed] == [RELEASED, FAILED]
    assert len(json.loads(cli("history", "--limit", "1", "--json").out)) == 1
    assert "3 older entries not shown" in cli("history", "--limit", "1").out
    assert len(json.loads(cli("history", "--since", "1h", "--json").out)) == 4
    future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert json.loads(cli("history", "--since", future, "--json").out) == []
    assert json.loads(cli("history", "--trigger", "other", "--json").out) == []
    assert len(json.loads(cli("history", "--trigger", "landing", "--json").out)) == 4
    bad = cli("history", "--since", "yesterday")
    assert bad.code == 2 and "neither a duration" in bad.err


# -- replay -------------------------------------------------------------------------------------


def test_replay_after_the_cause_is_fixed_is_recorded_as_submitted_and_never_repeated(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    upload(landing, "incoming/a.csv")
    standin.fail_next(404, message="pipeline pp-1 not found")
    deliver(landing, "incoming/a.csv")
    [entry] = ledger_entries().values()
    assert entry.state == FAILED and standin.runs == []

    refused = cli("replay", entry.key[:10])
    assert refused.code == 2 and "pass --yes" in refused.err and standin.runs == []

    replayed = cli("replay", entry.key[:10], "--yes")
    assert replayed.code == 0, replayed.err
    assert f"{entry.key[:12]} landing {landing.container_name}/incoming/a.csv: submitted, run " \
           f"{standin.runs[0].run_id}" in replayed.out
    after = ledger_entries()["incoming/a.csv"]
    assert (after.state, after.run_id, after.replays) == (SUBMITTED, standin.runs[0].run_id, 1)

    again = cli("replay", entry.key, "--yes")
    assert again.code == 1 and "is submitted" in again.err
    assert len(standin.runs) == 1


def test_replay_key_prefixes_must_be_long_enough_and_unambiguous(
    cli: Callable[..., Result], landing: ContainerClient
) -> None:
    ledger = Ledger.from_settings()
    ledger.ensure_container()
    for key in ("abcdef0123" + "0" * 54, "abcdef0123" + "1" * 54):
        entry = LedgerEntry(key=key, trigger="landing", state=FAILED, firing={"container": "c", "blob": "b",
                            "etag": "e"}, created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z")
        ledger.container.upload_blob(entry.blob_name, entry.to_bytes(), metadata={"state": FAILED,
                                                                                   "trigger": "landing"})
    short = cli("replay", "abcdef0")
    assert short.code == 2 and "at least 8 characters" in short.err
    ambiguous = cli("replay", "abcdef01", "--yes")
    assert ambiguous.code == 2 and "ambiguous" in ambiguous.err
    assert "abcdef012300" in ambiguous.err and "abcdef012311" in ambiguous.err
    unknown = cli("replay", "fedcba98", "--yes")
    assert unknown.code == 1 and "no ledger entry" in unknown.err


def test_replay_failed_resubmits_every_failed_entry_of_a_trigger(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    for name in ("incoming/a.csv", "incoming/b.csv"):
        upload(landing, name)
        standin.fail_next(404)
        deliver(landing, name)
    upload(landing, "incoming/c.csv")
    deliver(landing, "incoming/c.csv")
    assert len(standin.runs) == 1

    result = cli("replay", "--failed", "--trigger", "landing", "--yes")

    assert result.code == 0, result.err
    assert result.out.count(": submitted, run ") == 2
    assert run_names(standin) == ["incoming/a.csv", "incoming/b.csv", "incoming/c.csv"]
    assert {e.state for e in ledger_entries().values()} == {SUBMITTED}
    assert cli("replay", "--failed", "--yes").out.strip() == "no failed entries: nothing to replay"


def test_replay_rebuild_uses_the_fixed_configuration(
    cli: Callable[..., Result], set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    trigger = watch_trigger("landing", container.container_name, standin.published_pipeline_url())
    del trigger["pipeline"]["experiment_name"]  # the service requires ExperimentName: a 400
    set_triggers([trigger])
    upload(container, "a.csv")
    deliver(container, "a.csv")
    assert ledger_entries()["a.csv"].error["message"] == "ExperimentName is required"

    trigger["pipeline"]["experiment_name"] = "fixed"
    set_triggers([trigger])
    stored = cli("replay", "--failed", "--yes")
    assert stored.code == 1 and "failed again: HTTP 400 BadRequest: ExperimentName is required" in stored.out

    rebuilt = cli("replay", "--failed", "--rebuild", "--yes")
    assert rebuilt.code == 0, rebuilt.out
    assert standin.runs[0].body["ExperimentName"] == "fixed"
    entry = ledger_entries()["a.csv"]
    assert entry.state == SUBMITTED and entry.request["body"]["ExperimentName"] == "fixed"


def test_replay_rebuild_of_a_firing_claimed_through_a_metadata_changed_etag_keeps_its_run_key(
    cli: Callable[..., Result], set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    """A trigger added later backfills a blob whose metadata changed after the first trigger's run: its record
    carries `same_content_as`, and a rebuilt request must carry the key its first attempt sent, or a lookup
    after an uncertain outcome misses that run."""
    landing = watch_trigger("landing", container.container_name, standin.published_pipeline_url())
    set_triggers([landing])
    upload(container, "a.csv")
    deliver(container, "a.csv")  # the blob's history learns the upload's ETag
    container.get_blob_client("a.csv").set_blob_metadata({"reviewed": "yes"})
    time.sleep(2.1)  # older than the sweep's one-second overlap
    set_triggers([landing, watch_trigger("audit", container.container_name, standin.published_pipeline_url())])
    assert cli("sweep", "audit").code == 0  # arms it
    standin.fail_next(404)
    assert cli("backfill", "audit", "--yes").code == 1
    [entry] = Ledger.from_settings().entries("audit")
    assert entry.state == FAILED and entry.firing["same_content_as"] != entry.firing["etag"]

    rebuilt = cli("replay", entry.key[:12], "--rebuild", "--yes")

    assert rebuilt.code == 0, rebuilt.out
    assert standin.runs[-1].body["tags"]["bridge_run_key"] == entry.request["run_key"] == run_key_for(entry.key)
    [replayed] = Ledger.from_settings().entries("audit")
    assert replayed.state == SUBMITTED and replayed.request["run_key"] == entry.request["run_key"]


def test_a_replay_that_fails_transiently_stays_replayable(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(landing, "incoming/a.csv")
    standin.fail_next(404)
    deliver(landing, "incoming/a.csv")
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    standin.fail_next(503)
    first = cli("replay", "--failed", "--yes")
    assert first.code == 1 and "failed again: HTTP 503" in first.out
    assert ledger_entries()["incoming/a.csv"].state == FAILED  # not released: nothing else would retry it
    second = cli("replay", "--failed", "--yes")
    assert second.code == 0 and len(standin.runs) == 1


@contextmanager
def bridge_clock_at(moment: datetime) -> Iterator[None]:
    """The bridge records as if it were `moment` (the records' times), as an outage long ago left them."""
    with pytest.MonkeyPatch.context() as patch:
        for module in (ledger_module, dispatch_module):
            patch.setattr(module, "utc_now", lambda: moment)
        yield


def test_a_released_entry_nothing_retries_is_replayed_once_it_has_stalled(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events only: Event Grid gave up on an event whose every delivery met a busy service (24 h), so nothing
    retries the released entry. `status` says so and names the command that settles it; that command works."""
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    upload(landing, "incoming/busy.csv")
    standin.fail_next(503)
    with bridge_clock_at(datetime.now(UTC) - timedelta(hours=25)), pytest.raises(RetryLaterError):
        deliver(landing, "incoming/busy.csv")
    fresh_upload = "incoming/fresh.csv"
    upload(landing, fresh_upload)
    standin.fail_next(503)
    with pytest.raises(RetryLaterError):
        deliver(landing, fresh_upload)  # released a moment ago: its own redelivery retries it
    entries = ledger_entries()
    assert entries["incoming/busy.csv"].state == entries[fresh_upload].state == RELEASED

    status = json.loads(cli("status", "--json").out)
    [hint] = [line for line in status["needs_operator"] if "not retried for over" in line]
    assert "`python -m shared replay --stalled --trigger landing`" in hint
    fresh = cli("replay", entries[fresh_upload].key[:10], "--yes")
    assert fresh.code == 1 and "the next event delivery or sweep retries it" in fresh.err

    replayed = cli("replay", "--stalled", "--trigger", "landing", "--yes")

    assert replayed.code == 0, replayed.out + replayed.err
    assert len(standin.runs) == 1
    after = ledger_entries()
    assert (after["incoming/busy.csv"].state, after["incoming/busy.csv"].run_id) == (SUBMITTED, standin.runs[0].run_id)
    assert after[fresh_upload].state == RELEASED  # not stalled: left to its redelivery
    assert cli("replay", "--stalled", "--yes").out.startswith("no stalled entries")


def test_a_stalled_uncertain_entry_is_looked_up_by_its_run_key_not_sent_again(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    upload(landing, "incoming/accepted.csv")
    standin.fail_next(502, create_run=True)  # the run exists; its answer was lost
    with bridge_clock_at(datetime.now(UTC) - timedelta(hours=2)), pytest.raises(RetryLaterError):
        deliver(landing, "incoming/accepted.csv")
    [entry] = ledger_entries().values()
    assert entry.state == UNCERTAIN and len(standin.runs) == 1

    replayed = cli("replay", entry.key[:10], "--yes")

    assert replayed.code == 0, replayed.out + replayed.err
    assert len(standin.runs) == 1  # found by its run key, nothing sent
    after = ledger_entries()["incoming/accepted.csv"]
    assert (after.state, after.run_id, after.resolved_by) == (SUBMITTED, standin.runs[0].run_id, "lookup")


# -- pipeline-status ----------------------------------------------------------------------------


@pytest.mark.parametrize("as_digit", [False, True], ids=["EntityStatus-name", "EntityStatus-digit"])
def test_pipeline_status_shows_and_sets_the_published_pipeline_switch_and_a_disabled_pipeline_is_replayable(
    as_digit: bool, cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    standin.status_as_digit = as_digit  # the backend answers either spelling; the SDK maps both
    shown = cli("pipeline-status", "landing")
    assert shown.code == 0, shown.err
    assert shown.out.splitlines()[0] == "published pipeline pp-1 (pipeline pp-1): Active"
    for get in standin.requests:
        assert (get.method, get.body, get.token_resource) == ("GET", None, MANAGEMENT)
        assert get.path.endswith("/workspaces/ws-1/Pipelines/pp-1")

    disabled = cli("pipeline-status", "landing", "Disabled")
    assert disabled.code == 0
    assert "changed from Active to Disabled" in disabled.out
    assert standin.pipeline_status == {"pp-1": "Disabled"}
    [put] = [r for r in standin.requests if r.method == "PUT"]
    assert put.path.endswith("/workspaces/ws-1/Pipelines/pp-1/status")
    assert put.body == "Disabled" and put.token_resource == MANAGEMENT
    assert cli("pipeline-status", "landing").out.startswith("published pipeline pp-1 (pipeline pp-1): Disabled")

    upload(landing, "incoming/a.csv")
    deliver(landing, "incoming/a.csv")
    failed = json.loads(cli("history", "--failed", "--json").out)
    assert [row["last_error"] for row in failed] == ["HTTP 400 PipelineDisabled: Published pipeline pp-1 is disabled"]
    assert failed[0]["state"] == FAILED

    assert cli("pipeline-status", "landing", "Active").code == 0
    assert cli("replay", "--failed", "--yes").code == 0
    assert run_names(standin) == ["incoming/a.csv"]


@pytest.mark.parametrize("as_digit", [False, True], ids=["EntityStatus-name", "EntityStatus-digit"])
def test_pipeline_status_of_a_pipeline_endpoint_puts_back_the_entity_it_read(
    as_digit: bool, cli: Callable[..., Result], set_triggers: Setter, container: ContainerClient,
    standin: PipelineStandIn
) -> None:
    standin.status_as_digit = as_digit
    trigger = watch_trigger("scoring", container.container_name, standin.pipeline_endpoint_url("pe-7"))
    set_triggers([{**trigger, "pipeline": {**trigger["pipeline"], "kind": "pipeline_endpoint", "version": "0"}}])
    assert cli("pipeline-status", "scoring").out.splitlines()[0] == "pipeline endpoint pe-7 (endpoint pe-7): Active"

    disabled = cli("pipeline-status", "scoring", "Disabled")
    assert disabled.code == 0, disabled.err
    assert "changed from Active to Disabled" in disabled.out
    [put] = [r for r in standin.requests if r.method == "PUT"]
    assert put.path.endswith("/workspaces/ws-1/PipelineEndpoints/pe-7")
    read = standin.endpoint_entity("pe-7")
    assert put.body == {**read, "EntityStatus": "Disabled"}  # every field read, SwaggerUrl included
    assert "SwaggerUrl" in put.body and put.token_resource == MANAGEMENT
    assert all(r.path.endswith("/PipelineEndpoints/Id/pe-7") for r in standin.requests if r.method == "GET")

    upload(container, "a.csv")
    deliver(container, "a.csv")
    [failed] = json.loads(cli("history", "--failed", "--json").out)
    assert failed["last_error"] == "HTTP 400 PipelineEndpointDisabled: Pipeline endpoint pe-7 is disabled"
    assert cli("pipeline-status", "scoring", "Active").code == 0
    assert cli("replay", "--failed", "--yes").code == 0
    assert run_names(standin) == ["a.csv"]


def test_pipeline_status_goes_through_the_submitters_retries(
    cli: Callable[..., Result], landing: ContainerClient, standin: PipelineStandIn, identity: IdentityEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(submitter_module, "_shared", None)  # no token cached by an earlier test
    identity.fail_next(500, times=4)  # one token attempt's worth (azure-identity asks 4 times): the next is fresh
    standin.fail_next(503, retry_after="0")
    shown = cli("pipeline-status", "landing")
    assert shown.code == 0, shown.err
    assert [r.method for r in standin.requests] == ["GET", "GET", "GET"]  # the 503, its retry, the read after

    standin.fail_next(403, message="caller lacks Microsoft.MachineLearningServices/workspaces/pipelines/write")
    refused = cli("pipeline-status", "landing", "Disabled")
    assert refused.code == 1
    assert "HTTP 403 Injected403: caller lacks" in refused.err
    assert standin.pipeline_status == {}


def test_pipeline_status_says_other_kinds_have_no_switch(cli: Callable[..., Result], set_triggers: Setter,
                                                         standin: PipelineStandIn) -> None:
    set_triggers([{"name": "batch", "cron": "0 0 2 * * *",
                   "pipeline": {"kind": "batch_endpoint", "endpoint": standin.batch_endpoint_url()}}])
    result = cli("pipeline-status", "batch", "Disabled")
    assert result.code == 1
    assert "batch_endpoint has no Active/Disabled switch" in result.err
    assert standin.requests == []
