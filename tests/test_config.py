"""The trigger configuration: good configurations parse into the documented objects, and every bad one
raises `ConfigError` naming each problem (trigger and field) in one pass, never any other exception."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shared
from shared import config as config_module
from shared.config import (
    TRIGGERS_FILE_SETTING,
    TRIGGERS_SETTING,
    BridgeConfig,
    ConfigError,
    WatchSpec,
    app_root,
    load_config,
    parse_config,
    read_raw_configuration,
)
from shared.endpoints import endpoint_problem
from shared.ncrontab import CronSchedule
from shared.recurrence import Recurrence
from shared.targets.spec import SCOPE_MANAGEMENT, DataPath

AML = "https://eastus.api.azureml.ms/pipelines/v1.0/subscriptions/s/resourceGroups/r/providers/" \
      "Microsoft.MachineLearningServices/workspaces/w/PipelineRuns/PipelineSubmit/pp-1"
SETTINGS_USED = (TRIGGERS_SETTING, TRIGGERS_FILE_SETTING, "AzureWebJobsScriptRoot", "AZURE_CLIENT_ID")


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_USED:
        monkeypatch.delenv(name, raising=False)
    config_module._cache.clear()


def pipeline(**overrides: Any) -> dict[str, Any]:
    return {"endpoint": AML, "experiment_name": "exp", **overrides}


def watch_entry(name: str = "landing", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "watch": {"container": "uploads"},
        "pipeline": pipeline(datastore_name="workspaceblobstore", data_path_parameter_name="input_datapath"),
        **overrides,
    }


def cron_entry(name: str = "nightly", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "cron": "0 0 2 * * *", "pipeline": pipeline(), **overrides}


def problems_of(config: Any) -> list[str]:
    text = config if isinstance(config, str) else json.dumps(config)
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert raised.value.problems, "a ConfigError must list at least one problem"
    for problem in raised.value.problems:  # the message lists every problem too
        assert problem in str(raised.value)
    return raised.value.problems


def only_problem(config: Any) -> str:
    problems = problems_of(config)
    assert len(problems) == 1, problems
    return problems[0]


# --- good configurations ----------------------------------------------------------------------------


def test_full_example_with_every_field_parses_into_the_documented_objects() -> None:
    config = parse_config(json.dumps([
        {
            "name": "landing-zone_1",
            "description": "new files from the partner",
            "status": "Active",
            "watch": {
                "container": "uploads",
                "path_on_datastore": "/incoming/daily/",
                "polling_interval": 15,
                "ignore_empty_blobs": False,
                "blob_path_ends_with": ".csv",
                "connection": "PartnerStorage",
                "backfill": True,
            },
            "pipeline": {
                "kind": "published_pipeline",
                "endpoint": AML,
                "experiment_name": "MyRestPipeline",
                "parameter_assignments": {"input_string": "sample", "threshold": 0.5, "epochs": 3, "dry": False},
                "datastore_name": "workspaceblobstore",
                "data_path_parameter_name": "input_datapath",
                "data_path_assignments": {
                    "reference": {"datastore_name": "refstore", "relative_path": "lookup/table.csv"},
                },
                "continue_on_step_failure": True,
                "description": "run for one file",
                "tags": {"team": "data", "tier": 1},
                "scope": "https://management.core.windows.net/.default",
                "client_id": "11111111-2222-3333-4444-555555555555",
            },
        },
        {
            "name": "weekly",
            "status": "Disabled",
            "recurrence": {
                "frequency": "Week", "interval": 2, "start_time": "2026-01-05T09:00:00",
                "time_zone": "Europe/Berlin", "week_days": ["Friday", "Monday"], "time_of_day": "09:30",
            },
            "pipeline": {"endpoint": AML, "experiment_name": "weekly-exp"},
        },
        {
            "name": "every-five",
            "cron": "0 */5 * * * *",
            "time_zone": "America/New_York",
            "pipeline": {"endpoint": AML, "experiment_name": "cron-exp"},
        },
    ]), source="test")

    assert isinstance(config, BridgeConfig)
    assert config.source == "test"
    assert [t.name for t in config.triggers] == ["landing-zone_1", "weekly", "every-five"]

    landing = config.trigger("landing-zone_1")
    assert landing.active and landing.description == "new files from the partner"
    assert landing.schedule is None
    assert landing.watch == WatchSpec(container="uploads", folder="incoming/daily", polling_interval=15,
                                      ignore_empty_blobs=False, blob_path_ends_with=".csv",
                                      connection="PartnerStorage", backfill=True)
    target = landing.pipeline
    assert target.kind == "published_pipeline"
    assert target.endpoint == AML
    assert target.scope == "https://management.core.windows.net/.default"
    assert target.experiment_name == "MyRestPipeline"
    # the SDK sends str() of numbers and booleans
    assert target.parameter_assignments == {"input_string": "sample", "threshold": "0.5", "epochs": "3",
                                            "dry": "False"}
    assert target.datastore_name == "workspaceblobstore"
    assert target.data_path_parameter_name == "input_datapath"
    assert target.data_path_assignments == {"reference": DataPath("refstore", "lookup/table.csv")}
    assert target.continue_on_step_failure is True
    assert target.description == "run for one file"
    assert target.tags == {"team": "data", "tier": "1"}
    assert target.client_id == "11111111-2222-3333-4444-555555555555"

    weekly = config.trigger("weekly")
    assert not weekly.active and weekly.watch is None
    assert isinstance(weekly.schedule, Recurrence)
    assert weekly.schedule.frequency == "Week" and weekly.schedule.interval == 2
    assert weekly.schedule.week_days == ("Monday", "Friday")
    assert weekly.schedule.time_zone == "Europe/Berlin"
    assert weekly.schedule.start_time == datetime(2026, 1, 5, 9, 0)

    every_five = config.trigger("every-five")
    assert isinstance(every_five.schedule, CronSchedule)
    assert every_five.schedule.time_zone == "America/New_York"
    assert every_five.schedule.minutes == tuple(range(0, 60, 5))

    with pytest.raises(KeyError, match="landing-zone_1, weekly, every-five"):
        config.trigger("missing")


def test_defaults_for_a_minimal_watch() -> None:
    config = parse_config(json.dumps([watch_entry()]))
    trigger = config.triggers[0]
    assert trigger.status == "Active" and trigger.active
    assert trigger.watch == WatchSpec(container="uploads", folder="", polling_interval=5, ignore_empty_blobs=True,
                                      blob_path_ends_with=None, connection="AzureWebJobsStorage", backfill=False)
    assert trigger.pipeline.scope == SCOPE_MANAGEMENT
    assert trigger.pipeline.client_id is None
    assert trigger.pipeline.continue_on_step_failure is None


def test_client_id_defaults_to_the_azure_client_id_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_ID", "from-setting")
    config = parse_config(json.dumps([cron_entry("a"), cron_entry("b", pipeline=pipeline(client_id="own"))]))
    assert [t.pipeline.client_id for t in config.triggers] == ["from-setting", "own"]


def test_percent_name_expands_app_settings_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AML_ENDPOINT", AML)
    monkeypatch.setenv("LANDING_CONTAINER", "landing")
    monkeypatch.setenv("Run.Mode:x-1", "full")
    monkeypatch.setenv("PIPELINE_MI", "abc-123")
    entry = watch_entry(watch={"container": "%LANDING_CONTAINER%", "path_on_datastore": "in/%Run.Mode:x-1%"})
    entry["pipeline"].update(endpoint="%AML_ENDPOINT%", client_id="%PIPELINE_MI%",
                             parameter_assignments={"mode": "%Run.Mode:x-1%-%PIPELINE_MI%", "n": 50})
    trigger = parse_config(json.dumps([entry])).triggers[0]
    assert trigger.watch is not None
    assert trigger.watch.container == "landing"
    assert trigger.watch.folder == "in/full"
    assert trigger.pipeline.endpoint == AML
    assert trigger.pipeline.client_id == "abc-123"
    assert trigger.pipeline.parameter_assignments == {"mode": "full-abc-123", "n": "50"}


def test_percent_signs_that_are_not_setting_names_stay_literal() -> None:
    entry = cron_entry(pipeline=pipeline(parameter_assignments={"a": "50% off, 100% sure", "b": "%", "c": "%%"}))
    trigger = parse_config(json.dumps([entry])).triggers[0]
    assert trigger.pipeline.parameter_assignments == {"a": "50% off, 100% sure", "b": "%", "c": "%%"}


def test_expanded_values_are_not_expanded_again_or_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTER", "%INNER%")
    monkeypatch.setenv("INNER", "should-not-appear")
    monkeypatch.setenv("SHELLISH", "$(id) `id` ${HOME}")
    entry = cron_entry(pipeline=pipeline(parameter_assignments={"a": "%OUTER%", "b": "%SHELLISH%"}))
    trigger = parse_config(json.dumps([entry])).triggers[0]
    assert trigger.pipeline.parameter_assignments == {"a": "%INNER%", "b": "$(id) `id` ${HOME}"}


@pytest.mark.parametrize("reference", [
    "%../../etc/passwd%", "%/etc/passwd%", "%$(id)%", "%`id`%", "%${HOME}%", "%HOME HOME%", "%__import__('os')%",
    "%SECRET_FILE%", "%file://SECRET_FILE%",
])
def test_percent_expansion_never_reads_files_or_evaluates(reference: str, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    reference = reference.replace("SECRET_FILE", str(secret_file))
    entry = cron_entry(pipeline=pipeline(parameter_assignments={"p": reference}))
    try:
        config = parse_config(json.dumps([entry]))
    except ConfigError as error:  # a missing setting is an acceptable answer...
        outcome = str(error)
        assert "refers to app setting" in outcome
    else:  # ...and so is leaving the text as it was written
        assert config.triggers[0].pipeline.parameter_assignments == {"p": reference}
        outcome = repr(config)
    assert "TOP-SECRET-CONTENT" not in outcome
    assert f"uid={os.getuid()}" not in outcome


def test_dot_dot_setting_name_is_reported_as_missing() -> None:
    problem = only_problem([cron_entry("t", pipeline=pipeline(parameter_assignments={"p": "%..%"}))])
    assert problem == "trigger 't': pipeline.parameter_assignments.p refers to app setting '..', which is not defined"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/pipelines/x", "http://localhost/x", "http://LOCALHOST:1/x", "http://[::1]:9000/x",
    "http://127.0.0.9/x", "https://eastus.api.azureml.ms/x", "HTTPS://Example.com/x",
])
def test_loopback_http_and_any_https_endpoint_accepted(url: str) -> None:
    assert endpoint_problem(url) is None
    trigger = parse_config(json.dumps([cron_entry(pipeline=pipeline(endpoint=url))])).triggers[0]
    assert trigger.pipeline.endpoint == url


@pytest.mark.parametrize(("url", "phrase"), [
    ("http://example.com/x", "must use https"),
    ("http://10.0.0.1/x", "must use https"),
    ("http://0.0.0.0/x", "must use https"),
    ("http://localhost.example.com/x", "must use https"),
    ("http://127.0.0.1.nip.io/x", "must use https"),
    # urllib3 (what requests sends with) stops the host at the backslash: the token would go to example.com
    ("http://example.com\\@127.0.0.1/x", "must not contain"),
    ("http://example.com\t@127.0.0.1/x", "must not contain"),
    ("https://example.com:99999/x", "is not a valid URL (Port out of range"),
    ("https://example.com:http/x", "is not a valid URL (Port could not be cast"),
    ("ftp://example.com/x", "must be an https URL"),
    ("eastus.api.azureml.ms/x", "is not an absolute URL"),
    ("", "must not be empty"),
    ("   ", "must not be empty"),
    ("http://[::1/x", "is not a valid URL"),
])
def test_unsafe_or_unusable_endpoints_rejected(url: str, phrase: str) -> None:
    problem = only_problem([cron_entry("t", pipeline=pipeline(endpoint=url))])
    assert problem.startswith("trigger 't': pipeline.endpoint ")
    assert phrase in problem


def test_read_configuration_from_the_app_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRIGGERS_SETTING, json.dumps([cron_entry("inline")]))
    config = load_config()
    assert [t.name for t in config.triggers] == ["inline"]
    assert config.source == f"app setting {TRIGGERS_SETTING}"


def test_triggers_file_relative_to_the_script_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "triggers.json").write_text(json.dumps([cron_entry("from-file")]), encoding="utf-8")
    monkeypatch.setenv("AzureWebJobsScriptRoot", str(tmp_path))
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, "config/triggers.json")
    assert app_root() == tmp_path
    config = load_config()
    assert [t.name for t in config.triggers] == ["from-file"]
    assert str(tmp_path / "config" / "triggers.json") in config.source


def test_triggers_file_relative_to_the_repository_root_by_default(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    repo_root = Path(shared.__file__).resolve().parent.parent
    assert app_root() == repo_root
    target = tmp_path / "triggers.json"
    target.write_text(json.dumps([cron_entry("repo-relative")]), encoding="utf-8")
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, os.path.relpath(target, repo_root))
    assert [t.name for t in load_config().triggers] == ["repo-relative"]


def test_triggers_file_absolute_path_ignores_the_script_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "abs.json"
    target.write_text(json.dumps([cron_entry("absolute")]), encoding="utf-8")
    monkeypatch.setenv("AzureWebJobsScriptRoot", str(tmp_path / "elsewhere"))
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, str(target))
    assert [t.name for t in load_config().triggers] == ["absolute"]


def test_triggers_file_saved_with_a_utf8_bom_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Windows tools (Notepad, PowerShell's Out-File -Encoding utf8) write a byte order mark.
    target = tmp_path / "bom.json"
    target.write_bytes(b"\xef\xbb\xbf" + json.dumps([cron_entry("with-bom")]).encode("utf-8"))
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, str(target))
    assert [t.name for t in load_config().triggers] == ["with-bom"]


@pytest.mark.parametrize("content", [b"\xff\xfe[\x00]\x00", b"[\"\xc3\x28\"]"], ids=["utf16", "invalid-utf8"])
def test_triggers_file_that_is_not_utf8_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          content: bytes) -> None:
    target = tmp_path / "odd.json"
    target.write_bytes(content)
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, str(target))
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert TRIGGERS_FILE_SETTING in raised.value.problems[0]
    assert "UTF-8" in raised.value.problems[0]
    assert str(target) in raised.value.problems[0]


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_unreadable_triggers_file_names_setting_and_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                         make: str) -> None:
    target = tmp_path / "triggers.json"
    if make == "directory":
        target.mkdir()
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, str(target))
    with pytest.raises(ConfigError) as raised:
        read_raw_configuration()
    [problem] = raised.value.problems
    assert problem.startswith(f"{TRIGGERS_FILE_SETTING}: cannot read {target}: ")
    assert problem.split(": ")[-1]  # the OS reason is given


def test_loaded_configuration_follows_a_changed_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The text is unchanged but the app setting it refers to is not: the parse must not be stale."""
    monkeypatch.setenv(TRIGGERS_SETTING, json.dumps([cron_entry("t", pipeline=pipeline(endpoint="%AML_URL%"))]))
    monkeypatch.setenv("AML_URL", "https://first.api.azureml.ms/x")
    assert load_config().triggers[0].pipeline.endpoint == "https://first.api.azureml.ms/x"
    assert load_config() is load_config()  # parsed once while nothing changes
    monkeypatch.setenv("AML_URL", "https://second.api.azureml.ms/x")
    assert load_config().triggers[0].pipeline.endpoint == "https://second.api.azureml.ms/x"



def test_configuration_cache_holds_only_the_settings_it_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyed by the `%NAME%` settings and AZURE_CLIENT_ID it read: no storage key or identity secret is copied,
    an unrelated setting changing does not re-parse, a setting it read changing does."""
    monkeypatch.setenv(TRIGGERS_SETTING, json.dumps([cron_entry("t", pipeline=pipeline(endpoint="%AML_URL%"))]))
    monkeypatch.setenv("AML_URL", "https://first.api.azureml.ms/x")
    monkeypatch.setenv("AzureWebJobsStorage", "DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0LWtleQ==")
    monkeypatch.setenv("IDENTITY_HEADER", "identity-secret-value")
    first = load_config()

    cached = repr(config_module._cache)
    assert "c2VjcmV0LWtleQ==" not in cached and "identity-secret-value" not in cached
    [parsed] = config_module._cache.values()
    assert dict(parsed.reads) == {"AML_URL": "https://first.api.azureml.ms/x", "AZURE_CLIENT_ID": None}

    monkeypatch.setenv("IDENTITY_HEADER", "rotated")
    assert load_config() is first
    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
    assert load_config().triggers[0].pipeline.client_id == "11111111-2222-3333-4444-555555555555"


# --- bad configurations ------------------------------------------------------------------------------


def test_all_problems_reported_at_once_each_naming_trigger_and_field() -> None:
    alpha = watch_entry("alpha", watch={"container": "UPPER_case"})
    alpha["pipeline"]["experiment_name"] = 42
    beta = {"name": "beta", "recurrence": {"frequency": "Daily"}, "pipeline": pipeline(endpoint="http://example.com/")}
    gamma = cron_entry("gamma", pipeline=pipeline(colour="blue"))
    problems = problems_of([alpha, beta, gamma])
    assert len(problems) == 5, problems
    expected = [
        ("trigger 'alpha': watch.container ", "'UPPER_case' is not a valid container name"),
        ("trigger 'alpha': pipeline.experiment_name ", "must be a string (got number)"),
        ("trigger 'beta': recurrence.frequency ", "did you mean 'Day'?"),
        ("trigger 'beta': pipeline.endpoint ", "must use https"),
        ("trigger 'gamma': pipeline.colour ", "is not a recognised field"),
    ]
    for prefix, phrase in expected:
        assert sum(p.startswith(prefix) and phrase in p for p in problems) == 1, (prefix, problems)


def test_unknown_kind_rejected_with_the_known_kinds() -> None:
    problem = only_problem([cron_entry("t", pipeline=pipeline(kind="batch_endpointt"))])
    assert problem.startswith("trigger 't': pipeline.kind 'batch_endpointt' is not a known kind (use one of: ")
    assert "published_pipeline" in problem


def test_missing_setting_names_trigger_field_and_setting() -> None:
    problems = problems_of([watch_entry("landing", watch={"container": "%NO_SUCH_CONTAINER%"})])
    assert "trigger 'landing': watch.container refers to app setting 'NO_SUCH_CONTAINER', which is not defined" \
        in problems


def test_missing_settings_in_nested_maps_and_lists_name_the_path() -> None:
    entry = cron_entry("t", pipeline=pipeline(tags={"owner": "%OWNER_SETTING%"}))
    entry["recurrence_note"] = ["ok", "%LISTED%"]
    problems = problems_of([entry])
    assert "trigger 't': pipeline.tags.owner refers to app setting 'OWNER_SETTING', which is not defined" in problems
    assert "trigger 't': recurrence_note[1] refers to app setting 'LISTED', which is not defined" in problems


def test_duplicate_names_reported() -> None:
    problems = problems_of([cron_entry("same"), watch_entry("other"), watch_entry("same")])
    assert problems == ["trigger 'same': name is used by more than one trigger"]


@pytest.mark.parametrize(("name", "phrase"), [
    ("has space", "must be 1-64 letters, digits, '-' or '_'"),
    ("x" * 65, "must be 1-64 letters, digits, '-' or '_'"),
    ("ünïcode", "must be 1-64 letters, digits, '-' or '_'"),
    ("a/b", "must be 1-64 letters, digits, '-' or '_'"),
    ("dot.ted", "must be 1-64 letters, digits, '-' or '_'"),
    ("", "must not be empty"),
    ("  ", "must not be empty"),
    (42, "must be a string (got number)"),
    (None, "is required"),
])
def test_bad_names_rejected(name: object, phrase: str) -> None:
    entry = cron_entry()
    entry["name"] = name
    problem = only_problem([entry])
    assert re.match(r"^trigger (#1|'.*'): name ", problem), problem
    assert phrase in problem


def test_longest_legal_name_accepted() -> None:
    assert parse_config(json.dumps([cron_entry("A" * 64)])).triggers[0].name == "A" * 64


def test_both_settings_set_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(TRIGGERS_SETTING, json.dumps([cron_entry()]))
    monkeypatch.setenv(TRIGGERS_FILE_SETTING, str(tmp_path / "t.json"))
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert raised.value.problems == [f"set either {TRIGGERS_SETTING} or {TRIGGERS_FILE_SETTING}, not both"]


@pytest.mark.parametrize("value", [None, ""])
def test_no_configuration_names_both_settings(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is not None:  # an empty app setting counts as not set
        monkeypatch.setenv(TRIGGERS_SETTING, value)
        monkeypatch.setenv(TRIGGERS_FILE_SETTING, value)
    with pytest.raises(ConfigError) as raised:
        load_config()
    [problem] = raised.value.problems
    assert problem.startswith("no triggers configured")
    assert TRIGGERS_SETTING in problem and TRIGGERS_FILE_SETTING in problem


@pytest.mark.parametrize(("text", "expected"), [
    ("", "PIPELINE_TRIGGERS is not valid JSON: Expecting value at line 1 column 1"),
    ("[{\"name\": \"a\",}]", "PIPELINE_TRIGGERS is not valid JSON: Expecting property name enclosed in double "
                             "quotes at line 1 column 15"),
    ("[\n  {\"name\": 'a'}\n]", "PIPELINE_TRIGGERS is not valid JSON: Expecting value at line 2 column 12"),
])
def test_not_json_says_where(text: str, expected: str) -> None:
    assert only_problem(text) == expected


@pytest.mark.parametrize(("text", "kind"), [("{}", "object"), ("null", "null"), ("\"x\"", "string"), ("3", "number")])
def test_not_an_array(text: str, kind: str) -> None:
    assert only_problem(text) == f"PIPELINE_TRIGGERS must be a JSON array of triggers (got {kind})"


def test_empty_array() -> None:
    assert only_problem("[]") == "PIPELINE_TRIGGERS holds no triggers"


@pytest.mark.parametrize("extra", [
    {"recurrence": {"frequency": "Day"}},
    {"cron": "0 0 * * * *"},
    {"recurrence": {"frequency": "Day"}, "cron": "0 0 * * * *"},
])
def test_watch_and_a_schedule_together_rejected(extra: dict[str, Any]) -> None:
    found = ", ".join(k for k in ("watch", "recurrence", "cron") if k == "watch" or k in extra)
    problem = only_problem([watch_entry("w", **extra)])
    assert problem == f"trigger 'w': needs exactly one of watch, recurrence or cron (found: {found})"


def test_no_source_at_all_rejected() -> None:
    assert only_problem([{"name": "t", "pipeline": pipeline()}]) == \
        "trigger 't': needs exactly one of watch, recurrence or cron (found: none)"


def test_time_zone_outside_cron_rejected() -> None:
    problem = only_problem([watch_entry("w", time_zone="Europe/Berlin")])
    assert problem == "trigger 'w': time_zone is only used with cron (a recurrence has recurrence.time_zone)"


@pytest.mark.parametrize("entry", [{"name": "t", "cron": "0 0 * * * *"},
                                   {"name": "t", "cron": "0 0 * * * *", "pipeline": None}])
def test_missing_pipeline_rejected(entry: dict[str, Any]) -> None:
    assert only_problem([entry]) == "trigger 't': pipeline is required"


def test_watch_needs_the_data_path_names() -> None:
    entry = watch_entry("w")
    del entry["pipeline"]["datastore_name"], entry["pipeline"]["data_path_parameter_name"]
    problems = problems_of([entry])
    assert sorted(problems) == [
        f"trigger 'w': pipeline.{key} is required for a watch trigger: it names where the changed blob goes"
        for key in ("data_path_parameter_name", "datastore_name")
    ]


@pytest.mark.parametrize(("entry", "field"), [
    (cron_entry(colour="red"), "colour"),
    (watch_entry(watch={"container": "uploads", "poll": 5}), "watch.poll"),
    (cron_entry(pipeline=pipeline(ContinueRunOnStepFailure=True)), "pipeline.ContinueRunOnStepFailure"),
    (cron_entry(pipeline=pipeline(data_path_assignments={"d": {"datastore_name": "a", "relative_path": "b",
                                                                "path": "c"}})),
     "pipeline.data_path_assignments.d.path"),
    ({"name": "t", "recurrence": {"frequency": "Day", "every": 2}, "pipeline": pipeline()}, "recurrence.every"),
])
def test_unknown_fields_rejected_by_path(entry: dict[str, Any], field: str) -> None:
    problem = only_problem([entry])
    assert re.fullmatch(rf"trigger '\w+': {re.escape(field)} is not a recognised field( for kind \w+)?", problem), \
        problem


WRONG_TYPES = [
    (("status",), 1, "status must be a string (got number)"),
    (("status",), "On", "status must be Active or Disabled (got 'On')"),
    (("description",), ["x"], "description must be a string (got array)"),
    (("watch",), "uploads", "watch must be a JSON object (got string)"),
    (("watch", "container"), 7, "watch.container must be a string (got number)"),
    (("watch", "container"), "ab", "watch.container 'ab' is not a valid container name"),
    (("watch", "container"), "a--b", "watch.container 'a--b' is not a valid container name"),
    (("watch", "path_on_datastore"), {}, "watch.path_on_datastore must be a string (got object)"),
    (("watch", "polling_interval"), "5", "watch.polling_interval must be a whole number (got '5')"),
    (("watch", "polling_interval"), 2.5, "watch.polling_interval must be a whole number (got 2.5)"),
    (("watch", "polling_interval"), True, "watch.polling_interval must be a whole number (got True)"),
    (("watch", "polling_interval"), 1441, "watch.polling_interval must be from 0 to 1440 (got 1441)"),
    (("watch", "polling_interval"), -1, "watch.polling_interval must be from 0 to 1440 (got -1)"),
    (("watch", "ignore_empty_blobs"), "false", "watch.ignore_empty_blobs must be true or false (got 'false')"),
    (("watch", "backfill"), 1, "watch.backfill must be true or false (got 1)"),
    (("watch", "blob_path_ends_with"), 1, "watch.blob_path_ends_with must be a string (got number)"),
    (("watch", "connection"), False, "watch.connection must be a string (got boolean)"),
    (("pipeline",), [], "pipeline must be a JSON object (got array)"),
    (("pipeline", "kind"), 3, "pipeline.kind must be a string (got number)"),
    (("pipeline", "endpoint"), None, "pipeline.endpoint is required"),
    (("pipeline", "endpoint"), 5, "pipeline.endpoint must be a string (got number)"),
    (("pipeline", "experiment_name"), {}, "pipeline.experiment_name must be a string (got object)"),
    (("pipeline", "parameter_assignments"), "a=1", "pipeline.parameter_assignments must be a JSON object (got string)"),
    (("pipeline", "parameter_assignments"), {"a": None},
     "pipeline.parameter_assignments.a must be a string, number or boolean (got null)"),
    (("pipeline", "parameter_assignments"), {"a": {"b": 1}},
     "pipeline.parameter_assignments.a must be a string, number or boolean (got object)"),
    (("pipeline", "tags"), {"a": [1]}, "pipeline.tags.a must be a string, number or boolean (got array)"),
    (("pipeline", "datastore_name"), 1, "pipeline.datastore_name must be a string (got number)"),
    (("pipeline", "data_path_parameter_name"), [], "pipeline.data_path_parameter_name must be a string (got array)"),
    (("pipeline", "data_path_assignments"), [], "pipeline.data_path_assignments must be a JSON object (got array)"),
    (("pipeline", "data_path_assignments"), {"d": "x"},
     "pipeline.data_path_assignments.d must be a JSON object (got string)"),
    (("pipeline", "data_path_assignments"), {"d": {"datastore_name": "a"}},
     "pipeline.data_path_assignments.d.relative_path is required"),
    (("pipeline", "data_path_assignments"), {"d": {"datastore_name": 1, "relative_path": "b"}},
     "pipeline.data_path_assignments.d.datastore_name must be a string (got number)"),
    (("pipeline", "continue_on_step_failure"), "yes", "pipeline.continue_on_step_failure must be true or false"),
    (("pipeline", "description"), 1, "pipeline.description must be a string (got number)"),
    (("pipeline", "scope"), "http://evil.example/", "pipeline.scope must use https"),
    (("pipeline", "scope"), 9, "pipeline.scope must be a string (got number)"),
    (("pipeline", "client_id"), 5, "pipeline.client_id must be a string (got number)"),
]


@pytest.mark.parametrize(("path", "value", "expected"), WRONG_TYPES,
                         ids=[f"{'.'.join(p)}={v!r}" for p, v, _ in WRONG_TYPES])
def test_wrong_types_everywhere_name_trigger_and_field(path: tuple[str, ...], value: object, expected: str) -> None:
    entry = watch_entry("w")
    holder = entry
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    problems = problems_of([entry])
    assert any(p.startswith(f"trigger 'w': {expected}") for p in problems), problems


@pytest.mark.parametrize(("schedule", "phrase"), [
    ({"recurrence": "daily"}, "recurrence must be a JSON object"),
    ({"recurrence": {"frequency": "Day", "interval": 0}}, "recurrence.interval must be an integer >= 1"),
    ({"recurrence": {"frequency": "Day", "time_zone": "Mars/Olympus"}}, "is not a known time zone"),
    ({"cron": "0 */5 * *"}, "cron must have 6 fields"),
    ({"cron": 5}, "cron must be a string"),
    ({"cron": "0 0 * * * *", "time_zone": "Mid-Atlantic Standard Time"}, "which Windows has retired"),
])
def test_schedule_problems_name_the_trigger(schedule: dict[str, Any], phrase: str) -> None:
    problems = problems_of([{"name": "sched", **schedule, "pipeline": pipeline()}])
    assert any(p.startswith("trigger 'sched': ") and phrase in p for p in problems), problems


def test_entry_that_is_not_an_object_is_named_by_position() -> None:
    problems = problems_of([cron_entry("ok"), "just a string", [1]])
    assert problems == ["trigger #2: must be a JSON object (got string)",
                        "trigger #3: must be a JSON object (got array)"]


# --- never anything but ConfigError -------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "[" + "1" * 5000 + "]",  # Python refuses int strings over 4,300 digits with a plain ValueError
    "[{\"name\": \"t\", \"cron\": \"0 0 * * * *\", \"pipeline\": {\"endpoint\": \"https://x\", \"tags\": {\"a\": "
    + "9" * 5000 + "}}}]",
    "[" * 100_000 + "]" * 100_000,  # deeper than the JSON decoder's recursion limit
    "[{\"name\": \"t\", \"cron\": \"0 0 * * * *\", \"pipeline\": {\"endpoint\": \"https://x\"}, \"x\": "
    + "[" * 950 + "]" * 950 + "}]",  # decodes, but deeper than the checks can walk
    "[{\"name\": \"t\", \"cron\": \"0 0 * * * *\", \"pipeline\": {\"endpoint\": \"https://x\", \"tags\": "
    + "{\"a\": " * 950 + "1" + "}" * 950 + "}}]",
    "[{\"name\": \"t\", \"watch\": {\"container\": \"abc\", \"polling_interval\": NaN}, \"pipeline\": {}}]",
    "[{\"name\": \"\\ud800\", \"cron\": \"0 0 * * * *\", \"pipeline\": {\"endpoint\": \"https://\\udfff\"}}]",
], ids=["huge-int", "huge-int-in-field", "deep-json", "deep-list-in-entry", "deep-map-in-entry", "nan",
        "lone-surrogates"])
def test_pathological_text_is_a_config_error(text: str) -> None:
    problems = problems_of(text)
    assert all(isinstance(p, str) and p for p in problems)


JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(sorted(
    config_module.TRIGGER_FIELDS | config_module.WATCH_FIELDS | config_module.COMMON_PIPELINE_FIELDS
    | {"frequency", "interval", "start_time", "time_zone", "hours", "minutes", "week_days", "time_of_day",
       "datastore_name", "relative_path", "x"}
))
TRICKY_STRINGS = st.sampled_from([
    "", " ", "%", "%X%", "%AZURE_CLIENT_ID%", "http://127.0.0.1:1/x", "http://[::1", "https://a:99999/",
    "0 */5 * * * *", "* * * * *", "Day", "Week", "Minute", "Europe/Berlin", "Active", "Disabled", "uploads",
    "published_pipeline", "2026-03-29T02:30:00", "25:00", "Monday", "\x00", "\ud800", "a" * 70,
])
SHAPED_VALUES = st.recursive(
    JSON_SCALARS | TRICKY_STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(FIELD_NAMES, inner, max_size=6),
    max_leaves=30,
)


def trigger_like(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid trigger with some fields replaced by arbitrary values, at any depth."""

    def mutate(changes: list[tuple[list[str], object]]) -> dict[str, Any]:
        entry = json.loads(json.dumps(base))
        for path, value in changes:
            holder = entry
            for key in path[:-1]:
                if not isinstance(holder.get(key), dict):
                    holder[key] = {}
                holder = holder[key]
            holder[path[-1]] = value
        return entry

    paths = st.lists(FIELD_NAMES, min_size=1, max_size=3)
    return st.lists(st.tuples(paths, SHAPED_VALUES), max_size=4).map(mutate)


def parses_or_config_error(text: str) -> None:
    try:
        result = parse_config(text)
    except ConfigError as error:
        assert error.problems and all(isinstance(p, str) for p in error.problems)
    else:
        assert isinstance(result, BridgeConfig) and result.triggers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_fuzz_any_text(text: str) -> None:
    parses_or_config_error(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_fuzz_any_json(value: object) -> None:
    parses_or_config_error(json.dumps(value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(
    trigger_like(watch_entry()) | trigger_like(cron_entry())
    | trigger_like({"name": "r", "recurrence": {"frequency": "Week"}, "pipeline": pipeline()})
    | SHAPED_VALUES,
    min_size=1, max_size=3,
))
def test_fuzz_trigger_shaped_json(entries: list[object]) -> None:
    parses_or_config_error(json.dumps(entries))


# --- watch.event_apis ------------------------------------------------------------------------------
def test_an_event_api_allow_list_parses() -> None:
    [trigger] = parse_config(json.dumps([watch_entry(watch={
        "container": "uploads", "polling_interval": 0, "event_apis": ["FlushWithClose", "RenameFile"]})])).triggers
    assert trigger.watch is not None and trigger.watch.event_apis == frozenset({"FlushWithClose", "RenameFile"})


@pytest.mark.parametrize(("event_apis", "phrase"), [
    ([], "must be a non-empty array of data.api names (any of: PutBlob, PutBlockList, CopyBlob, FlushWithClose, "
         "SftpCommit, RenameFile, RenameDirectory)"),
    ("PutBlob", "must be a non-empty array of data.api names"),
    (["PutBlobb"], "lists 'PutBlobb', which is not a data.api that can fire (use any of: PutBlob, "),
    (["SftpCreate"], "lists 'SftpCreate', which never fires: its content arrives with a later event"),
    (["CreateFile"], "lists 'CreateFile', which never fires"),
])
def test_a_bad_event_api_allow_list_is_named(event_apis: Any, phrase: str) -> None:
    problem = only_problem([watch_entry(watch={"container": "uploads", "polling_interval": 0,
                                               "event_apis": event_apis})])
    assert problem.startswith("trigger 'landing': watch.event_apis ") and phrase in problem, problem


def test_an_event_api_allow_list_needs_the_sweep_off() -> None:
    problem = only_problem([watch_entry(watch={"container": "uploads", "event_apis": ["PutBlob"]})])
    assert problem == ("trigger 'landing': watch.event_apis needs polling_interval 0: the polling sweep cannot tell "
                       "which API wrote a blob, so it would submit the blobs this list refuses")


# --- porting an Azure ML schedule -----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["datastore_name", "data_path_parameter_name"])
@pytest.mark.parametrize("schedule", [{"cron": "0 0 2 * * *"}, {"recurrence": {"frequency": "Day"}}],
                         ids=["cron", "recurrence"])
def test_a_schedule_refuses_the_blob_only_fields_as_schedule_create_does(field: str, schedule: dict[str, Any]
                                                                          ) -> None:
    entry = {"name": "nightly", **schedule, "pipeline": pipeline(**{field: "x"})}
    assert problems_of([entry]) == [
        f"trigger 'nightly': pipeline.{field} can only be given with a watch trigger: it names where the changed "
        "blob goes, and a recurrence or cron trigger has none (for a fixed DataPath input use data_path_assignments)"]


def test_a_kind_that_never_takes_the_field_reports_it_once() -> None:
    adf = ("https://management.azure.com/subscriptions/s/resourceGroups/r/providers/Microsoft.DataFactory/"
           "factories/f/pipelines/p")
    problems = problems_of([cron_entry(pipeline={"kind": "adf_pipeline", "endpoint": adf, "datastore_name": "x"})])
    assert [p for p in problems if "pipeline.datastore_name" in p] == [
        "trigger 'nightly': pipeline.datastore_name is not used by kind adf_pipeline: Data Factory's createRun takes "
        "only pipeline parameters; pass the value in parameter_assignments"]


def test_a_schedule_in_a_windows_zone_loads_with_its_iana_zone() -> None:
    [trigger] = parse_config(json.dumps([cron_entry(time_zone="W. Europe Standard Time"),
                                         ])).triggers
    assert trigger.schedule is not None and trigger.schedule.time_zone == "Europe/Berlin"
    [recurring] = parse_config(json.dumps([{"name": "r", "pipeline": pipeline(), "recurrence": {
        "frequency": "Day", "start_time": "2024-01-01T06:00:00", "time_zone": "TimeZone.PacificStandardTime"}}])
    ).triggers
    assert recurring.schedule is not None and recurring.schedule.time_zone == "America/Los_Angeles"
