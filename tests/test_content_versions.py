"""Which content version an ETag belongs to: the decision on its own, and its conditional writes against
real Azurite when several hosts decide about one blob at once."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared import content_versions
from shared.clock import iso
from shared.content_versions import (
    HISTORY,
    REFRESH_AFTER,
    Seen,
    _read,
    content_version,
    decide,
    history_blob,
    peek_content_version,
)
from shared.firing import BlobVersion, firing_from_record
from shared.ledger import entry_key
from shared.retention import MIN_RETENTION

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def version(etag: str, md5: str | None = "md5-a", size: int = 10, second: int | None = 0) -> BlobVersion:
    moment = None if second is None else T0 + timedelta(seconds=second)
    return BlobVersion("uploads", "a.csv", etag, size=size, last_modified=moment, content_md5=md5)


def seen(etag: str, belongs_to: str, md5: str | None = "md5-a", size: int = 10, second: int = 0) -> Seen:
    return Seen(etag, belongs_to, md5, size, iso(T0 + timedelta(seconds=second)))


def test_a_new_etag_with_the_bytes_of_the_one_before_it_is_that_version() -> None:
    history = [seen("E1", "E1")]
    assert decide(history, version("E2", second=5)) == ("E1", [*history, seen("E2", "E1", second=5)])


def test_different_bytes_or_size_or_no_md5_make_a_new_version() -> None:
    history = [seen("E1", "E1")]
    assert decide(history, version("E2", md5="md5-b", second=5))[0] == "E2"
    assert decide(history, version("E2", size=11, second=5))[0] == "E2"
    assert decide(history, version("E2", md5=None, second=5))[0] == "E2"
    assert decide([seen("E1", "E1", md5=None)], version("E2", second=5))[0] == "E2"


def test_a_late_etag_is_compared_with_the_one_before_it_in_time_not_the_latest() -> None:
    """A listing that saw E2 (a metadata change of A) resolves after E3 (new bytes B) was decided."""
    history = [seen("E1", "E1"), seen("E3", "E3", md5="md5-b", second=9)]
    assert decide(history, version("E2", second=5))[0] == "E1"


def test_a_known_etag_keeps_its_version_and_learns_a_missing_md5() -> None:
    history = [seen("E1", "E1", md5=None)]
    assert decide(history, version("E1")) == ("E1", [seen("E1", "E1")])
    assert decide([seen("E1", "E1")], version("E1")) == ("E1", None)


def test_an_earlier_etag_decided_after_its_successor_joins_the_successors_version() -> None:
    assert decide([seen("E2", "E2", second=5)], version("E1"))[0] == "E2"
    assert decide([seen("E0", "E0", md5="md5-b"), seen("E2", "E2", second=5)], version("E1", second=2))[0] == "E2"
    assert decide([seen("E3", "E3", md5="md5-b", second=9)], version("E1"))[0] == "E1"


def test_a_recorded_firing_comes_back_with_its_content_version_and_so_its_ledger_key() -> None:
    for blob in (BlobVersion("uploads", "a.csv", "E2", account="acct", content_version="E1"),
                 BlobVersion("uploads", "a.csv", "E1", account="acct", content_version="E1")):
        assert firing_from_record(blob.describe()) == blob
        assert entry_key("t", firing_from_record(blob.describe())) == entry_key("t", blob)


def test_the_history_keeps_the_latest_etags_only() -> None:
    history = [seen(f"E{i}", f"E{i}", md5=f"m{i}", second=i) for i in range(HISTORY)]
    _, changed = decide(history, version("NEW", md5="m-new", second=HISTORY))
    assert changed is not None and len(changed) == HISTORY and changed[0].etag == "E1"


@pytest.fixture
def versions_container(blob_service: BlobServiceClient) -> ContainerClient:
    container = blob_service.get_container_client(f"ledger-{uuid.uuid4().hex[:12]}")
    container.create_container()
    return container


def test_hosts_deciding_about_one_blob_at_once_agree(versions_container: ContainerClient) -> None:
    """Eight threads: half see the upload's ETag, half its metadata change; all land on one version."""
    results: list[str | None] = []
    start = threading.Barrier(8)

    def resolve(etag: str) -> None:
        start.wait()
        results.append(content_version(versions_container, version(etag, second=0 if etag == "E1" else 1))
                       .content_version)

    threads = [threading.Thread(target=resolve, args=("E1" if i % 2 else "E2",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history, _ = _read(history_blob(versions_container, version("E1")))
    assert sorted(s.etag for s in history) == ["E1", "E2"]
    assert len(set(results)) == 1 and results[0] in ("E1", "E2")


def test_a_history_names_its_blob_and_one_in_the_first_form_is_still_read(versions_container: ContainerClient) -> None:
    client = history_blob(versions_container, version("E1"))
    client.upload_blob(json.dumps([dataclasses.asdict(seen("E1", "E1"))]))  # the first form: a bare list

    assert content_version(versions_container, version("E2", second=5)).content_version == "E1"

    stored = json.loads(client.download_blob().readall())
    assert stored == {"subject": "blob:uploads/a.csv",
                      "seen": [dataclasses.asdict(seen("E1", "E1")), dataclasses.asdict(seen("E2", "E1", second=5))]}


def test_peeking_decides_as_a_firing_would_and_writes_nothing(versions_container: ContainerClient) -> None:
    assert peek_content_version(versions_container, version("E1")).content_version == "E1"
    assert list(versions_container.list_blobs()) == []
    content_version(versions_container, version("E1"))
    written = history_blob(versions_container, version("E1")).get_blob_properties().etag

    assert peek_content_version(versions_container, version("E2", second=5)).content_version == "E1"  # not seen yet
    assert peek_content_version(versions_container, version("E3", md5="md5-b", second=9)).content_version == "E3"
    assert history_blob(versions_container, version("E1")).get_blob_properties().etag == written


def test_a_firing_rewrites_an_old_history_it_relies_on_and_leaves_a_young_one_alone(
    versions_container: ContainerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewrite makes a prune's conditional delete of the version it read fail; a young history is too young
    for any prune, and most firings rely on one, so it costs no write."""
    client = history_blob(versions_container, version("E1"))
    content_version(versions_container, version("E1"))
    written = client.get_blob_properties().etag

    assert content_version(versions_container, version("E1")).content_version == "E1"
    assert client.get_blob_properties().etag == written

    monkeypatch.setattr(content_versions, "utc_now", lambda: datetime.now(UTC) + REFRESH_AFTER + timedelta(hours=1))
    assert content_version(versions_container, version("E1")).content_version == "E1"
    rewritten = client.get_blob_properties().etag
    assert rewritten != written
    assert _read(client)[0] == [seen("E1", "E1")]


def test_a_history_deleted_between_its_read_and_its_rewrite_is_decided_afresh(
    versions_container: ContainerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prune deleted it after this firing read it: the firing starts a new history (its version then is its
    own ETag: the entries the old history stood for were pruned with it)."""
    content_version(versions_container, version("E1"))
    content_version(versions_container, version("E2", second=5))  # a metadata change of E1's bytes
    monkeypatch.setattr(content_versions, "utc_now", lambda: datetime.now(UTC) + REFRESH_AFTER + timedelta(hours=1))
    client = history_blob(versions_container, version("E2"))
    real_write = content_versions._write

    def pruned_first(*args: Any) -> None:
        if client.exists():
            client.delete_blob()  # the prune's delete lands between this firing's read and its rewrite
        real_write(*args)

    monkeypatch.setattr(content_versions, "_write", pruned_first)
    assert content_version(versions_container, version("E2", second=5)).content_version == "E2"
    assert _read(client)[0] == [seen("E2", "E2", second=5)]


def test_a_history_young_enough_to_skip_its_rewrite_is_too_young_for_any_prune() -> None:
    """A firing reads its history, then claims within its lease: that must be over before a prune that could
    delete the history (one older than its --older-than, at least `MIN_RETENTION`) starts."""
    assert REFRESH_AFTER + timedelta(hours=12) <= MIN_RETENTION
