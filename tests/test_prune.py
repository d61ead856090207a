"""`prune`: deletes only old final entries, never what a redelivery, a sweep or an operator still needs, and
says what a later backfill would run again — shown by running that backfill, against real Azurite."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared import content_versions
from shared.accounts import connection_account
from shared.checkpoints import StateStore
from shared.cli import prune_cmd
from shared.clock import iso, utc_now
from shared.content_versions import VERSIONS_PREFIX, content_version, history_name
from shared.firing import BlobVersion, firing_from_record
from shared.ledger import CLAIMED, FAILED, RELEASED, SUBMITTED, Ledger, LedgerEntry
from shared.ledger_listing import LedgerListing
from shared.listing import blob_version
from shared.retention import Rule, delete
from shared.version_retention import old_histories
from tests.support.cli import cli
from tests.support.host import blob_created_event, load_function
from tests.support.ledger_records import aged_record
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger

Setter = Callable[[list[Any]], None]
OLD, YOUNG = timedelta(days=40), timedelta(days=1)
AMBIGUOUS = {"status": None, "code": "ReadTimeout", "message": "no answer", "ambiguous": True}
PERMANENT = {"status": 404, "code": "NotFound", "message": "no such pipeline"}



def present(container: ContainerClient, name: str) -> BlobVersion:
    """A blob really in the watched folder, as the sweep and backfill see it."""
    blob = container.get_blob_client(name)
    blob.upload_blob(b"a,b\n", overwrite=True)
    listed = next(iter(container.list_blobs(name_starts_with=name)))
    return blob_version(container, listed, connection_account("AzureWebJobsStorage"))


def keys(ledger: Ledger) -> set[str]:
    return {row.key for row in LedgerListing(ledger).rows()}


def stored(ledger: Ledger) -> dict[str, str]:
    """Every blob of the ledger container (records, histories, sweep state) with its ETag: what a write changes."""
    return {item.name: str(item.etag) for item in ledger.container.list_blobs()}


def submitted_by_event(container: ContainerClient, name: str) -> BlobVersion:
    """Upload `name` and deliver its event as the host does: a run and a record per trigger, and its history."""
    blob = container.get_blob_client(name)
    blob.upload_blob(b"a,b\n", overwrite=True)
    load_function("blob_trigger").invoke(blob_created_event(blob))
    entries = [e for e in Ledger.from_settings().entries() if e.firing.get("blob") == name]
    firing = firing_from_record(entries[0].firing)
    assert isinstance(firing, BlobVersion) and entries and {e.state for e in entries} == {SUBMITTED}
    return firing


@pytest.fixture
def landing(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn) -> ContainerClient:
    set_triggers([watch_trigger("landing", container.container_name, standin.published_pipeline_url())])
    return container


def armed_now(ledger: Ledger, watermark_age: timedelta = timedelta(0)) -> None:
    ledger.ensure_container()
    moment = iso(utc_now() - watermark_age)
    StateStore(ledger.container).write("sweep/landing", {"watermark": moment, "last_sweep_at": moment}, None)


@pytest.fixture
def aged(landing: ContainerClient) -> dict[str, LedgerEntry]:
    ledger = Ledger.from_settings()
    still_here = present(landing, "still-here.csv")
    armed_now(ledger, watermark_age=timedelta(seconds=-2))  # after the upload: a backfill considers that blob
    return {
        "old_submitted_present": aged_record(ledger, "landing", SUBMITTED, OLD, still_here),
        "old_submitted_gone": aged_record(ledger, "landing", SUBMITTED, OLD),
        "old_failed": aged_record(ledger, "landing", FAILED, OLD, error=PERMANENT),
        "old_uncertain": aged_record(ledger, "landing", FAILED, OLD, error=AMBIGUOUS),
        "old_released": aged_record(ledger, "landing", RELEASED, OLD),
        "old_claimed": aged_record(ledger, "landing", CLAIMED, OLD),
        "young_submitted": aged_record(ledger, "landing", SUBMITTED, YOUNG),
        "old_slot_of_a_removed_trigger": aged_record(ledger, "gone", SUBMITTED, OLD),
    }


def test_prune_deletes_only_old_final_entries_and_says_what_a_backfill_would_run_again(
    aged: dict[str, LedgerEntry], landing: ContainerClient, standin: PipelineStandIn
) -> None:
    ledger = Ledger.from_settings()
    dry = cli("prune", "--older-than", "30d", "--dry-run")
    assert dry.code == 0, dry.out
    assert "landing: 2 entries (2 submitted)" in dry.out
    assert (f"1 of these blob versions are still in {landing.container_name}/: a later "
            "`python -m shared backfill landing` would submit them again") in dry.out
    assert "gone: 1 entry (1 submitted)" in dry.out and "no longer configured" in dry.out
    assert "dry run: 3 entries would be deleted; nothing was" in dry.out
    assert keys(ledger) == {e.key for e in aged.values()}

    done = cli("prune", "--older-than", "30d", "--yes")
    assert done.code == 0 and "deleted 3 entries" in done.out
    gone = {"old_submitted_present", "old_submitted_gone", "old_slot_of_a_removed_trigger"}
    assert keys(ledger) == {e.key for name, e in aged.items() if name not in gone}

    with_failed = cli("prune", "--older-than", "30d", "--include-failed", "--yes")
    assert with_failed.code == 0 and "deleted 1 entries" in with_failed.out
    assert aged["old_failed"].key not in keys(ledger) and aged["old_uncertain"].key in keys(ledger)

    backfilled = cli("backfill", "landing", "--yes")  # what the message warned about
    assert backfilled.code == 0, backfilled.out
    assert [r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs] == \
        ["still-here.csv"]


def test_prune_refuses_ages_inside_event_grids_retry_window(aged: dict[str, LedgerEntry],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("prune", "--older-than", "36h", "--yes").code == 2
    assert "--older-than must be at least 2d: Event Grid redelivers an event for up to 24 hours" in \
        capsys.readouterr().err
    assert cli("prune", "--older-than", "soon").code == 2
    assert len(keys(Ledger.from_settings())) == len(aged)


def test_prune_keeps_what_a_held_back_sweep_would_list_again(landing: ContainerClient) -> None:
    ledger = Ledger.from_settings()
    armed_now(ledger, watermark_age=timedelta(days=10))  # a blob that never settled holds it back
    before = aged_record(ledger, "landing", SUBMITTED, timedelta(days=12))
    after = aged_record(ledger, "landing", SUBMITTED, timedelta(days=9))

    assert cli("prune", "--older-than", "3d", "--yes").code == 0
    assert keys(ledger) == {after.key} and before.key not in keys(ledger)


def test_a_record_written_again_since_the_listing_is_not_deleted(landing: ContainerClient) -> None:
    ledger = Ledger.from_settings()
    entries = [aged_record(ledger, "landing", SUBMITTED, OLD) for _ in range(3)]
    rows = [row for row in LedgerListing(ledger).rows() if Rule(timedelta(days=30)).prunable(row, utc_now(), None)]
    blob = firing_from_record(entries[1].firing)
    assert isinstance(blob, BlobVersion)
    rewritten = aged_record(ledger, "landing", SUBMITTED, OLD, blob)  # e.g. a replay wrote it meanwhile

    outcome = {row.key: deleted for row, deleted in delete(ledger.container, rows)}

    assert outcome == {entries[0].key: True, rewritten.key: False, entries[2].key: True}
    assert keys(ledger) == {rewritten.key}


def test_a_blob_whose_metadata_changed_since_its_submission_counts_as_run_again(
    landing: ContainerClient, standin: PipelineStandIn
) -> None:
    """Its listed ETag is the metadata change's; its record is keyed by the content version it kept."""
    ledger = Ledger.from_settings()
    submitted = submitted_by_event(landing, "reviewed.csv")
    landing.get_blob_client("reviewed.csv").set_blob_metadata({"reviewed": "yes"})  # new ETag, same bytes
    aged_record(ledger, "landing", SUBMITTED, OLD, submitted)
    before = stored(ledger)

    dry = cli("prune", "--older-than", "30d", "--dry-run")

    assert dry.code == 0, dry.out
    assert "landing: 1 entry (1 submitted)" in dry.out
    assert (f"1 of these blob versions are still in {landing.container_name}/: a later "
            "`python -m shared backfill landing` would submit them again") in dry.out
    assert stored(ledger) == before, "a dry run writes nothing"

    assert cli("prune", "--older-than", "30d", "--yes").code == 0
    assert cli("backfill", "landing", "--yes").code == 0  # what the message warned about
    assert [r.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for r in standin.runs] == \
        ["reviewed.csv", "reviewed.csv"]


def histories(ledger: Ledger) -> set[str]:
    return {item.name for item in ledger.container.list_blobs(name_starts_with=VERSIONS_PREFIX)}


def in_first_form(ledger: Ledger, blob: BlobVersion) -> None:
    """Rewrite the blob's history as histories were first written: a bare list, naming no blob."""
    client = ledger.container.get_blob_client(history_name(blob.ledger_subject))
    client.upload_blob(json.dumps(json.loads(client.download_blob().readall())["seen"]), overwrite=True)


def test_prune_deletes_the_content_version_histories_no_entry_left_needs(
    set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two triggers watch one folder; 41 days on, a history goes once no entry of either is for its versions."""
    url = standin.published_pipeline_url()
    set_triggers([watch_trigger("landing", container.container_name, url),
                  watch_trigger("second", container.container_name, url)])
    ledger = Ledger.from_settings()
    pruned, first_form, released = (submitted_by_event(container, name)
                                    for name in ("pruned.csv", "first-form.csv", "released.csv"))
    aged_record(ledger, "landing", RELEASED, timedelta(0), released)  # due again: never pruned
    in_first_form(ledger, first_form)
    later = utc_now() + timedelta(days=41)
    monkeypatch.setattr(prune_cmd, "utc_now", lambda: later)
    assert histories(ledger) == {history_name(b.ledger_subject) for b in (pruned, first_form, released)}

    one_trigger = cli("prune", "--older-than", "30d", "--trigger", "landing", "--yes")
    assert one_trigger.code == 0 and one_trigger.out.endswith("deleted 2 entries\n"), one_trigger.out
    assert len(histories(ledger)) == 3, "the other trigger's entries still need all three"

    before = stored(ledger)
    dry = cli("prune", "--older-than", "30d", "--dry-run")
    assert dry.code == 0, dry.out
    assert "second: 3 entries (3 submitted)" in dry.out
    assert f"2 content-version histories (versions/) that no entry left needs, last written before " \
           f"{iso(later - timedelta(days=30))}" in dry.out
    assert "dry run: 3 entries and 2 content-version histories would be deleted; nothing was" in dry.out
    assert stored(ledger) == before

    done = cli("prune", "--older-than", "30d", "--yes")
    assert done.code == 0 and "deleted 3 entries and 2 content-version histories" in done.out, done.out
    assert histories(ledger) == {history_name(released.ledger_subject)}, "its released entry still needs it"
    assert cli("prune", "--older-than", "30d", "--yes").out.startswith("nothing to prune")


def test_a_history_written_since_it_was_read_or_younger_than_the_age_is_kept(landing: ContainerClient) -> None:
    ledger = Ledger.from_settings()
    submitted = submitted_by_event(landing, "a.csv")
    assert list(old_histories(ledger.container, utc_now() - timedelta(days=2))) == []
    (read,) = old_histories(ledger.container, utc_now() + timedelta(seconds=5))
    landing.get_blob_client("a.csv").set_blob_metadata({"reviewed": "yes"})
    changed = next(iter(landing.list_blobs(name_starts_with="a.csv")))
    content_version(ledger.container, dataclasses.replace(submitted, etag=str(changed.etag).strip('"'),
                                                          last_modified=changed.last_modified))  # a firing learns it

    assert [(history.name, deleted) for history, deleted in delete(ledger.container, [read])] == [(read.name, False)]
    assert histories(ledger) == {read.name}


def test_a_late_event_during_a_prune_keeps_the_history_its_new_entry_needs(
    landing: ContainerClient, standin: PipelineStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """41 days on, prune deletes a.csv's entry and then its history; between the two a late event for the same
    ETag claims a new entry from that history (its firing writes nothing new). The history must stay: without
    it, the next metadata-only change of a.csv would be new content and run once more."""
    ledger = Ledger.from_settings()
    blob = submitted_by_event(landing, "a.csv")
    later = utc_now() + timedelta(days=41)
    monkeypatch.setattr(prune_cmd, "utc_now", lambda: later)
    monkeypatch.setattr(content_versions, "utc_now", lambda: later)  # the history is that old for firings too
    event = blob_created_event(landing.get_blob_client("a.csv"))
    real_delete = prune_cmd.delete

    def entries_then_a_late_event(container: ContainerClient, rows: list[Any]) -> Iterator[Any]:
        yield from real_delete(container, rows)
        if not any(row.name.startswith(VERSIONS_PREFIX) for row in rows):  # the entries' delete, not the histories'
            load_function("blob_trigger").invoke(event)  # the entry is gone: this runs a.csv again

    monkeypatch.setattr(prune_cmd, "delete", entries_then_a_late_event)
    done = cli("prune", "--older-than", "30d", "--yes")
    assert done.code == 0 and done.out.endswith("deleted 1 entries\n"), done.out
    assert len(standin.runs) == 2, "the late event after its entry was pruned runs again, as prune warned"
    assert histories(ledger) == {history_name(blob.ledger_subject)}

    landing.get_blob_client("a.csv").set_blob_metadata({"reviewed": "yes"})
    load_function("blob_trigger").invoke(blob_created_event(landing.get_blob_client("a.csv")))
    assert len(standin.runs) == 2, "a metadata-only change is not new content"
