"""Real parts for every test: Azurite, a managed-identity endpoint and a pipeline stand-in, started
once per session on free loopback ports; each test gets its own ledger container and settings."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient
from hypothesis import settings as hypothesis_settings

from tests.support.azurite import SECOND_ACCOUNT, SECOND_CONNECTION, Azurite
from tests.support.host import FunctionApp, load_function
from tests.support.identity import IdentityEndpoint
from tests.support.ports import refused_port
from tests.support.standin import PipelineStandIn

# CI explores the same examples every run (a failure found once is reproducible); developers explore anew.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

BRIDGE_SETTINGS = (
    "PIPELINE_TRIGGERS", "PIPELINE_TRIGGERS_FILE", "AZURE_CLIENT_ID", "MSI_ENDPOINT", "MSI_SECRET",
    "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_SERVER_THUMBPRINT",
)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = Azurite().start()
    yield server
    server.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port where nothing listens, for tests of an unreachable service."""
    with refused_port() as port:
        yield port


@pytest.fixture(scope="session")
def identity() -> Iterator[IdentityEndpoint]:
    endpoint = IdentityEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def standin(identity: IdentityEndpoint) -> Iterator[PipelineStandIn]:
    service = PipelineStandIn(identity).start()
    yield service
    service.stop()


@pytest.fixture
def bridge_env(monkeypatch: pytest.MonkeyPatch, azurite: Azurite, identity: IdentityEndpoint,
               standin: PipelineStandIn) -> dict[str, str]:
    """App settings as the Functions host would provide them, pointing at the local services."""
    for name in BRIDGE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    settings = {
        "AzureWebJobsStorage": azurite.connection_string,
        "PIPELINE_LEDGER_CONTAINER": f"ledger-{uuid.uuid4().hex[:12]}",
        "PIPELINE_RETRY_BASE_SECONDS": "0.01",
        "PIPELINE_RETRY_MAX_SECONDS": "0.05",
        "PIPELINE_READ_TIMEOUT_SECONDS": "5",
        **identity.environment(),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    standin.reset()
    identity.failures_to_inject.clear()
    return settings


@pytest.fixture
def blob_service(azurite: Azurite) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(azurite.connection_string)


@pytest.fixture
def container(blob_service: BlobServiceClient) -> ContainerClient:
    client = blob_service.get_container_client(f"uploads-{uuid.uuid4().hex[:10]}")
    client.create_container()
    return client


@pytest.fixture
def set_triggers(monkeypatch: pytest.MonkeyPatch, bridge_env: dict[str, str]) -> Callable[[list[Any]], None]:
    def apply(triggers: list[Any]) -> None:
        monkeypatch.setenv("PIPELINE_TRIGGERS", json.dumps(triggers))

    return apply


@pytest.fixture(scope="module")
def blob_function() -> FunctionApp:
    """The blob_trigger function, loaded as the host loads it."""
    return load_function("blob_trigger")


@pytest.fixture
def twin(azurite: Azurite, container: ContainerClient, monkeypatch: pytest.MonkeyPatch,
         bridge_env: dict[str, str]) -> ContainerClient:
    """A container of the same name in the second account, reached through the connection `SECOND_STORAGE`."""
    monkeypatch.setenv(SECOND_CONNECTION, azurite.connection_string_for(SECOND_ACCOUNT))
    client = BlobServiceClient.from_connection_string(azurite.connection_string_for(SECOND_ACCOUNT))
    twin = client.get_container_client(container.container_name)
    twin.create_container()
    return twin
