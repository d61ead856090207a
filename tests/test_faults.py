"""Faults outside the bridge: the ledger's storage account down or answering 503, the identity endpoint
down or failing, a pipeline response cut off after the run was accepted. Real Azurite (behind a loopback
fault proxy where it must misbehave), real azure-identity, the pipeline stand-in.

The rule in every case: fail loudly (raise, so Event Grid or the timer tries again) and never submit
without a claim; when the service may have started a run, record it for an operator, never re-POST.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.storage.blob import BlobClient, ContainerClient

from shared import submitter as submitter_module
from shared.event_path import RetryLaterError
from shared.ledger import RELEASED, SUBMITTED, UNCERTAIN, Ledger, LedgerEntry
from tests.support.azurite import ACCOUNT, Azurite
from tests.support.fault_proxy import FaultProxy
from tests.support.host import FunctionApp, blob_created_event, load_function, timer_payload
from tests.support.identity import IdentityEndpoint
from tests.support.leaks import all_logs, leaked_secrets, rendered
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
STORAGE_RETRIES = 2  # PIPELINE_STORAGE_RETRY_TOTAL below: each storage call is tried 1 + 2 times


@pytest.fixture(scope="module")
def blob_function() -> FunctionApp:
    return load_function("blob_trigger")


@pytest.fixture
def landing(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn,
            monkeypatch: pytest.MonkeyPatch) -> ContainerClient:
    """One watch trigger on `container`, with storage retries short enough for a test (a proposed setting)."""
    monkeypatch.setenv("PIPELINE_STORAGE_RETRY_TOTAL", str(STORAGE_RETRIES))
    monkeypatch.setenv("PIPELINE_STORAGE_RETRY_BACKOFF_SECONDS", "0.05")
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    return container


@pytest.fixture
def ledger_proxy(azurite: Azurite, landing: ContainerClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The ledger's account (`AzureWebJobsStorage`) reached through a proxy that can answer 503."""
    proxy = FaultProxy(azurite.blob_endpoint).start()
    monkeypatch.setenv("AzureWebJobsStorage", ledger_connection(azurite, proxy.url(azurite.blob_endpoint)))
    yield proxy
    proxy.stop()


@pytest.fixture
def fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process-wide submitter, so no token cached by an earlier test hides the identity endpoint."""
    monkeypatch.setattr(submitter_module, "_shared", None)


def ledger_connection(azurite: Azurite, blob_endpoint: str) -> str:
    return azurite.connection_string.replace(f"BlobEndpoint={azurite.blob_endpoint};", f"BlobEndpoint={blob_endpoint};")


def new_blob(container: ContainerClient, name: str = "x.csv") -> BlobClient:
    blob = container.get_blob_client(name)
    blob.upload_blob(b"a,b\n1,2\n", overwrite=True)
    return blob


def only_entry() -> LedgerEntry:
    [entry] = list(Ledger.from_settings().entries())
    return entry


# -- the ledger's storage account ----------------------------------------------------------------
def test_unreachable_ledger_account_fails_loudly_and_submits_nothing(
    blob_function: FunctionApp, landing: ContainerClient, standin: PipelineStandIn, azurite: Azurite,
    monkeypatch: pytest.MonkeyPatch, closed_port: int,
) -> None:
    event = blob_created_event(new_blob(landing))
    # The same account (events name it), at an address where nothing listens.
    monkeypatch.setenv("AzureWebJobsStorage", ledger_connection(azurite, f"http://127.0.0.1:{closed_port}/{ACCOUNT}"))

    with pytest.raises(ServiceRequestError, match="Connection refused"):
        blob_function.invoke(event)
    with pytest.raises(ServiceRequestError):
        load_function("timer_trigger").invoke(timer_payload())
    assert standin.requests == []

    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)  # the account is back: Event Grid retries
    blob_function.invoke(event)
    assert len(standin.runs) == 1
    assert only_entry().state == SUBMITTED


@pytest.fixture
def silent_storage() -> Iterator[str]:
    """A storage endpoint that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/devstoreaccount1"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.mark.timeout(60)  # the SDK's own wait (60 s per try, 4 tries) would overrun this: the settings must apply
def test_storage_that_never_answers_fails_within_the_configured_timeouts(
    blob_function: FunctionApp, landing: ContainerClient, standin: PipelineStandIn, azurite: Azurite,
    silent_storage: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = blob_created_event(new_blob(landing))
    monkeypatch.setenv("AzureWebJobsStorage", ledger_connection(azurite, silent_storage))
    monkeypatch.setenv("PIPELINE_STORAGE_READ_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("PIPELINE_STORAGE_RETRY_TOTAL", "1")
    monkeypatch.setenv("PIPELINE_STORAGE_RETRY_BACKOFF_SECONDS", "0.1")

    with pytest.raises(ServiceResponseError):
        blob_function.invoke(event)
    assert standin.requests == []


def test_short_503_spell_is_ridden_out_by_the_storage_retries(
    blob_function: FunctionApp, landing: ContainerClient, ledger_proxy: FaultProxy, standin: PipelineStandIn
) -> None:
    ledger_proxy.fail_next(503, times=STORAGE_RETRIES)
    blob_function.invoke(blob_created_event(new_blob(landing)))
    assert ledger_proxy.answered == [503] * STORAGE_RETRIES
    assert len(standin.runs) == 1
    assert only_entry().state == SUBMITTED


def test_long_503_spell_raises_after_bounded_retries_without_submitting(
    blob_function: FunctionApp, landing: ContainerClient, ledger_proxy: FaultProxy, standin: PipelineStandIn
) -> None:
    event = blob_created_event(new_blob(landing))
    ledger_proxy.fail_next(503, times=50)
    with pytest.raises(HttpResponseError) as raised:
        blob_function.invoke(event)
    assert raised.value.status_code == 503
    assert ledger_proxy.answered == [503] * (1 + STORAGE_RETRIES)  # the SDK's retries are bounded by the setting
    with pytest.raises(HttpResponseError):
        load_function("timer_trigger").invoke(timer_payload())
    assert standin.requests == []

    ledger_proxy.clear()
    blob_function.invoke(event)
    assert len(standin.runs) == 1


def test_ledger_lost_right_after_the_post_is_resolved_by_the_run_key_lookup(
    blob_function: FunctionApp, landing: ContainerClient, ledger_proxy: FaultProxy, standin: PipelineStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run accepted but not recorded: once the claim's lease runs out, the next delivery takes the entry
    over, finds the run by its run key and records it; nothing is POSTed again. The `unrecorded` error line
    names the run meanwhile."""
    # The POST and the lookup must be answered within the read timeout on a loaded machine; the lease only
    # has to outlast the longest submission (0.3 + 0.5 + 3 s), the next delivery waits it out.
    for name, value in {"PIPELINE_CLAIM_LEASE_SECONDS": "4", "PIPELINE_RETRY_BUDGET_SECONDS": "0.3",
                        "PIPELINE_CONNECT_TIMEOUT_SECONDS": "0.5", "PIPELINE_READ_TIMEOUT_SECONDS": "3",
                        "PIPELINE_LOOKUP_DELAY_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    event = blob_created_event(new_blob(landing))
    standin.fault_hook = lambda request: ledger_proxy.fail_next(503, times=50)  # storage fails as the run starts

    with all_logs() as records, pytest.raises(HttpResponseError):
        blob_function.invoke(event)
    [first] = standin.runs
    assert any(r.levelname == "ERROR" and "event=unrecorded" in r.getMessage() and first.run_id in r.getMessage()
               for r in records)

    standin.fault_hook = None
    ledger_proxy.clear()
    with all_logs() as records:
        blob_function.invoke(event)  # waits for the dead claim's lease, takes over, looks the run up
    assert len(standin.runs) == 1 and len(standin.lookups()) == 1
    entry = only_entry()
    assert (entry.state, entry.run_id, entry.resolved_by, entry.attempts) == (SUBMITTED, first.run_id, "lookup", 2)
    assert any("event=resolved" in r.getMessage() and first.run_id in r.getMessage() for r in records)


# -- the pipeline service's response -------------------------------------------------------------
def test_response_cut_off_after_the_run_was_accepted_is_uncertain_then_found_by_its_run_key(
    blob_function: FunctionApp, set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_LOOKUP_DELAY_SECONDS", "0")
    proxy = FaultProxy(standin.base_url).start()
    try:
        set_triggers([watch_trigger("landing", container.container_name,
                                    proxy.url(standin.published_pipeline_url()))])
        proxy.truncate_next()
        event = blob_created_event(new_blob(container))
        with pytest.raises(RetryLaterError, match="retry"):  # uncertain: Event Grid delivers it again
            blob_function.invoke(event)
        assert only_entry().state == UNCERTAIN
        assert only_entry().error["ambiguous"] is True and "may have started the run" in only_entry().error["message"]
        blob_function.invoke(event)
    finally:
        proxy.stop()
    assert len(standin.runs) == 1 and len(standin.requests) == 2  # the POST, then one lookup
    entry = only_entry()
    assert (entry.state, entry.run_id, entry.resolved_by) == (SUBMITTED, standin.runs[0].run_id, "lookup")


# -- the identity endpoint -----------------------------------------------------------------------
def test_identity_endpoint_errors_are_retried_with_a_clear_error_and_no_token_in_logs(
    blob_function: FunctionApp, landing: ContainerClient, standin: PipelineStandIn, identity: IdentityEndpoint,
    fresh_tokens: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "2")
    event = blob_created_event(new_blob(landing))
    identity.fail_next(500, times=8)  # azure-identity asks 4 times per token before giving up; 2 attempts
    with all_logs() as records:
        with pytest.raises(RetryLaterError) as raised:
            blob_function.invoke(event)
        identity.failures_to_inject.clear()  # the outage ends
        failed = only_entry()
        blob_function.invoke(event)  # Event Grid's redelivery: a fresh credential, not MSAL's throttle cache

    assert failed.state == RELEASED and failed.error["code"] == "TokenUnavailable"
    assert failed.error["message"].startswith("could not get a token for https://management.azure.com/.default")
    assert any("event=failed" in r.getMessage() and "code=TokenUnavailable" in r.getMessage() for r in records)
    assert len(standin.requests) == 1 and len(standin.runs) == 1
    assert only_entry().state == SUBMITTED
    stored = json.dumps([vars(e) for e in Ledger.from_settings().entries()])
    assert leaked_secrets("\n".join([rendered(records), str(raised.value), stored]), identity) == []


def test_unreachable_identity_endpoint_releases_the_blob_with_a_clear_error(
    blob_function: FunctionApp, landing: ContainerClient, standin: PipelineStandIn, identity: IdentityEndpoint,
    fresh_tokens: None, monkeypatch: pytest.MonkeyPatch, closed_port: int,
) -> None:
    monkeypatch.setenv("PIPELINE_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{closed_port}/msi/token")
    with all_logs() as records, pytest.raises(RetryLaterError):
        blob_function.invoke(blob_created_event(new_blob(landing)))
    entry = only_entry()
    assert entry.state == RELEASED and entry.error["code"] == "TokenUnavailable"
    assert entry.error["message"].startswith("could not get a token for https://management.azure.com/.default")
    assert "Connection refused" in entry.error["message"]
    assert standin.requests == []
    assert leaked_secrets(rendered(records) + json.dumps(vars(entry)), identity) == []


@pytest.mark.timeout(60)  # azure-identity's own wait (300 s per try, several tries) would overrun this
def test_identity_endpoint_that_never_answers_fails_the_token_fetch_within_the_retry_budget(
    blob_function: FunctionApp, landing: ContainerClient, standin: PipelineStandIn, silent_storage: str,
    fresh_tokens: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An identity endpoint that accepts connections and never answers (#12.4): each token fetch ends with the
    retry budget, the blob is released for the next delivery, nothing is sent."""
    monkeypatch.setenv("IDENTITY_ENDPOINT", silent_storage)
    monkeypatch.setenv("PIPELINE_RETRY_BUDGET_SECONDS", "1")
    monkeypatch.setenv("PIPELINE_IDENTITY_CONNECT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("PIPELINE_IDENTITY_READ_TIMEOUT_SECONDS", "0.5")

    with pytest.raises(RetryLaterError):
        blob_function.invoke(blob_created_event(new_blob(landing)))

    entry = only_entry()
    assert entry.state == RELEASED and entry.error["code"] == "TokenUnavailable"
    assert "no token within" in entry.error["message"]
    assert standin.requests == []


def test_identity_recovering_within_one_invocation_is_used_at_once(
    blob_function: FunctionApp, landing: ContainerClient, standin: PipelineStandIn, identity: IdentityEndpoint,
    fresh_tokens: None,
) -> None:
    """After an identity 5xx, the next attempt asks the endpoint again instead of MSAL's throttle cache."""
    identity.fail_next(500, times=4)  # one token attempt's worth: azure-identity asks 4 times
    blob_function.invoke(blob_created_event(new_blob(landing)))
    assert len(standin.runs) == 1
    assert only_entry().state == SUBMITTED
