"""Decision lines reach Application Insights: never sampled away, and correlated with their invocation."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.clock import utc_now
from shared.credentials import _fetches
from shared.logs import LOGGER, SDK_REQUEST_LOGGER
from shared.runtime import current_runtime
from shared.submitter import shared_submitter
from shared.sweep import sweep_trigger
from tests.support.host import REPO_ROOT, blob_created_event, current_invocation_id, load_function, timer_payload
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]


class InvocationRecorder(logging.Handler):
    """What the worker's log handler sees: for each decision line, its thread and the invocation id there."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage().split()[0], threading.current_thread().name, current_invocation_id()))


IDENTITY = logging.getLogger("azure.identity")  # azure-identity logs `<Credential>.get_token succeeded` (INFO)
TOKEN_LINE = "ManagedIdentityCredential.get_token"


@pytest.fixture
def recorder() -> Iterator[InvocationRecorder]:
    handler, levels = InvocationRecorder(), {logger: logger.level for logger in (LOGGER, IDENTITY)}
    for logger in levels:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield handler
    for logger, level in levels.items():
        logger.removeHandler(handler)
        logger.setLevel(level)


def fresh_tokens() -> None:
    """The process-wide credential forgets its token, so the next submission fetches one on a `token` thread."""
    shared_submitter().tokens.forget(None)


def token_lines(recorder: InvocationRecorder) -> list[tuple[str, str | None]]:
    return [(thread, invocation) for event, thread, invocation in recorder.seen if event == TOKEN_LINE]


def test_lines_from_the_sweeps_pool_threads_carry_the_timer_invocation(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, recorder: InvocationRecorder
) -> None:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url(),
                                polling_interval=1)])
    runtime = current_runtime()
    sweep_trigger(runtime.config.trigger("landing"), runtime, runtime.state, now=utc_now() - timedelta(minutes=5))
    for name in ("a.csv", "b.csv", "c.csv"):
        container.get_blob_client(name).upload_blob(b"x")
    fresh_tokens()
    recorder.seen.clear()

    load_function("timer_trigger").invoke(timer_payload())

    assert len(standin.runs) == 3
    submitted = [(thread, invocation) for event, thread, invocation in recorder.seen if event == "event=submitted"]
    assert len(submitted) == 3 and all(thread.startswith("sweep") for thread, _ in submitted)
    assert token_lines(recorder) and all(thread.startswith("token") for thread, _ in token_lines(recorder))
    invocations = {invocation for _, _, invocation in recorder.seen}
    assert len(invocations) == 1 and None not in invocations, recorder.seen


def test_lines_azure_identity_logs_on_token_threads_carry_the_invocation_and_only_for_that_call(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, recorder: InvocationRecorder
) -> None:
    """Token fetches run on a pool shared by every invocation of the process: each call is bound to its own."""
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    blob = container.get_blob_client("a.csv")
    blob.upload_blob(b"x")
    fresh_tokens()
    recorder.seen.clear()

    load_function("blob_trigger").invoke(blob_created_event(blob))

    (submitted,) = [invocation for event, _, invocation in recorder.seen if event == "event=submitted"]
    assert submitted is not None and len(standin.runs) == 1
    (fetched,) = token_lines(recorder)
    assert fetched == (fetched[0], submitted) and fetched[0].startswith("token"), recorder.seen
    assert _fetches.submit(current_invocation_id).result() is None, "the invocation stays with its call"


def test_traces_are_never_sampled() -> None:
    """The decision lines are traces; sampling them would drop `event=submitted`/`unrecorded` lines at random."""
    sampling = json.loads((REPO_ROOT / "host.json").read_text())["logging"]["applicationInsights"]["samplingSettings"]
    if sampling.get("isEnabled", True):
        assert "Trace" in sampling["excludedTypes"].split(";")


def test_the_storage_clients_request_lines_stay_out_of_the_functions_log(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker forwards every record at INFO and above (its root logger's level) and host.json keeps every
    trace: azure-core's line per storage request would outnumber the decisions several times over."""
    caplog.set_level(logging.INFO)  # the root logger, as the worker sets it
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    blob = container.get_blob_client("day.csv")
    blob.upload_blob(b"a,b\n")

    load_function("blob_trigger").invoke(blob_created_event(blob))

    assert any(r.getMessage().startswith("event=submitted") for r in caplog.records)
    assert [r.getMessage()[:40] for r in caplog.records if r.name == SDK_REQUEST_LOGGER] == []
    caplog.clear()
    caplog.set_level(logging.INFO, logger=SDK_REQUEST_LOGGER)  # brought back, as the comment in shared/logs says
    load_function("blob_trigger").invoke(blob_created_event(blob))  # a redelivery: still read and claimed
    assert any("Request URL" in r.getMessage() for r in caplog.records if r.name == SDK_REQUEST_LOGGER)
