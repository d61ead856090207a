"""The polling sweep against real Azurite: finds what events missed, never subfolders, never twice."""

from __future__ import annotations

import contextlib
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.blob import BlobBlock, BlobClient, ContainerClient, ContentSettings

from shared.backfill import backfill, count_backfill
from shared.clock import parse_iso, utc_now
from shared.event_path import RetryLaterError
from shared.ledger import FAILED, SUBMITTED, Ledger
from shared.listing import Listing, WatchedContainerMissingError
from shared.runtime import current_runtime
from shared.sweep import sweep_trigger
from shared.sweep_report import SweepReport
from shared.timer_path import TickFailedError
from tests.support.host import blob_created_event, load_function
from tests.support.http_server import Request
from tests.support.standin import Fault, PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]


def run_sweep(name: str = "landing", **kwargs: Any) -> SweepReport:
    runtime = current_runtime()
    return sweep_trigger(runtime.config.trigger(name), runtime, runtime.state,
                         force=True, **kwargs)


def submitted_names(standin: PipelineStandIn) -> list[str]:
    return sorted(r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs)


def upload(container: ContainerClient, name: str, data: bytes = b"x") -> None:
    container.get_blob_client(name).upload_blob(data, overwrite=True)


@pytest.fixture
def watched(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn) -> ContainerClient:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url(),
                                folder="incoming")])
    return container


def test_first_sweep_records_a_watermark_and_submits_nothing_old(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    upload(watched, "incoming/old.csv")
    time.sleep(2.1)  # older than the sweep's overlap (Last-Modified has one-second granularity)
    report = run_sweep()
    assert report.state == "armed"
    assert standin.requests == []
    upload(watched, "incoming/new.csv")
    run_sweep()
    assert submitted_names(standin) == ["incoming/new.csv"]


def test_new_and_overwritten_top_level_blobs_are_found_subfolders_never(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    run_sweep()
    for name in ("incoming/a.csv", "incoming/sub/b.csv", "other/c.csv", "incoming/deep/er/d.csv"):
        upload(watched, name)
    run_sweep()
    run_sweep()
    assert submitted_names(standin) == ["incoming/a.csv"]
    upload(watched, "incoming/a.csv", b"second version")
    run_sweep()
    assert submitted_names(standin) == ["incoming/a.csv", "incoming/a.csv"]


def test_blob_submitted_by_the_event_path_is_not_submitted_again(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    run_sweep()
    upload(watched, "incoming/a.csv")
    load_function("blob_trigger").invoke(blob_created_event(watched.get_blob_client("incoming/a.csv")))
    report = run_sweep()
    assert len(standin.runs) == 1
    assert report.outcomes["duplicate"] == 1


def test_a_lost_event_is_submitted_by_the_sweep_exactly_once_and_its_late_event_too(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    run_sweep()
    upload(watched, "incoming/lost.csv")
    run_sweep()
    run_sweep()
    load_function("blob_trigger").invoke(blob_created_event(watched.get_blob_client("incoming/lost.csv")))
    assert submitted_names(standin) == ["incoming/lost.csv"]


def test_blob_written_in_the_watermark_second_is_not_lost(watched: ContainerClient, standin: PipelineStandIn) -> None:
    run_sweep()
    upload(watched, "incoming/same-second.csv")  # Last-Modified equals the watermark's second
    time.sleep(0.05)
    run_sweep()
    assert submitted_names(standin) == ["incoming/same-second.csv"]


def test_filters_apply_to_the_sweep(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn) -> None:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url(),
                                blob_path_ends_with=".csv")])
    run_sweep()
    upload(container, "a.txt")
    upload(container, "empty.csv", b"")
    upload(container, "b.csv")
    report = run_sweep()
    assert submitted_names(standin) == ["b.csv"]
    assert report.skipped == Counter({"suffix": 1, "empty": 1})


def test_backfill_option_submits_existing_blobs_on_the_first_sweep(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    upload(container, "old-1.csv")
    upload(container, "old-2.csv")
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url(),
                                backfill=True)])
    run_sweep()
    run_sweep()
    assert submitted_names(standin) == ["old-1.csv", "old-2.csv"]


def test_explicit_backfill_submits_only_what_predates_the_watermark_once(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    upload(watched, "incoming/old.csv")
    upload(watched, "incoming/sub/old.csv")
    time.sleep(2.1)
    run_sweep()
    runtime = current_runtime()
    trigger, store = runtime.config.trigger("landing"), runtime.state
    assert count_backfill(trigger, store, runtime.ledger).blobs == 1
    backfill(trigger, runtime, store)
    backfill(trigger, runtime, store)
    assert submitted_names(standin) == ["incoming/old.csv"]


def test_thousand_blobs_with_failures_each_submitted_once_or_recorded_failed(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_SWEEP_PAGE_SIZE", "100")
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    run_sweep()
    names = [f"batch-{i:04d}.csv" for i in range(1000)]
    for name in names:
        upload(container, name)
    upload(container, "nested/never.csv")
    rng = random.Random(7)
    doomed = set(rng.sample(names, 40))
    flaky = set(rng.sample(sorted(set(names) - doomed), 60))
    flaky_seen: set[str] = set()

    def faults(request: Request) -> Fault | None:
        name = request.json()["DataPathAssignments"]["input_datapath"]["RelativePath"]
        if name in doomed:
            return Fault(status=404, message=f"no pipeline for {name}")
        if name in flaky and name not in flaky_seen:
            flaky_seen.add(name)
            return Fault(status=503, retry_after="0")
        return None

    standin.fault_hook = faults
    report = run_sweep()
    run_sweep()  # a second sweep finds nothing new to submit

    accepted = Counter(submitted_names(standin))
    assert set(accepted) == set(names) - doomed
    assert max(accepted.values()) == 1
    entries = {e.firing["blob"]: e for e in Ledger.from_settings().entries()}
    assert {n for n, e in entries.items() if e.state == FAILED} == doomed
    assert {n for n, e in entries.items() if e.state == SUBMITTED} == set(names) - doomed
    assert report.outcomes == Counter({"submitted": 960, "failed": 40})


def test_crash_between_pages_resumes_without_loss_or_duplicates(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_SWEEP_PAGE_SIZE", "10")
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    run_sweep()
    names = [f"f-{i:03d}.csv" for i in range(35)]
    for name in names:
        upload(container, name)

    real_iter = Listing.__iter__

    def crash_after_two_pages(self: Listing):
        for index, item in enumerate(real_iter(self)):
            if index == 20:
                raise ConnectionResetError("host recycled mid-sweep")
            yield item

    monkeypatch.setattr(Listing, "__iter__", crash_after_two_pages)
    with pytest.raises(ConnectionResetError):
        run_sweep()
    assert 0 < len(standin.runs) <= 20
    monkeypatch.setattr(Listing, "__iter__", real_iter)
    run_sweep()
    assert submitted_names(standin) == names


def test_timer_tick_runs_due_sweeps_and_skips_them_until_due(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    timer = load_function("timer_trigger")
    timer.invoke({"IsPastDue": False})  # arms
    upload(watched, "incoming/a.csv")
    timer.invoke({"IsPastDue": False})  # polling_interval 5 minutes: not due yet
    assert standin.runs == []
    report = run_sweep()
    assert report.state == "swept" and submitted_names(standin) == ["incoming/a.csv"]


def test_disabled_watch_is_paused_and_rearms_without_replaying_the_pause(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn
) -> None:
    trigger = watch_trigger("landing", container.container_name, standin.published_pipeline_url())
    set_triggers([trigger])
    run_sweep()
    set_triggers([{**trigger, "status": "Disabled"}])
    assert run_sweep().state == "paused"
    upload(container, "while-disabled.csv")
    time.sleep(2.1)
    set_triggers([trigger])
    assert run_sweep().state == "armed"
    upload(container, "after.csv")
    run_sweep()
    assert submitted_names(standin) == ["after.csv"]


def test_missing_watched_container_is_named_and_the_tick_fails_loudly(
    set_triggers: Setter, standin: PipelineStandIn
) -> None:
    set_triggers([watch_trigger("landing", "no-such-container", standin.published_pipeline_url())])
    with pytest.raises(WatchedContainerMissingError, match="'no-such-container' does not exist"):
        run_sweep()
    with pytest.raises(TickFailedError, match="landing: WatchedContainerMissingError"):
        load_function("timer_trigger").invoke({"IsPastDue": False})


def test_a_claim_is_taken_only_when_a_request_slot_is_free(
    watched: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each POST leaves its claim at least the longest submission to run: a blob waiting for a request slot
    behind a slow one holds no claim meanwhile, so the lease cannot run out while it waits (#12.3).

    A claim taken while the slow one stalls would have at most lease - stall = 8 s left, under `longest`; one taken
    when its slot is free has the lease less the time from claim to POST, which may take up to 4 s on a loaded
    machine. The stall stays 3 s inside the read timeout, so its late answer still counts."""
    stall = 5.0
    for name, value in {"PIPELINE_SWEEP_CONCURRENCY": "1", "PIPELINE_RETRY_BUDGET_SECONDS": "0.5",
                        "PIPELINE_CONNECT_TIMEOUT_SECONDS": "0.5", "PIPELINE_READ_TIMEOUT_SECONDS": "8",
                        "PIPELINE_CLAIM_LEASE_SECONDS": "13"}.items():
        monkeypatch.setenv(name, value)
    longest = 0.5 + 0.5 + 8
    run_sweep()
    upload(watched, "incoming/a.csv")
    upload(watched, "incoming/b.csv")
    ledger = Ledger.from_settings()
    lease_left: dict[str, float] = {}

    def first_one_slow(request: Request) -> Fault | None:
        blob = request.json()["DataPathAssignments"]["input_datapath"]["RelativePath"]
        [entry] = [e for e in ledger.entries() if e.firing["blob"] == blob]
        lease_left[blob] = (parse_iso(entry.lease_until or "") - utc_now()).total_seconds()
        return Fault(stall=stall, create_run=True) if len(lease_left) == 1 else None

    standin.fault_hook = first_one_slow
    report = run_sweep()

    assert report.outcomes["submitted"] == 2 and submitted_names(standin) == ["incoming/a.csv", "incoming/b.csv"]
    assert min(lease_left.values()) >= longest, lease_left


# -- content versions (#12.1): only a content change is a new version -----------------------------------------


def keep_md5(blob: BlobClient, **changes: str) -> None:
    """Set Blob Properties the way Storage Explorer and the portal do: the current headers, with changes."""
    settings = blob.get_blob_properties().content_settings
    for name, value in changes.items():
        setattr(settings, name, value)
    blob.set_http_headers(settings)


def swept_once(watched: ContainerClient) -> BlobClient:
    """An armed sweep, then a blob uploaded in one request (so the service keeps its Content-MD5) and swept."""
    run_sweep()
    blob = watched.get_blob_client("incoming/a.csv")
    blob.upload_blob(b"a,b\n1,2\n")
    run_sweep()
    return blob


def test_metadata_properties_tags_and_tier_changes_between_sweeps_start_no_run(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    blob = swept_once(watched)
    mutations: list[Callable[[], object]] = [
        lambda: blob.set_blob_metadata({"processed": "true"}),
        lambda: keep_md5(blob, content_type="text/csv"),
        lambda: blob.set_blob_tags({"stage": "done"}),
        lambda: blob.set_standard_blob_tier("Cool"),
    ]
    for mutate in mutations:
        mutate()
        report = run_sweep()
        assert report.outcomes["submitted"] == 0, report.summary()
    assert submitted_names(standin) == ["incoming/a.csv"]

    blob.upload_blob(b"a,b\n3,4\n", overwrite=True)  # new content of the same size: a new version
    run_sweep()
    run_sweep()
    assert submitted_names(standin) == ["incoming/a.csv"] * 2


def test_content_changed_back_is_a_new_version_and_the_same_bytes_again_are_not(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    run_sweep()
    for data in (b"first", b"other", b"first"):  # A, B, A again: three content changes
        upload(watched, "incoming/a.csv", data)
        run_sweep()
    assert len(standin.runs) == 3
    upload(watched, "incoming/a.csv", b"first")  # the same bytes uploaded again: not a content change
    report = run_sweep()
    assert len(standin.runs) == 3 and report.outcomes["duplicate"] == 1


def test_without_a_content_md5_a_metadata_change_counts_as_a_new_version(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    """The documented limit: with no Content-MD5 (a blob committed from blocks without one), equal sizes cannot
    tell a metadata change from new content, so the sweep runs it again rather than risk losing a change."""
    run_sweep()
    blob = watched.get_blob_client("incoming/blocks.csv")
    blob.stage_block("b1", b"a,b\n1,2\n")
    blob.commit_block_list([BlobBlock("b1")])
    assert blob.get_blob_properties().content_settings.content_md5 is None
    run_sweep()
    blob.set_blob_metadata({"processed": "true"})
    run_sweep()
    assert len(standin.runs) == 2


def test_a_properties_change_that_drops_the_content_md5_runs_once_more(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    blob = swept_once(watched)
    blob.set_http_headers(ContentSettings(content_type="text/csv"))  # headers not sent again are cleared
    run_sweep()
    assert blob.get_blob_properties().content_settings.content_md5 is None and len(standin.runs) == 2


def test_an_event_and_a_sweep_seeing_one_content_version_make_one_run(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    """Whichever path sees a content version first, later metadata changes and the other path add no run."""
    event_function = load_function("blob_trigger")
    run_sweep()
    first = watched.get_blob_client("incoming/event-first.csv")
    first.upload_blob(b"1")
    event_function.invoke(blob_created_event(first))
    swept_first = watched.get_blob_client("incoming/sweep-first.csv")
    swept_first.upload_blob(b"2")
    late_event = blob_created_event(swept_first)
    run_sweep()
    for blob in (first, swept_first):
        blob.set_blob_metadata({"processed": "true"})
    run_sweep()
    event_function.invoke(late_event)
    assert submitted_names(standin) == ["incoming/event-first.csv", "incoming/sweep-first.csv"]


def test_metadata_property_tag_and_tier_changes_mixed_into_many_blobs_add_no_run(
    watched: ContainerClient, standin: PipelineStandIn
) -> None:
    """Seeded mix over 40 blobs: uploads, same-size overwrites, each kind of metadata-only change, events on
    time, late or never, sweeps in between. Every content version runs exactly once (#12.1, chaos part)."""
    rng = random.Random(20261201)
    event_function = load_function("blob_trigger")
    mutations: list[Callable[[BlobClient], object]] = [
        lambda blob: blob.set_blob_metadata({"processed": str(rng.random())}),
        lambda blob: keep_md5(blob, content_type=rng.choice(["text/csv", "text/plain"])),
        lambda blob: blob.set_blob_tags({"stage": str(rng.randrange(9))}),
        lambda blob: blob.set_standard_blob_tier(rng.choice(["Hot", "Cool"])),
    ]
    run_sweep()
    blobs = [watched.get_blob_client(f"incoming/m-{i:02d}.csv") for i in range(40)]
    expected: Counter[str] = Counter()
    late: list[dict[str, Any]] = []
    for round_number in range(3):
        for blob in blobs:
            if round_number == 0 or rng.random() < 0.3:  # new bytes, same size: a new content version
                blob.upload_blob(f"{blob.blob_name}:{round_number}".encode(), overwrite=True)
                expected[blob.blob_name] += 1
                event = blob_created_event(blob)
                fate = rng.random()
                if fate < 0.4:
                    event_function.invoke(event)
                elif fate < 0.7:
                    late.append(event)
            for mutate in rng.sample(mutations, rng.randrange(len(mutations) + 1)):
                mutate(blob)
        run_sweep()
        for event in late:  # delivered after the metadata changes and the sweep; the blob may be newer already
            with contextlib.suppress(RetryLaterError):
                event_function.invoke(event)
        late.clear()
    run_sweep()

    runs = Counter(r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs)
    assert runs == expected
