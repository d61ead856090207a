"""The test bed itself: Azurite starts reliably on ports that are only free when looked at."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from azure.storage.blob import BlobServiceClient

from bench.seeding import DATABASE_FILE
from tests.support.azurite import Azurite, AzuriteExited


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process took after it was looked up as free: something listens there, not Azurite."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("which", ["blob_port", "queue_port", "table_port"])
def test_a_port_taken_before_azurite_binds_it_means_new_ports(taken_port: int, which: str) -> None:
    azurite = Azurite(startup_seconds=20)
    setattr(azurite, which, taken_port)
    azurite.start()
    try:
        assert taken_port not in (azurite.blob_port, azurite.queue_port, azurite.table_port)
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        service.create_container("after-a-taken-port")
        assert [c.name for c in service.list_containers()] == ["after-a-taken-port"]
    finally:
        azurite.stop()


def test_azurite_failing_for_another_reason_is_reported_with_its_own_words() -> None:
    """A corrupt database is not a taken port: no relaunch, and the error carries what Azurite said."""
    azurite = Azurite(startup_seconds=20)
    (azurite.location / DATABASE_FILE).write_text("{ not json")
    with pytest.raises(AzuriteExited) as failed:
        azurite.start()
    assert not failed.value.port_taken
    assert "Azurite exited with code" in str(failed.value) and "JSON" in str(failed.value)
    assert not azurite.location.exists()


def test_a_closed_port_refuses_connections_while_it_is_held(closed_port: int) -> None:
    for _ in range(50):  # each connect has a new source port: none may reach a listener or itself
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", closed_port), timeout=1).close()
