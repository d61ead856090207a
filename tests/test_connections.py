"""The watched account reached through every `connection` form the Functions convention allows:
a connection string, `UseDevelopmentStorage=true`, and identity-based `<NAME>__blobServiceUri` with the
managed identity (Azurite in OAuth mode over https, tokens from the local identity endpoint)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from shared.runtime import current_runtime
from shared.storage import StorageSettingError, blob_service
from shared.sweep import sweep_trigger
from tests.support.azurite import Azurite
from tests.support.identity import IdentityEndpoint
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]


@pytest.fixture(scope="module")
def oauth_azurite() -> Iterator[Azurite]:
    server = Azurite(oauth=True).start()
    yield server
    server.stop()


def sweep_twice_around_an_upload(client: BlobServiceClient, container: str) -> None:
    client.get_container_client(container).create_container()
    runtime = current_runtime()
    sweep_trigger(runtime.config.trigger("remote"), runtime, runtime.state, force=True)
    client.get_blob_client(container, "fresh.csv").upload_blob(b"1,2\n")
    runtime = current_runtime()
    sweep_trigger(runtime.config.trigger("remote"), runtime, runtime.state, force=True)


def test_identity_based_connection_uses_the_managed_identity_over_https(
    oauth_azurite: Azurite, set_triggers: Setter, standin: PipelineStandIn, identity: IdentityEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(oauth_azurite.cert_file))
    monkeypatch.setenv("WATCHED__blobServiceUri", oauth_azurite.blob_endpoint)
    monkeypatch.setenv("WATCHED__credential", "managedidentity")
    set_triggers([watch_trigger("remote", "lake", standin.published_pipeline_url(), connection="WATCHED")])
    uploader = BlobServiceClient.from_connection_string(oauth_azurite.connection_string,
                                                        connection_verify=str(oauth_azurite.cert_file))
    asked_before = len(identity.requests)

    sweep_twice_around_an_upload(uploader, "lake")

    assert [r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs] == ["fresh.csv"]
    assert any(r["resource"] == "https://storage.azure.com" for r in identity.requests[asked_before:])


def test_plain_connection_string_in_a_named_setting(
    azurite: Azurite, set_triggers: Setter, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHED", azurite.connection_string)
    set_triggers([watch_trigger("remote", "other-account", standin.published_pipeline_url(), connection="WATCHED")])
    sweep_twice_around_an_upload(BlobServiceClient.from_connection_string(azurite.connection_string),
                                 "other-account")
    assert len(standin.runs) == 1


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_use_development_storage_reaches_azurite_on_its_default_port(
    set_triggers: Setter, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not port_is_free(10000):
        pytest.skip("port 10000 is taken: UseDevelopmentStorage=true needs Azurite's default blob port")
    server = Azurite()
    server.blob_port = 10000
    server.start()
    try:
        monkeypatch.setenv("DEVSTORE", "UseDevelopmentStorage=true")
        set_triggers([watch_trigger("remote", "devstore", standin.published_pipeline_url(), connection="DEVSTORE")])
        sweep_twice_around_an_upload(BlobServiceClient.from_connection_string(server.connection_string), "devstore")
        assert len(standin.runs) == 1
    finally:
        server.stop()


def test_missing_connection_names_the_settings(bridge_env: dict[str, str]) -> None:
    with pytest.raises(StorageSettingError) as raised:
        blob_service("NOWHERE")
    message = str(raised.value)
    assert "NOWHERE__blobServiceUri" in message and "NOWHERE__accountName" in message


def test_plain_http_service_uri_is_refused(monkeypatch: pytest.MonkeyPatch, bridge_env: dict[str, str]) -> None:
    monkeypatch.setenv("REMOTE__blobServiceUri", "http://example.blob.core.windows.net")
    with pytest.raises(StorageSettingError, match="https"):
        blob_service("REMOTE")


def test_account_name_setting_builds_the_public_endpoint(
    monkeypatch: pytest.MonkeyPatch, bridge_env: dict[str, str]
) -> None:
    monkeypatch.setenv("ACCT__accountName", "stdata")
    assert blob_service("ACCT").url.startswith("https://stdata.blob.core.windows.net")
