"""Free loopback ports and waiting for a server to listen."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def refused_port() -> Iterator[int]:
    """A port where a connection is refused for as long as the block runs.

    The port is held bound and not listening: a port merely looked up as free could be taken by another
    process, or become the source port of our own connect (a TCP self-connect), and then a connect succeeds.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.getsockname() != sock.getpeername():  # not a TCP self-connect to a port nobody holds
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:g}s")
