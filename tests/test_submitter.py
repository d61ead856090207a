"""The submitter against the real azure-identity (talking to the local managed-identity endpoint) and
the pipeline stand-in: answers, the retry rules of docs/services.md ("Retry conventions and uncertain
outcomes"), uncertain outcomes that are never re-sent blindly, deadlines, and that the bearer token never
leaves the request."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from azure.storage.blob import ContainerClient

from shared.config import parse_config
from shared.credentials import REFRESH_MARGIN_SECONDS, TokenProvider
from shared.dispatch import Outcome, build_request, fire, submit_claimed
from shared.firing import BlobVersion
from shared.ledger import RUNS_PREFIX, UNCERTAIN, Claim, Ledger
from shared.logs import SDK_REQUEST_LOGGER
from shared.submitter import (
    RetryPolicy,
    SubmitError,
    SubmitResult,
    Submitter,
    connection_never_made,
    redact,
    retry_after_seconds,
)
from shared.targets import PipelineRequest
from shared.targets.published_pipeline import run_id
from shared.targets.spec import SCOPE_MANAGEMENT
from tests.support.http_server import Request
from tests.support.identity import IdentityEndpoint
from tests.support.standin import Fault, Hold, PipelineStandIn
from tests.support.waiting import wait_for

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, budget=10.0, connect_timeout=1.0,
                   read_timeout=3.0)
BODY = {"ExperimentName": "exp", "ParameterAssignments": {"input_string": "s"}, "RunSource": "SDK"}


class Sleeps(list[float]):
    """Stands in for time.sleep: records each delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def restore_revocations(identity: IdentityEndpoint) -> Iterator[None]:
    """`revoke_all` here must not revoke the tokens other tests' process-wide submitter has cached."""
    before = set(identity.revoked)
    yield
    identity.revoked.intersection_update(before)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_submitter(bridge_env: dict[str, str], sleeps: Sleeps) -> Callable[..., Submitter]:
    def make(policy: RetryPolicy = FAST) -> Submitter:
        return Submitter(tokens=TokenProvider(), policy=policy, sleep=sleeps)

    return make


@pytest.fixture
def submitter(make_submitter: Callable[..., Submitter]) -> Submitter:
    return make_submitter()


@pytest.fixture
def identity_calls(identity: IdentityEndpoint) -> Callable[[], int]:
    """Token requests the identity endpoint received since the test started."""
    start = len(identity.requests)
    return lambda: len(identity.requests) - start


def aml_request(url: str, body: Any = None) -> PipelineRequest:
    return PipelineRequest(kind="published_pipeline", url=url, body=BODY if body is None else body,
                           scope=SCOPE_MANAGEMENT, headers={"Content-Type": "application/json"})


@pytest.fixture
def request_(standin: PipelineStandIn) -> PipelineRequest:
    return aml_request(standin.published_pipeline_url())


def submit_error(submitter: Submitter, request: PipelineRequest, deadline: float | None = None) -> SubmitError:
    with pytest.raises(SubmitError) as raised:
        submitter.submit(request, **({} if deadline is None else {"deadline": deadline}))
    return raised.value


def run_id_of(result: SubmitResult) -> str | None:
    """The submitter hands back the whole answer; the kind (here an AML v1 one) reads the run id."""
    return run_id(result.answer)


# --- success ---------------------------------------------------------------------------------------------


def test_success_returns_the_run_id_from_a_built_request(submitter: Submitter, standin: PipelineStandIn,
                                                         sleeps: Sleeps) -> None:
    [trigger] = parse_config(json.dumps([{
        "name": "landing", "watch": {"container": "uploads"},
        "pipeline": {"endpoint": standin.published_pipeline_url("pp-9"), "experiment_name": "MyRestPipeline",
                     "parameter_assignments": {"input_string": "sample_string3"},
                     "datastore_name": "workspaceblobstore", "data_path_parameter_name": "input_datapath"},
    }])).triggers
    request = build_request(trigger, BlobVersion("uploads", "2026/day 1.csv", "0x8D1"))

    result = submitter.submit(request)

    [run] = standin.runs
    assert run_id_of(result) == run.run_id
    assert result.status == 200 and result.attempts == 1 and result.latency >= 0
    assert result.response["PipelineId"] == "pp-9"
    [recorded] = standin.requests
    assert recorded.token_resource == "https://management.azure.com"
    assert recorded.body["DataPathAssignments"] == {
        "input_datapath": {"DataStoreName": "workspaceblobstore", "RelativePath": "2026/day 1.csv"}}
    assert sleeps == []


def test_token_is_cached_across_submissions(submitter: Submitter, request_: PipelineRequest,
                                            standin: PipelineStandIn, identity_calls: Callable[[], int]) -> None:
    run_ids = {run_id_of(submitter.submit(request_)) for _ in range(12)}
    assert len(run_ids) == 12 and None not in run_ids
    assert len(standin.runs) == 12
    assert identity_calls() == 1


def test_a_held_token_is_handed_out_again_until_it_nears_its_expiry(
    bridge_env: dict[str, str], identity: IdentityEndpoint, identity_calls: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """Each submission asked the credential (a `token` thread and MSAL's cache) although the token it had was
    good for an hour; it still asks once the token has less than the refresh margin to live, or was forgotten.
    azure-identity logs each time it is asked (`<Credential>.get_token succeeded`, INFO), from its cache too."""
    caplog.set_level(logging.INFO, logger="azure.identity")

    def asked() -> int:
        return sum("ManagedIdentityCredential.get_token succeeded" in r.getMessage() for r in caplog.records)

    tokens = TokenProvider()
    first = {tokens.token(SCOPE_MANAGEMENT, None, timeout=5).token for _ in range(5)}
    assert len(first) == 1 and asked() == 1 and identity_calls() == 1

    monkeypatch.setattr(identity, "lifetime", REFRESH_MARGIN_SECONDS - 5)
    short = {tokens.token(SCOPE_MANAGEMENT, "user-assigned", timeout=5).token for _ in range(3)}
    assert len(short) == 3 and asked() == 4 and identity_calls() == 4

    tokens.forget(None)  # a 401: the next token is a fresh one
    assert tokens.token(SCOPE_MANAGEMENT, None).token not in first and asked() == 5 and identity_calls() == 5


def test_a_token_fetched_by_a_forgotten_credential_is_not_handed_out_again(
    bridge_env: dict[str, str], identity: IdentityEndpoint, identity_calls: Callable[[], int],
) -> None:
    """A fetch under way when a 401 makes the provider forget its credential must not put that credential's
    (perhaps revoked) token back for the submissions after it."""
    hold = Hold()
    identity.hold_next(hold)
    tokens = TokenProvider()
    fetching = threading.Thread(target=tokens.token, args=(SCOPE_MANAGEMENT, None, 5))
    fetching.start()
    assert hold.wait_reached(10)

    tokens.forget(None)
    hold.release.set()
    fetching.join(10)

    tokens.token(SCOPE_MANAGEMENT, None, timeout=5)
    assert identity_calls() == 2


def test_concurrent_submissions_share_the_submitter(submitter: Submitter, request_: PipelineRequest,
                                                    standin: PipelineStandIn) -> None:
    results: list[str | None] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(run_id_of(submitter.submit(request_)))
        except BaseException as error:  # collected: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(results) == sorted(run.run_id for run in standin.runs)
    assert len(set(results)) == 16


# --- transient failures ----------------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(submitter: Submitter, request_: PipelineRequest,
                                         standin: PipelineStandIn, sleeps: Sleeps) -> None:
    standin.fail_next(429, retry_after="2")
    result = submitter.submit(request_)
    assert sleeps == [2.0]
    assert result.attempts == 2 and run_id_of(result) == standin.runs[0].run_id
    assert len(standin.requests) == 2


def test_429_honours_retry_after_http_date(make_submitter: Callable[..., Submitter], request_: PipelineRequest,
                                           standin: PipelineStandIn, sleeps: Sleeps) -> None:
    submitter = make_submitter(RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, budget=100.0))
    retry_after = email.utils.formatdate(time.time() + 30, usegmt=True)
    standin.fail_next(429, retry_after=retry_after)
    moment = email.utils.parsedate_to_datetime(retry_after).timestamp()
    before = time.time()
    result = submitter.submit(request_)
    after = time.time()
    assert run_id_of(result) is not None
    [delay] = sleeps
    # The wait until that moment, from whenever during the submission the answer was read (however slow).
    assert moment - after - 0.01 <= delay <= moment - before + 0.01


def test_retry_after_beyond_the_budget_gives_up_without_sleeping(
    make_submitter: Callable[..., Submitter], request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps
) -> None:
    submitter = make_submitter(RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, budget=5.0))
    standin.fail_next(429, retry_after="60")
    error = submit_error(submitter, request_)
    assert error.status == 429 and error.transient and not error.ambiguous
    assert error.attempts == 1
    assert sleeps == []
    assert standin.runs == []


@pytest.mark.parametrize("status", [408, 503, 429])
def test_not_processed_statuses_retried_with_capped_exponential_backoff(
    make_submitter: Callable[..., Submitter], request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps,
    status: int,
) -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0.02, max_delay=0.05, budget=10.0)
    standin.fail_next(status, times=3)
    result = make_submitter(policy).submit(request_)
    assert result.attempts == 4
    assert len(standin.requests) == 4 and len(standin.runs) == 1
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0 <= delay <= min(0.05, 0.02 * 2 ** (attempt - 1))


def test_backoff_is_full_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    rng_state = random.getstate()
    try:
        random.seed(1234)
        for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
            samples = [policy.backoff(attempt) for _ in range(400)]
            assert all(0 <= s <= ceiling for s in samples)
            assert max(samples) > 0.8 * ceiling and min(samples) < 0.2 * ceiling  # spread, not fixed
    finally:
        random.setstate(rng_state)


def test_retries_exhausted_surface_the_aml_error(make_submitter: Callable[..., Submitter], request_: PipelineRequest,
                                                 standin: PipelineStandIn, sleeps: Sleeps) -> None:
    submitter = make_submitter(RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, budget=10.0))
    standin.fail_next(503, times=10, message="the service is busy")
    error = submit_error(submitter, request_)
    assert error.transient and not error.ambiguous
    assert error.status == 503
    assert error.code == "Injected503"
    assert error.message == "the service is busy"
    assert error.attempts == 3
    assert {"x-ms-request-id", "operation", "request"} <= set(error.correlation)
    assert len(standin.requests) == 3 and len(sleeps) == 2 and standin.runs == []
    assert error.to_json() == {"status": 503, "code": "Injected503", "message": "the service is busy",
                               "correlation": error.correlation, "transient": True, "ambiguous": False,
                               "attempts": 3}
    assert str(error) == "HTTP 503 Injected503: the service is busy"


def test_connection_refused_is_retried_as_transient(submitter: Submitter, sleeps: Sleeps,
                                                    identity_calls: Callable[[], int], closed_port: int) -> None:
    closed = aml_request(f"http://127.0.0.1:{closed_port}/pipelines/x")
    error = submit_error(submitter, closed)
    assert error.code == "ConnectionFailed"
    assert error.transient and not error.ambiguous and error.status is None
    assert error.attempts == FAST.max_attempts
    assert len(sleeps) == FAST.max_attempts - 1
    assert identity_calls() == 1  # one token, reused by every attempt


def test_connection_refused_then_service_comes_up(submitter: Submitter, standin: PipelineStandIn,
                                                  sleeps: Sleeps) -> None:
    """The first attempts find nothing listening; the service starts during the backoff.

    The port is held bound (connections refused) from the start, and the same socket starts listening later:
    no other process can take it meanwhile."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = int(server.getsockname()[1])
    accepted: list[bytes] = []

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            accepted.append(data)
            payload = json.dumps({"Id": "run-after-outage"}).encode()
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                               + str(len(payload)).encode() + b"\r\nConnection: close\r\n\r\n" + payload)

    def sleep_then_listen(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            server.listen(1)
            threading.Thread(target=serve, daemon=True).start()

    submitter.sleep = sleep_then_listen
    try:
        result = submitter.submit(aml_request(f"http://127.0.0.1:{port}/pipelines/x"))
    finally:
        server.close()
    assert run_id_of(result) == "run-after-outage"
    assert result.attempts == 3 and len(sleeps) == 2 and len(accepted) == 1


# --- permanent failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_permanent_statuses_fail_at_once(submitter: Submitter, request_: PipelineRequest, standin: PipelineStandIn,
                                         sleeps: Sleeps, status: int) -> None:
    standin.fail_next(status, message=f"nope {status}")
    error = submit_error(submitter, request_)
    assert error.status == status and error.code == f"Injected{status}" and error.message == f"nope {status}"
    assert not error.transient and not error.ambiguous and error.attempts == 1
    assert len(standin.requests) == 1 and sleeps == []


def test_validation_error_from_the_service_is_permanent(submitter: Submitter, standin: PipelineStandIn) -> None:
    error = submit_error(submitter, aml_request(standin.published_pipeline_url(), body={"RunSource": "SDK"}))
    assert error.status == 400 and error.code == "BadRequest" and "ExperimentName" in error.message
    assert not error.transient and len(standin.requests) == 1


def test_unknown_route_404_without_aml_body_is_permanent(submitter: Submitter, standin: PipelineStandIn) -> None:
    error = submit_error(submitter, aml_request(f"{standin.base_url}/no/such/route"))
    assert error.status == 404 and not error.transient
    assert error.code == "NotFound" and "no route" in error.message


def test_401_gets_one_fresh_token_then_succeeds(submitter: Submitter, request_: PipelineRequest,
                                                standin: PipelineStandIn, identity: IdentityEndpoint,
                                                identity_calls: Callable[[], int], sleeps: Sleeps) -> None:
    submitter.submit(request_)
    assert identity_calls() == 1
    identity.revoke_all()  # the cached token is now refused with 401

    result = submitter.submit(request_)

    assert identity_calls() == 2  # the identity endpoint was asked again, once
    assert run_id_of(result) == standin.runs[-1].run_id and len(standin.runs) == 2
    assert result.attempts == 2
    assert [r.token_resource for r in standin.requests] == ["https://management.azure.com", None,
                                                            "https://management.azure.com"]
    assert sleeps == []


def test_401_twice_is_permanent(submitter: Submitter, request_: PipelineRequest, standin: PipelineStandIn,
                                identity_calls: Callable[[], int], sleeps: Sleeps) -> None:
    standin.fail_next(401, times=2, message="token rejected")
    error = submit_error(submitter, request_)
    assert error.status == 401 and error.code == "Injected401" and error.message == "token rejected"
    assert not error.transient and not error.ambiguous
    assert error.attempts == 2
    assert len(standin.requests) == 2 and standin.runs == []
    assert identity_calls() == 2 and sleeps == []


def test_wrong_audience_token_is_refused_as_401(submitter: Submitter, standin: PipelineStandIn) -> None:
    request = PipelineRequest(kind="published_pipeline", url=standin.published_pipeline_url(), body=BODY,
                              scope="https://ml.azure.com/.default", headers={"Content-Type": "application/json"})
    error = submit_error(submitter, request)
    assert error.status == 401 and error.code == "InvalidAudience" and not error.transient
    assert standin.runs == []


# --- ambiguous outcomes: never retried -------------------------------------------------------------------


@pytest.mark.parametrize("created", [False, True], ids=["creates-after-the-stall", "creates-then-stalls"])
def test_stall_past_read_timeout_is_ambiguous_and_not_retried(
    make_submitter: Callable[..., Submitter], request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps,
    created: bool,
) -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.02, connect_timeout=1.0, read_timeout=0.2)
    hold = Hold()  # the service answers only when the test releases it: the client must give up by itself
    standin.inject(Fault(hold=hold, create_run=created))
    error = submit_error(make_submitter(policy), request_)
    assert hold.reached.is_set() and not hold.release.is_set()
    assert error.ambiguous and not error.transient
    assert error.code == "ReadTimeout" and error.status is None and error.attempts == 1
    assert "0.2s" in error.message and "not re-sent blindly" in error.message
    assert len(standin.requests) == 1 and sleeps == []
    # Either way the service does start the run, after the client gave up: a retry would have made two.
    hold.release.set()
    assert wait_for(lambda: len(standin.runs) == 1)
    time.sleep(0.1)
    assert len(standin.runs) == 1 and len(standin.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_gateway_error_after_the_run_was_created_is_uncertain_and_not_resent(
    submitter: Submitter, request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps, status: int,
) -> None:
    """Issue #12, defect 2: the service created the run, then answered 5xx; a re-POST would make a second."""
    standin.fail_next(status, create_run=True, message="upstream timed out")

    error = submit_error(submitter, request_)

    assert error.ambiguous and not error.transient and error.status == status and error.attempts == 1
    assert "upstream timed out" in error.message and "not re-sent blindly" in error.message
    assert len(standin.requests) == 1 and len(standin.runs) == 1 and sleeps == []


@pytest.mark.parametrize("fault", [Fault(status=502, create_run=True), Fault(drop=True, create_run=True),
                                   Fault(cut=True, create_run=True)], ids=["502", "dropped", "cut"])
def test_an_idempotent_request_is_resent_after_an_uncertain_outcome(
    submitter: Submitter, request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps, fault: Fault,
) -> None:
    """The service dedupes it by its run key (Databricks, AML v2 job names): re-sending is the resolution."""
    standin.inject(fault)

    result = submitter.submit(dataclasses.replace(request_, idempotent=True))

    assert result.attempts == 2 and len(standin.requests) == 2 and len(sleeps) == 1
    assert run_id_of(result) == standin.runs[-1].run_id


def test_a_response_cut_off_after_the_run_was_created_is_uncertain(
    submitter: Submitter, request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps,
) -> None:
    standin.inject(Fault(cut=True, create_run=True))
    error = submit_error(submitter, request_)
    assert error.ambiguous and error.code == "AmbiguousResponse"
    assert len(standin.requests) == 1 and len(standin.runs) == 1 and sleeps == []


def test_a_deadline_stops_a_retry_that_would_end_after_it(
    make_submitter: Callable[..., Submitter], request_: PipelineRequest, standin: PipelineStandIn, sleeps: Sleeps,
) -> None:
    """Issue #12, defect 9: the event path must answer Event Grid in time; the budget alone would wait 5 s."""
    submitter = make_submitter(RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, budget=100.0))
    standin.fail_next(429, times=2, retry_after="5")

    error = submit_error(submitter, request_, deadline=time.monotonic() + 4.5)  # room for a slow first attempt

    assert error.status == 429 and error.transient and error.attempts == 1 and sleeps == []
    assert run_id_of(submitter.submit(request_)) is not None and sleeps == [5.0]  # no deadline: waited, retried


def test_a_deadline_too_close_for_an_attempt_sends_nothing(submitter: Submitter, request_: PipelineRequest,
                                                           standin: PipelineStandIn) -> None:
    error = submit_error(submitter, request_, deadline=time.monotonic() + 0.5)
    assert error.code == "DeadlineReached" and error.transient and not error.ambiguous
    assert standin.requests == []


def test_connection_dropped_after_sending_is_ambiguous(submitter: Submitter, request_: PipelineRequest,
                                                       standin: PipelineStandIn, sleeps: Sleeps) -> None:
    standin.fault_hook = lambda request: Fault(drop=True)
    error = submit_error(submitter, request_)
    assert error.ambiguous and not error.transient and error.code == "AmbiguousConnectionError"
    assert len(standin.requests) == 1 and sleeps == []


@pytest.fixture
def truncating_server() -> Iterator[tuple[str, list[bytes]]]:
    """Answers 200 with a body cut short: the run exists, but the answer never fully arrives."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                received.append(data)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: 400\r\n\r\n{\"Id\": \"run-")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/pipelines/x", received
    server.close()


def test_response_cut_short_after_200_is_ambiguous_not_retried(
    submitter: Submitter, truncating_server: tuple[str, list[bytes]], sleeps: Sleeps
) -> None:
    url, received = truncating_server
    error = submit_error(submitter, aml_request(url))
    assert error.ambiguous and not error.transient
    assert error.code == "AmbiguousResponse" and "not re-sent blindly" in error.message
    assert len(received) == 1 and sleeps == []


def test_request_that_cannot_be_sent_is_permanent_and_not_sent(submitter: Submitter, standin: PipelineStandIn,
                                                               sleeps: Sleeps) -> None:
    request = PipelineRequest(kind="published_pipeline", url=standin.published_pipeline_url(), body=BODY,
                              scope=SCOPE_MANAGEMENT, headers={"azureml-model-deployment": "blue\r\nX-Injected: 1"})
    error = submit_error(submitter, request)
    assert error.code == "InvalidRequest" and not error.transient and not error.ambiguous
    assert standin.requests == [] and sleeps == []


# --- endpoint safety ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://example.com/pipelines/x",
    "http://example.com\\@127.0.0.1/pipelines/x",
    "ftp://127.0.0.1/x",
    "https://example.com:99999/x",
])
def test_unsafe_endpoint_refused_before_anything_is_sent(submitter: Submitter, standin: PipelineStandIn,
                                                         identity_calls: Callable[[], int], url: str) -> None:
    error = submit_error(submitter, aml_request(url))
    assert error.code == "InsecureEndpoint" and not error.transient and not error.ambiguous
    assert error.message.startswith("refusing to send: endpoint ")
    assert identity_calls() == 0 and standin.requests == []


# --- identity failures ---------------------------------------------------------------------------------------


def test_single_identity_blip_is_absorbed_by_azure_identity(submitter: Submitter, request_: PipelineRequest,
                                                            identity: IdentityEndpoint,
                                                            identity_calls: Callable[[], int]) -> None:
    identity.fail_next(500, times=1)
    assert run_id_of(submitter.submit(request_)) is not None
    assert identity_calls() == 2  # azure-identity retried the managed-identity request itself


def test_identity_refusal_is_token_unavailable_and_retried(
    make_submitter: Callable[..., Submitter], request_: PipelineRequest, standin: PipelineStandIn,
    identity: IdentityEndpoint, identity_calls: Callable[[], int], sleeps: Sleeps,
) -> None:
    identity.fail_next(400, times=3)  # not retried inside azure-identity: one call per attempt
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, budget=30.0)
    error = submit_error(make_submitter(policy), request_)
    assert error.code == "TokenUnavailable" and error.transient and not error.ambiguous
    assert error.status is None and error.attempts == 3
    assert "could not get a token for https://management.azure.com/.default" in error.message
    assert "400, injected identity failure" in error.message and len(error.message) < 400
    assert identity.secret_header not in error.message
    assert identity_calls() == 3 and len(sleeps) == 2
    assert standin.requests == []



def test_identity_recovers_between_attempts(make_submitter: Callable[..., Submitter], request_: PipelineRequest,
                                            identity: IdentityEndpoint, sleeps: Sleeps) -> None:
    identity.fail_next(400, times=1)
    result = make_submitter().submit(request_)
    assert run_id_of(result) is not None and result.attempts == 2 and len(sleeps) == 1


@pytest.mark.slow
def test_identity_endpoint_down_surfaces_token_unavailable(
    make_submitter: Callable[..., Submitter], request_: PipelineRequest, standin: PipelineStandIn,
    identity: IdentityEndpoint, identity_calls: Callable[[], int], sleeps: Sleeps,
) -> None:
    """A sustained 500: azure-identity retries it internally (4 requests over ~5s) before the submitter sees it."""
    identity.fail_next(500, times=4)
    policy = RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.02, budget=30.0)
    error = submit_error(make_submitter(policy), request_)
    assert error.code == "TokenUnavailable" and error.transient and error.attempts == 1
    assert identity_calls() == 4
    assert standin.requests == [] and sleeps == []


# --- the token stays secret ------------------------------------------------------------------------------


def echo_token(request: Request) -> Fault:
    """A service that quotes the caller's Authorization header back in its error message."""
    return Fault(status=400, message=f"rejected header {request.headers.get('authorization')}")


def test_token_never_appears_in_logs_errors_or_the_ledger(
    make_submitter: Callable[..., Submitter], standin: PipelineStandIn, identity: IdentityEndpoint,
    container: ContainerClient, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: urllib3, azure-core, azure-identity, ours
    caplog.set_level(logging.DEBUG, logger=SDK_REQUEST_LOGGER)  # quiet by default: its headers are checked too
    # A read timeout a loaded machine's plain answers never reach, a stall past it for the uncertain case.
    policy = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02, budget=10.0, read_timeout=3.0)
    submitter = make_submitter(policy)
    ledger = Ledger(container)
    [trigger] = parse_config(json.dumps([{
        "name": "secret-check", "watch": {"container": "uploads"},
        "pipeline": {"endpoint": standin.published_pipeline_url(), "experiment_name": "exp",
                     "datastore_name": "ds", "data_path_parameter_name": "input"},
    }])).triggers
    errors: list[SubmitError] = []

    def blob(tag: str) -> BlobVersion:
        return BlobVersion("uploads", f"{tag}-{uuid.uuid4().hex}.csv", f"0x{uuid.uuid4().hex[:8]}")

    outcomes = [fire(trigger, blob("ok"), ledger=ledger, submitter=submitter, source="test").outcome]
    standin.fault_hook = echo_token
    outcomes.append(fire(trigger, blob("echo"), ledger=ledger, submitter=submitter, source="test").outcome)
    standin.fault_hook = None
    identity.revoke_all()
    outcomes.append(fire(trigger, blob("refresh"), ledger=ledger, submitter=submitter, source="test").outcome)
    standin.fail_next(503, times=2, message="busy")
    outcomes.append(fire(trigger, blob("busy"), ledger=ledger, submitter=submitter, source="test").outcome)
    standin.stall_next(2 * policy.read_timeout)
    outcomes.append(fire(trigger, blob("stall"), ledger=ledger, submitter=submitter, source="test").outcome)
    assert wait_for(lambda: len(standin.runs) == 3, timeout=30)  # the stalled request's run lands late, in this test
    identity.revoke_all()
    standin.fail_next(401, times=2)
    outcomes.append(fire(trigger, blob("401"), ledger=ledger, submitter=submitter, source="test").outcome)
    for result in (fire(trigger, blob("again"), ledger=ledger, submitter=submitter, source="test"),):
        outcomes.append(result.outcome)
    request = build_request(trigger, blob("direct"))
    standin.fault_hook = echo_token
    with pytest.raises(SubmitError) as raised:
        submitter.submit(request)
    errors.append(raised.value)
    standin.fault_hook = None

    # the stall is uncertain: left for a lookup (RETRY), never re-sent
    assert outcomes == [Outcome.SUBMITTED, Outcome.FAILED, Outcome.SUBMITTED, Outcome.RETRY, Outcome.RETRY,
                        Outcome.FAILED, Outcome.SUBMITTED]
    tokens = list(identity.issued)
    assert len(tokens) >= 3
    assert "[redacted]" in errors[0].message  # the echoed header was found and removed
    ledger_bytes = [container.download_blob(b.name).readall().decode("utf-8") for b in container.list_blobs()]
    assert len(list(container.list_blobs(name_starts_with=RUNS_PREFIX))) == 7  # beside them: content versions
    texts = [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    texts += [str(e) for e in errors] + [json.dumps(e.to_json()) for e in errors] + ledger_bytes
    assert any("event=failed" in t for t in texts)  # the decision logs were captured
    for token in tokens:
        for text in texts:
            assert token not in text


def test_token_unavailable_message_keeps_no_secret(make_submitter: Callable[..., Submitter],
                                                   request_: PipelineRequest, identity: IdentityEndpoint,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    identity.fail_next(400, times=1)
    error = submit_error(make_submitter(RetryPolicy(max_attempts=1)), request_)
    assert error.code == "TokenUnavailable"
    for text in [str(error), json.dumps(error.to_json())] + [r.getMessage() for r in caplog.records]:
        assert identity.secret_header not in text


# --- the pieces ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("2", 2.0), (" 120 ", 120.0), ("0", 0.0), (None, None), ("", None), ("soon", None), ("-5", None),
    ("1.5", None), ("\u00b2", None), ("\u0663", None),  # non-ASCII digits: str.isdigit() says yes, float() says no
    ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0), ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ("Wed, 21 Oct 2015 07:28:00", 30.0), ("Wed, 32 Oct 2015 07:28:00 GMT", None),
])
def test_retry_after_forms(value: str | None, expected: float | None) -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:27:30 GMT").timestamp()
    assert retry_after_seconds(value, now=now) == expected


def test_redact_removes_bearer_tokens_and_the_known_secret() -> None:
    text = "Authorization: Bearer eyJ0.abc-def_ghi~/+= and raw s3cr3t-token here; bearer lower.case"
    cleaned = redact(text, "s3cr3t-token")
    assert "eyJ0" not in cleaned and "s3cr3t-token" not in cleaned and "lower.case" not in cleaned
    assert cleaned == "Authorization: Bearer [redacted] and raw [redacted] here; Bearer [redacted]"


def test_connection_never_made_classification(closed_port: int) -> None:
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{closed_port}/", timeout=1)
    assert connection_never_made(refused.value)
    assert connection_never_made(requests.ConnectTimeout("connect timed out"))
    assert not connection_never_made(requests.ConnectionError("Connection aborted: RemoteDisconnected"))


def test_policy_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("PIPELINE_RETRY_BASE_SECONDS", "0.5")
    monkeypatch.setenv("PIPELINE_READ_TIMEOUT_SECONDS", "12")
    monkeypatch.delenv("PIPELINE_RETRY_BUDGET_SECONDS", raising=False)
    policy = RetryPolicy.from_settings()
    assert (policy.max_attempts, policy.base_delay, policy.read_timeout, policy.budget) == (7, 0.5, 12.0, 120.0)
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "many")
    with pytest.raises(ValueError, match="PIPELINE_MAX_ATTEMPTS"):
        RetryPolicy.from_settings()


# --- what dispatch records for what the submitter reports ---------------------------------------------------


@pytest.fixture
def aml_trigger(standin: PipelineStandIn) -> Any:
    [trigger] = parse_config(json.dumps([{
        "name": "records", "watch": {"container": "uploads"},
        "pipeline": {"endpoint": standin.published_pipeline_url(), "experiment_name": "exp",
                     "datastore_name": "ds", "data_path_parameter_name": "input"},
    }])).triggers
    return trigger


def new_blob() -> BlobVersion:
    return BlobVersion("uploads", f"in-{uuid.uuid4().hex}.csv", f"0x{uuid.uuid4().hex[:8]}")


class SentThenInterrupted:
    """The POST goes out and the run is created, then the invocation is interrupted (Ctrl-C, host shutdown)."""

    def __init__(self, submitter: Submitter) -> None:
        self.submitter = submitter

    def submit(self, request: PipelineRequest, deadline: float | None = None) -> SubmitResult:
        self.submitter.submit(request, **({} if deadline is None else {"deadline": deadline}))
        raise KeyboardInterrupt


def test_an_interrupted_submission_is_recorded_uncertain_not_retryable(
    submitter: Submitter, standin: PipelineStandIn, container: ContainerClient, aml_trigger: Any,
) -> None:
    """Issue #12, defect 6: the request may have been sent, so the entry is uncertain (looked up before any
    resubmission), never `released` as safe to retry."""
    ledger = Ledger(container)
    firing = new_blob()

    with pytest.raises(KeyboardInterrupt):
        fire(aml_trigger, firing, ledger=ledger, submitter=SentThenInterrupted(submitter), source="test")

    [entry] = list(ledger.entries())
    assert entry.state == UNCERTAIN and entry.uncertain_at is not None
    assert entry.error is not None and entry.error["code"] == "Interrupted" and entry.error["ambiguous"] is True
    assert not entry.error["transient"] and len(standin.runs) == 1


def test_a_stored_request_of_an_unknown_kind_is_refused_before_anything_is_sent(
    submitter: Submitter, standin: PipelineStandIn, container: ContainerClient, aml_trigger: Any,
) -> None:
    """Issue #12, defect 6: a request stored by another version whose kind this one does not know must not be
    POSTed and then fail reading the answer (the run would exist, unrecorded)."""
    ledger = Ledger(container)
    firing = new_blob()
    request = dataclasses.replace(build_request(aml_trigger, firing), kind="sagemaker_pipeline")
    claim = ledger.claim(aml_trigger.name, firing, request.to_json())
    assert isinstance(claim, Claim)

    result = submit_claimed(aml_trigger.name, firing, claim, request, ledger=ledger, submitter=submitter,
                            source="replay", retry_later=False)

    assert result.outcome is Outcome.FAILED and result.error is not None and result.error.code == "UnknownKind"
    assert "sagemaker_pipeline" in result.error.message
    assert standin.requests == [] and standin.runs == []


def test_a_firing_already_recorded_failed_is_skipped_as_already_failed_not_as_a_duplicate(
    submitter: Submitter, standin: PipelineStandIn, container: ContainerClient, aml_trigger: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue #18: `duplicate` says a run exists; a blob that never ran must not be logged so."""
    ledger = Ledger(container)
    failed, done = new_blob(), new_blob()
    standin.fail_next(400, message="bad parameter")
    assert fire(aml_trigger, failed, ledger=ledger, submitter=submitter, source="test").outcome is Outcome.FAILED
    assert fire(aml_trigger, done, ledger=ledger, submitter=submitter, source="test").outcome is Outcome.SUBMITTED

    with caplog.at_level(logging.INFO, logger="pipeline_bridge"):
        again = [fire(aml_trigger, blob, ledger=ledger, submitter=submitter, source="test").outcome
                 for blob in (failed, done)]

    assert again == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    skipped = [r.getMessage() for r in caplog.records if "event=skipped" in r.getMessage()]
    reasons = [line.split("reason=")[1].split()[0] for line in skipped]
    assert reasons == ["already_failed", "duplicate"]
