"""Listing the watched folder: the top-level blobs only, page by page, and the storage service's clock.

A `/` delimiter keeps blobs in subfolders out of the listing (they cost nothing and never trigger); pages
are streamed, so memory stays flat however large the folder is. The service's `Date` header, not our
clock, is what `Last-Modified` is stamped by, so the sweep's watermark comes from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobPrefix, BlobProperties, ContainerClient

from .config import Trigger, WatchSpec
from .firing import BlobVersion, md5_text, normalise_etag
from .settings import float_setting
from .storage import blob_service


def folder_prefix(watch: WatchSpec) -> str:
    return f"{watch.folder}/" if watch.folder else ""


def watched_container(watch: WatchSpec) -> ContainerClient:
    return blob_service(watch.connection).get_container_client(watch.container)


def server_time(container: ContainerClient) -> datetime:
    """The storage service's clock (its `Date` header): `Last-Modified` is stamped by that clock, not ours."""
    dates: list[str] = []
    container.get_container_properties(raw_response_hook=lambda r: dates.append(r.http_response.headers["Date"]))
    return parsedate_to_datetime(dates[0])


@dataclass(frozen=True)
class Position:
    """Where a listing got to: the marker of the page it was reading, and the last name it handed out there.

    Listing order is by name, so a listing resumed here re-reads that page and skips up to `after`.
    """

    marker: str | None
    after: str | None


class Listing:
    """The top-level blobs of the watched folder, page by page, remembering when the listing started and
    (`position`) how far it got, so a sweep stopped at a tick's deadline continues from there."""

    def __init__(self, container: ContainerClient, watch: WatchSpec, resume: Position | None = None) -> None:
        self.container = container
        self.watch = watch
        self.started_at: datetime | None = None
        self.position = resume or Position(None, None)

    def _hook(self, response: Any) -> None:
        if self.started_at is None and "Date" in response.http_response.headers:
            self.started_at = parsedate_to_datetime(response.http_response.headers["Date"])

    def __iter__(self) -> Iterator[BlobProperties]:
        # `copy`: a blob whose copy is still pending, failed or was aborted is not content to run on.
        items = self.container.walk_blobs(name_starts_with=folder_prefix(self.watch), delimiter="/", include=["copy"],
                                          results_per_page=int(float_setting("PIPELINE_SWEEP_PAGE_SIZE", 5000)),
                                          raw_response_hook=self._hook)
        pages = items.by_page(continuation_token=self.position.marker)
        for page in pages:
            after = self.position.after
            for item in page:
                if isinstance(item, BlobPrefix) or (after is not None and item.name <= after):
                    continue
                self.position = Position(self.position.marker, item.name)
                yield item
            self.position = Position(pages.continuation_token, None)  # type: ignore[attr-defined]


def blob_version(container: ContainerClient, item: BlobProperties, account: str | None) -> BlobVersion:
    """`account` is the trigger's connection's (`connection_account`), as the event path names it."""
    return BlobVersion(
        container=container.container_name,
        name=item.name,
        etag=normalise_etag(str(item.etag)),
        size=item.size,
        url=container.get_blob_client(item.name).url,
        last_modified=item.last_modified,
        account=account,
        copy_status=item.copy.status if item.copy else None,
        content_md5=md5_text(item.content_settings.content_md5),
    )


class WatchedContainerMissingError(LookupError):
    """The watched container does not exist: a configuration or deployment mistake, named plainly."""


@contextmanager
def naming_a_missing_container(trigger: Trigger) -> Iterator[None]:
    watch = trigger.watch
    assert watch is not None
    try:
        yield
    except ResourceNotFoundError as error:
        if error.error_code != "ContainerNotFound":
            raise
        raise WatchedContainerMissingError(
            f"trigger {trigger.name!r}: watched container {watch.container!r} does not exist in the account of "
            f"connection {watch.connection!r}") from None
