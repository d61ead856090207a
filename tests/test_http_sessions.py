"""The sessions the storage clients and the submitter share: a connection kept for every thread, and the
environment's proxy, netrc and CA bundle settings applied as requests itself would apply them."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared import http_sessions
from shared.http_sessions import POOL_SIZE, pooled_session
from shared.storage import blob_service
from tests.support.http_server import LoopbackServer, Reply, Request

THREADS = 20  # more than requests' default pool of 10, as many as a sweep's threads and then some


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No proxy, netrc or CA bundle settings, and a home without a netrc file."""
    for name in [name for name in os.environ if name.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    for name in ("NETRC", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def slow_server() -> Iterator[LoopbackServer]:
    """Answers only once `THREADS` requests have arrived, so every thread's request is open at once (however
    the threads are scheduled), and each burst needs `THREADS` connections."""
    server = LoopbackServer()
    all_arrived = threading.Barrier(THREADS)

    def answer(_: Request) -> Reply:
        all_arrived.wait(60)
        return Reply(200, {"ok": True})

    server.route("GET", r"/slow", answer)
    yield server.start()
    server.stop()


def test_every_thread_of_a_burst_keeps_its_connection(slow_server: LoopbackServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A pool smaller than the threads sharing it discards a connection on most returns under a burst ("Connection
    pool is full"), and the next burst opens them again."""
    session = pooled_session(max_retries=0)
    barrier = threading.Barrier(THREADS)

    def get(_: int) -> int:
        barrier.wait(60)
        return session.get(f"{slow_server.base_url}/slow", timeout=60).status_code

    def burst() -> list[logging.LogRecord]:
        caplog.clear()
        with ThreadPoolExecutor(THREADS) as pool:
            assert list(pool.map(get, range(THREADS))) == [200] * THREADS
        return caplog.records

    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        first, again = burst(), burst()

    assert not [record for record in first if "Connection pool is full" in record.getMessage()]
    assert not [record for record in again if "Starting new HTTP connection" in record.getMessage()]
    assert THREADS < POOL_SIZE


def test_an_environment_without_proxies_or_netrc_is_not_read_per_request(bare_environment: pytest.MonkeyPatch) -> None:
    assert pooled_session(max_retries=0).trust_env is False


@pytest.mark.parametrize("name", ["HTTPS_PROXY", "http_proxy", "ALL_PROXY", "NO_PROXY", "NETRC"])
def test_a_proxy_or_netrc_setting_is_read_as_requests_reads_it(bare_environment: pytest.MonkeyPatch,
                                                               name: str) -> None:
    bare_environment.setenv(name, "http://127.0.0.1:9")
    session = pooled_session(max_retries=0)
    assert session.trust_env is True
    if name.lower() in ("https_proxy", "all_proxy"):
        settings = session.merge_environment_settings("https://example.invalid/x", {}, None, None, None)
        assert settings["proxies"]["https" if name == "HTTPS_PROXY" else "all"] == "http://127.0.0.1:9"


def test_a_netrc_file_is_read_as_requests_reads_it(bare_environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".netrc").write_text("machine example.invalid login a password b\n")
    assert pooled_session(max_retries=0).trust_env is True


def test_outside_linux_the_environment_is_read_per_request(bare_environment: pytest.MonkeyPatch) -> None:
    bare_environment.setattr(http_sessions.sys, "platform", "win32")
    assert pooled_session(max_retries=0).trust_env is True


def test_a_ca_bundle_setting_is_verified_against_by_both_sessions(bare_environment: pytest.MonkeyPatch,
                                                                   bridge_env: dict[str, str]) -> None:
    """azure-core passes its own `verify` with every request, so the storage client carries the bundle too."""
    bare_environment.setenv("CURL_CA_BUNDLE", "/etc/curl-bundle.pem")
    assert pooled_session(max_retries=0).verify == "/etc/curl-bundle.pem"
    bare_environment.setenv("REQUESTS_CA_BUNDLE", "/etc/requests-bundle.pem")
    # A client of its own, built now: the settings' fingerprint names the client (3 retries, as by default).
    bare_environment.setenv("PIPELINE_STORAGE_RETRY_TOTAL", f"3.{uuid.uuid4().int % 10**9}")
    transport = blob_service("AzureWebJobsStorage")._pipeline._transport  # type: ignore[attr-defined]
    assert transport.connection_config.verify == "/etc/requests-bundle.pem"
    assert transport.session.verify == "/etc/requests-bundle.pem" and transport.session.trust_env is False
