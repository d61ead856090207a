"""Security: tokens go only to https (or loopback) endpoints and never into logs, errors or the ledger;
`%NAME%` expansion reads app settings and nothing else."""

from __future__ import annotations

import builtins
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerClient
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import settings as settings_module
from shared import submitter as submitter_module
from shared.config import ConfigError, parse_config
from shared.event_path import RetryLaterError
from shared.ledger import FAILED, RELEASED, Ledger
from shared.runtime import current_runtime
from shared.settings import MissingSettingError, expand_placeholders
from shared.submitter import SubmitError, Submitter
from shared.targets import PipelineRequest
from tests.support.host import FunctionApp, blob_created_event, load_function
from tests.support.http_server import Request
from tests.support.identity import IdentityEndpoint
from tests.support.leaks import all_logs, leaked_secrets, rendered
from tests.support.standin import Fault, PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
PATH = "/pipelines/v1.0/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/x"


def config_with(endpoint: str = "https://example.com/x", **pipeline: Any) -> str:
    trigger = watch_trigger("landing", "uploads", endpoint)
    trigger["pipeline"].update(pipeline)
    return json.dumps([trigger])


# -- where tokens may be sent --------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", [
    "http://example.com" + PATH,
    "http://127.0.0.1.evil.example" + PATH,
    "http://localhost.evil.example" + PATH,
    "http://127.0.0.1@evil.example" + PATH,
    "http://evil.example\\@127.0.0.1" + PATH,
    "http://evil.example\t@127.0.0.1" + PATH,
    "http://[::ffff:127.0.0.1]" + PATH,
    "http://0x7f000001" + PATH,
    "http://2130706433" + PATH,
    "http://127.1" + PATH,
    "http://127.0.0.1:99999" + PATH,
    "ftp://127.0.0.1" + PATH,
    "file:///etc/passwd",
    "//127.0.0.1" + PATH,
    "javascript:alert(1)",
    "",
])
def test_plain_http_and_odd_endpoints_are_refused_at_configuration(endpoint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(config_with(endpoint))
    assert any("pipeline.endpoint" in problem for problem in raised.value.problems)


@pytest.mark.parametrize("endpoint", [
    "https://westeurope.api.azureml.ms" + PATH,
    "http://127.0.0.1:8080" + PATH,
    "http://127.0.0.2" + PATH,
    "http://localhost:8080" + PATH,
    "HTTP://LOCALHOST" + PATH,
    "http://[::1]:8080" + PATH,
])
def test_https_and_loopback_endpoints_are_accepted(endpoint: str) -> None:
    assert parse_config(config_with(endpoint)).triggers[0].pipeline.endpoint == endpoint


def test_a_stored_request_to_plain_http_is_refused_before_any_token_is_fetched(
    identity: IdentityEndpoint, bridge_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay sends what the ledger holds: the submitter checks the URL again, before asking for a token."""
    monkeypatch.setattr(submitter_module, "_shared", None)
    asked = len(identity.requests)
    request = PipelineRequest(kind="published_pipeline", url="http://pipelines.example" + PATH, body={},
                              scope="https://management.azure.com/.default")
    with pytest.raises(SubmitError) as raised:
        Submitter().submit(request)
    assert raised.value.code == "InsecureEndpoint"
    assert len(identity.requests) == asked


# -- tokens never written down -------------------------------------------------------------------
@pytest.fixture(scope="module")
def blob_function() -> FunctionApp:
    return load_function("blob_trigger")


def echo_token(status: int) -> Callable[[Request], Fault]:
    """A careless service that quotes the request's Authorization header back in its error message."""
    return lambda request: Fault(status=status, message=f"rejected {request.headers.get('authorization')}")


@pytest.mark.parametrize("status, state", [(400, FAILED), (401, FAILED), (503, RELEASED)])
def test_tokens_never_reach_logs_errors_or_the_ledger(
    status: int, state: str, blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient,
    standin: PipelineStandIn, identity: IdentityEndpoint, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(submitter_module, "_shared", None)  # the token is fetched inside the capture
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "2")
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    blob = container.get_blob_client("x.csv")
    blob.upload_blob(b"1,2\n")
    standin.fault_hook = echo_token(status)
    errors: list[str] = []
    with all_logs() as records:
        try:
            blob_function.invoke(blob_created_event(blob))
        except RetryLaterError as error:
            errors.append(str(error))
    [entry] = list(Ledger.from_settings().entries())

    assert any("event=failed" in r.getMessage() and "rejected Bearer [redacted]" in r.getMessage() for r in records)
    assert entry.state == state and "[redacted]" in entry.error["message"]
    assert all(h.lower() != "authorization" for h in entry.request["headers"])
    assert standin.requests and all("authorization" not in r.headers for r in standin.requests)
    written = "\n".join([rendered(records), *errors, json.dumps(vars(entry))])
    assert leaked_secrets(written, identity) == []


def test_the_leak_check_itself_finds_a_token(identity: IdentityEndpoint, bridge_env: dict[str, str]) -> None:
    token = Submitter().tokens.token("https://management.azure.com/.default", None).token
    assert leaked_secrets(f"header was Bearer {token}", identity)


# -- %NAME% reads app settings, nothing else -----------------------------------------------------
@pytest.mark.parametrize("value", [
    "%../../etc/passwd%",
    "%/etc/passwd%",
    "%file:///etc/passwd%",
    "%$(touch {sentinel})%",
    "%`touch {sentinel}`%",
    "%{{__import__('os').system('touch {sentinel}')}}%",
    "%PATH:~0,5%",
    "%%",
    "100%",
])
def test_placeholders_cannot_read_files_or_run_commands(value: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "ran"
    text = value.format(sentinel=sentinel)
    try:
        config = parse_config(config_with(experiment_name=text))
    except ConfigError as error:
        assert any("pipeline.experiment_name refers to app setting" in p for p in error.problems)
    else:
        assert config.triggers[0].pipeline.experiment_name == text  # left as written
    assert not sentinel.exists()


def refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("expanding placeholders must not open files or start processes")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60), names=st.dictionaries(st.from_regex(r"[A-Za-z0-9_.:-]{1,8}", fullmatch=True),
                                                        st.text(max_size=10), max_size=4))
def test_expansion_is_plain_substitution_of_settings_only(text: str, names: dict[str, str]) -> None:
    environment = {**names, "NESTED": "%SECRET%", "SECRET": "s3cret"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings_module, "environment", lambda: environment)
        patch.setattr(builtins, "open", refuse)
        patch.setattr(subprocess, "Popen", refuse)
        patch.setattr(os, "system", refuse)
        try:
            expanded = expand_placeholders(text + "%NESTED%")
        except MissingSettingError as error:
            assert error.name not in environment
            return
    assert expanded.endswith("%SECRET%")  # a setting's value is never expanded again


def test_a_lease_shorter_than_the_longest_submission_is_refused(
    set_triggers: Setter, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_triggers([watch_trigger("landing", "uploads", standin.published_pipeline_url())])
    monkeypatch.setenv("PIPELINE_CLAIM_LEASE_SECONDS", "60")  # defaults: 120 + 10 + 5 (tests' read timeout)
    with pytest.raises(ConfigError, match="PIPELINE_CLAIM_LEASE_SECONDS"):
        current_runtime()
    monkeypatch.setenv("PIPELINE_RETRY_BUDGET_SECONDS", "30")
    assert current_runtime().ledger.lease.total_seconds() == 60
