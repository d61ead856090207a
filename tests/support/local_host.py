"""Plays the Functions host's part on a developer machine: Event Grid events for new blobs, and the timer.

Event Grid does not exist locally, so new blob versions are found by listing the watched containers
about once a second, and each is delivered as the `BlobCreated` event Event Grid would send (built from
the blob's real properties by `blob_created_event`). A delivery that raises is delivered again later,
with a growing delay, as Event Grid redelivers. The timer function is invoked at every whole minute,
like its `0 * * * * *` schedule, when no real host runs it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, ContainerClient

from .host import blob_created_event, load_function, timer_payload

LOGGER = logging.getLogger("local_host")
Deliver = Callable[[dict[str, Any]], None]
MAX_RETRY_DELAY = 60.0


@dataclass(frozen=True)
class Delivery:
    container: str
    name: str
    etag: str
    error: str | None = None


def in_process_delivery() -> Deliver:
    """Call `blob_trigger` the way the host does (its converter, then `main`)."""
    function = load_function("blob_trigger")
    return function.invoke


def in_process_tick() -> Callable[[], None]:
    function = load_function("timer_trigger")
    return lambda: function.invoke(timer_payload())


def webhook_delivery(port: int) -> Deliver:
    """POST to a running `func start` host's Event Grid webhook, as Event Grid does."""
    url = f"http://127.0.0.1:{port}/runtime/webhooks/eventgrid?functionName=blob_trigger"

    def deliver(event: dict[str, Any]) -> None:
        response = requests.post(url, json=[event], headers={"aeg-event-type": "Notification"}, timeout=300)
        if response.status_code >= 300:
            raise RuntimeError(f"the host answered HTTP {response.status_code}: {response.text[:200]}")

    return deliver


class LocalHost:
    def __init__(self, containers: Sequence[ContainerClient], deliver: Deliver,
                 tick: Callable[[], None] | None = None, poll_seconds: float = 1.0) -> None:
        self.containers = containers
        self.deliver = deliver
        self.tick = tick
        self.poll_seconds = poll_seconds
        self.deliveries: list[Delivery] = []
        self.seen: set[tuple[str, str, str]] = set()
        self.retry_at: dict[tuple[str, str, str], tuple[float, int]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="local-host", daemon=True)

    def start(self) -> LocalHost:
        """Blobs already there are history (Event Grid only reports what happens after subscribing)."""
        for blob in self._listed():
            self.seen.add(blob)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)

    def delivered(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def _listed(self) -> list[tuple[str, str, str]]:
        found = []
        for container in self.containers:
            try:
                found.extend((container.container_name, b.name, str(b.etag)) for b in container.list_blobs())
            except ResourceNotFoundError:  # not created yet
                continue
        return found

    def _run(self) -> None:
        next_tick = (time.time() // 60 + 1) * 60
        while not self.stopping.wait(self.poll_seconds):
            try:
                self._deliver_new()
            except Exception as error:  # keep polling: storage may come back
                LOGGER.warning("listing failed: %s: %s", type(error).__name__, error)
            if self.tick is not None and time.time() >= next_tick:
                next_tick += 60
                try:
                    self.tick()
                except Exception as error:  # the host logs a failed timer invocation and ticks again
                    LOGGER.warning("timer_trigger failed: %s: %s", type(error).__name__, error)

    def _deliver_new(self) -> None:
        now = time.monotonic()
        by_container = {c.container_name: c for c in self.containers}
        for blob in self._listed():
            retry = self.retry_at.get(blob)
            if blob in self.seen or (retry and retry[0] > now):
                continue
            container_name, name, etag = blob
            client: BlobClient = by_container[container_name].get_blob_client(name)
            try:
                self.deliver(blob_created_event(client))
            except Exception as error:
                attempts = retry[1] + 1 if retry else 1
                self.retry_at[blob] = (now + min(MAX_RETRY_DELAY, 2.0 ** attempts), attempts)
                outcome = Delivery(container_name, name, etag, f"{type(error).__name__}: {error}")
                LOGGER.warning("delivery of %s/%s failed (attempt %d; Event Grid would retry): %s",
                               container_name, name, attempts, outcome.error)
            else:
                self.seen.add(blob)
                self.retry_at.pop(blob, None)
                outcome = Delivery(container_name, name, etag)
            with self.lock:
                self.deliveries.append(outcome)
