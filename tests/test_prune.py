"""`prune`: deletes only old final entries, never what a redelivery, a sweep or an operator still needs, and
says what a later backfill would run again — shown by running that backfill, against real Azurite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from shared.accounts import connection_account
from shared.checkpoints import StateStore
from shared.clock import iso, utc_now
from shared.firing import BlobVersion, firing_from_record
from shared.ledger import CLAIMED, FAILED, RELEASED, SUBMITTED, Ledger, LedgerEntry
from shared.ledger_listing import LedgerListing
from shared.listing import blob_version
from shared.retention import Rule, delete
from tests.support.cli import cli
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
