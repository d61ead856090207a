"""The ledger's listing index: every write records what listings need, so `history` and `replay ID` read
one listing and download only what they show, old records included, against real Azurite."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import ContainerClient

from shared.checkpoints import StateStore
from shared.clock import parse_iso
from shared.firing import BlobVersion, ScheduledSlot
from shared.ledger import CLAIMED, FAILED, RELEASED, SUBMITTED, Ledger, LedgerEntry
from shared.ledger_index import IndexRow
from shared.ledger_listing import LedgerListing
from tests.support.azurite import Azurite
from tests.support.cli import cli
from tests.support.fault_proxy import FaultProxy
from tests.support.standin import PipelineStandIn
from tests.support.triggers import watch_trigger
from tests.test_faults import ledger_connection

REQUEST = {"kind": "published_pipeline", "method": "POST", "url": "https://x/y", "headers": {}, "body": {"a": 1},
           "scope": "https://management.azure.com/.default", "client_id": None}
PERMANENT = {"status": 400, "code": "BadRequest", "message": "the pipeline said no: ünïcode\nand a second line",
             "transient": False}
TRANSIENT = {"status": 503, "code": "Busy", "message": "busy", "transient": True}
AMBIGUOUS = {"status": None, "code": "ReadTimeout", "message": "no answer", "ambiguous": True}
Setter = Callable[[list[Any]], None]



@pytest.fixture
def ledger(set_triggers: Setter, container: ContainerClient, standin: PipelineStandIn) -> Ledger:
    set_triggers([watch_trigger("alpha", container.container_name, standin.published_pipeline_url()),
                  watch_trigger("beta", container.container_name, standin.published_pipeline_url())])
    return Ledger.from_settings()


@pytest.fixture
def proxy(azurite: Azurite, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The ledger's account reached through a proxy that records every request the commands make."""
    server = FaultProxy(azurite.blob_endpoint).start()
    monkeypatch.setenv("AzureWebJobsStorage", ledger_connection(azurite, server.url(azurite.blob_endpoint)))
    yield server
    server.stop()


def record(ledger: Ledger, trigger: str, outcome: str, name: str | None = None) -> LedgerEntry:
    firing = BlobVersion("uploads", name or f"in/{uuid.uuid4().hex}.csv", f"0x{uuid.uuid4().hex[:12].upper()}")
    claim = ledger.claim(trigger, firing, REQUEST)
    assert not hasattr(claim, "reason"), claim
    if outcome == SUBMITTED:
        ledger.record_submitted(claim, f"run-{uuid.uuid4().hex[:8]}")
    elif outcome in (FAILED, RELEASED):
        ledger.record_failure(claim, TRANSIENT if outcome == RELEASED else PERMANENT, retryable=outcome == RELEASED)
    stored = ledger.read(claim.entry.blob_name)
    assert stored is not None
    return stored[0]


def seed(ledger: Ledger) -> list[LedgerEntry]:
    outcomes = [SUBMITTED] * 6 + [FAILED, RELEASED, CLAIMED]
    return [record(ledger, trigger, outcome) for trigger in ("alpha", "beta") for outcome in outcomes * 2]


def newest_first(entries: list[LedgerEntry]) -> list[str]:
    return [e.key for e in sorted(entries, key=lambda e: (e.updated_at, e.blob_name), reverse=True)]


def downloads(proxy: FaultProxy, prefix: str = "/runs/") -> list[str]:
    """Record downloads (or, with `prefix` "/versions/", content-version history reads): GETs of a single blob
    (listings carry `comp=list`)."""
    return [path for method, path in proxy.seen if method == "GET" and "comp=" not in path and prefix in path]


def listings(proxy: FaultProxy) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(path).query) for method, path in proxy.seen if "comp=list" in path]


def write_old_format(ledger: Ledger, entry: LedgerEntry) -> None:
    """A record as the ledger wrote it before the index: only `state` and `trigger` as metadata."""
    ledger.container.get_blob_client(entry.blob_name).upload_blob(
        entry.to_bytes(), overwrite=True, metadata={"state": entry.state, "trigger": entry.trigger})


# -- what every write records ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["in/plain.csv", "in/aé漢字🙂%+#?&= \\'\".csv", "in/" + "漢" * 1000])
def test_every_write_indexes_the_record_and_tags_its_state(ledger: Ledger, name: str) -> None:
    listing = LedgerListing(ledger)
    for outcome in (CLAIMED, FAILED):
        entry = record(ledger, "alpha", outcome, name if outcome == CLAIMED else name + "-2")
        [row] = [row for row in listing.rows("alpha") if row.key == entry.key]
        expected = IndexRow.from_entry(entry.blob_name, entry, row.record_etag)
        fits = len(name) < 500  # a long non-ASCII name does not fit the metadata: the row is completed on demand
        assert row == (expected if fits else replace(expected, encoded={
            detail: text for detail, text in expected.encoded.items() if detail != "firing"}))
        assert row.firing == (entry.firing if fits else None)
        assert listing.complete(row) == expected
        tags = ledger.container.get_blob_client(entry.blob_name).get_blob_tags()
        assert tags == {"state": outcome, "uncertain": "false"}


def test_a_schedule_slot_and_an_error_are_indexed(ledger: Ledger) -> None:
    from datetime import UTC, datetime

    claim = ledger.claim("alpha", ScheduledSlot(datetime(2026, 1, 1, 2, 30, tzinfo=UTC)), REQUEST)
    ledger.record_failure(claim, AMBIGUOUS, retryable=False)  # type: ignore[arg-type]
    [row] = LedgerListing(ledger).rows()
    assert (row.state, row.firing) == (FAILED, {"slot": "2026-01-01T02:30:00Z"})
    assert row.error == {"code": "ReadTimeout", "message": "no answer", "ambiguous": True}
    tags = ledger.container.get_blob_client(row.name).get_blob_tags()
    assert tags == {"state": FAILED, "uncertain": "true"}  # a lifecycle rule can keep it


# -- history --------------------------------------------------------------------------------------


def test_history_reads_one_listing_and_downloads_only_what_it_shows(ledger: Ledger, proxy: FaultProxy) -> None:
    entries = seed(ledger)
    proxy.seen.clear()

    table = cli("history", "--limit", "5")
    assert table.code == 0
    assert len(listings(proxy)) == 1 and downloads(proxy) == []
    shown = [line.split()[7] for line in table.out.splitlines()[1:6]]
    assert shown == [key[:12] for key in newest_first(entries)[:5]]
    assert f"({len(entries) - 5} older entries not shown" in table.out

    proxy.seen.clear()
    as_json = cli("history", "--limit", "5", "--json")
    assert [item["key"] for item in json.loads(as_json.out)] == newest_first(entries)[:5]
    assert len(listings(proxy)) == 1 and len(downloads(proxy)) == 5


def test_history_filters_by_trigger_state_and_time_from_the_listing(ledger: Ledger, proxy: FaultProxy) -> None:
    entries = seed(ledger)
    middle = sorted(e.updated_at for e in entries)[len(entries) // 2]
    proxy.seen.clear()

    failed = json.loads(cli("history", "--failed", "--trigger", "beta", "--json").out)
    assert [item["key"] for item in failed] == newest_first(
        [e for e in entries if e.trigger == "beta" and e.state in (FAILED, RELEASED)])
    assert [query["prefix"] for query in listings(proxy)] == [["runs/beta/"]]
    assert len(downloads(proxy)) == len(failed) == 4

    recent = json.loads(cli("history", "--since", middle, "--limit", "100", "--json").out)
    assert [item["key"] for item in recent] == newest_first(
        [e for e in entries if parse_iso(e.updated_at) >= parse_iso(middle)])


def test_records_written_before_the_index_show_and_are_read_once(ledger: Ledger, proxy: FaultProxy) -> None:
    entries = seed(ledger)
    for entry in entries:
        write_old_format(ledger, entry)
    proxy.seen.clear()

    first = json.loads(cli("history", "--limit", "100", "--json").out)
    assert [item["key"] for item in first] == newest_first(entries)
    assert len(downloads(proxy)) == 2 * len(entries)  # read to sort, then the shown ones for --json

    proxy.seen.clear()
    cli("history", "--limit", "100")
    unfinished = [e for e in entries if e.state in (CLAIMED, RELEASED)]  # rewritten, so indexed, when retried
    assert len(downloads(proxy)) == len(unfinished)
    rows = {row.key: row for row in LedgerListing(ledger).rows()}
    for entry in entries:
        assert rows[entry.key] == IndexRow.from_entry(entry.blob_name, entry, rows[entry.key].record_etag)


# -- replay's lookup --------------------------------------------------------------------------------


def test_replay_finds_its_entry_by_listing_only_names_with_the_key(
    ledger: Ledger, proxy: FaultProxy, standin: PipelineStandIn
) -> None:
    entries = seed(ledger)
    target = next(e for e in entries if e.state == FAILED and e.trigger == "beta")
    proxy.seen.clear()

    done = cli("replay", target.key[:10], "--rebuild", "--yes")

    assert done.code == 0, done.out
    assert len(standin.runs) == 1
    prefixes = [query.get("prefix", [""])[0] for query in listings(proxy)]
    assert sorted(prefixes) == [f"runs/alpha/{target.key[:10]}", f"runs/beta/{target.key[:10]}"]  # configured
    assert set(downloads(proxy)) == {f"/devstoreaccount1/{ledger.container.container_name}/{target.blob_name}"}


def test_replay_finds_an_entry_of_a_trigger_no_longer_configured(
    ledger: Ledger, proxy: FaultProxy, set_triggers: Setter
) -> None:
    seed(ledger)
    gone = record(ledger, "retired", FAILED)
    set_triggers([])  # `retired` (and every other trigger) has left the configuration
    proxy.seen.clear()

    done = cli("replay", gone.key[:10])  # no --yes and no terminal: it shows the entry, then refuses

    assert done.code == 2 and gone.key[:12] in done.out
    queries = listings(proxy)
    assert queries[0]["delimiter"] == ["/"] and queries[0]["prefix"] == ["runs/"]  # the trigger folders
    assert sorted(q["prefix"][0] for q in queries[1:]) == [f"runs/{t}/{gone.key[:10]}" for t in ("alpha", "beta",
                                                                                                   "retired")]


@pytest.mark.parametrize("key", ["not-a-key!", "runs/alph"])
def test_replay_refuses_a_key_that_is_not_hexadecimal(ledger: Ledger, key: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("replay", key, "--yes").code == 2
    assert f"{key!r} is not a ledger key" in capsys.readouterr().err


# -- backfill's counts ------------------------------------------------------------------------------


def armed_in_the_future(ledger: Ledger) -> None:
    """`alpha`'s sweep watermark far ahead: every blob predates it, so a backfill considers them all."""
    ledger.ensure_container()
    future = "2999-01-01T00:00:00.000Z"
    StateStore(ledger.container).write("sweep/alpha", {"watermark": future, "last_sweep_at": future}, None)


def test_backfill_skips_recorded_blobs_from_the_listing_without_reading_or_claiming_them(
    ledger: Ledger, proxy: FaultProxy, container: ContainerClient, standin: PipelineStandIn
) -> None:
    for index in range(5):
        container.get_blob_client(f"old-{index}.csv").upload_blob(b"x")
    armed_in_the_future(ledger)
    assert cli("backfill", "alpha", "--yes").code == 0 and len(standin.runs) == 5
    proxy.seen.clear()

    again = cli("backfill", "alpha", "--yes")

    assert "5 already have a final ledger record (submitted or failed) and are skipped, 0 would be submitted" in \
        again.out
    assert downloads(proxy) == []
    assert downloads(proxy, "/versions/") == []  # each listed ETag has its own record: no history to look up
    assert [path for method, path in proxy.seen if method == "PUT" and "/runs/" in path] == []  # no claims
    assert len(standin.runs) == 5

    container.get_blob_client("new.csv").upload_blob(b"x")
    proxy.seen.clear()
    mixed = cli("backfill", "alpha", "--yes")
    assert "5 already have a final ledger record (submitted or failed) and are skipped, 1 would be submitted" in \
        mixed.out and "5 duplicate" in mixed.out
    assert downloads(proxy) == [] and len(standin.runs) == 6


def test_backfill_counts_and_skips_a_blob_whose_metadata_changed_since_its_submission_without_a_claim(
    ledger: Ledger, proxy: FaultProxy, container: ContainerClient, standin: PipelineStandIn
) -> None:
    """Set Blob Metadata gives the blob a new ETag, but its record is keyed by the content version it kept."""
    container.get_blob_client("old.csv").upload_blob(b"x")
    armed_in_the_future(ledger)
    assert cli("backfill", "alpha", "--yes").code == 0 and len(standin.runs) == 1
    container.get_blob_client("old.csv").set_blob_metadata({"reviewed": "yes"})
    container.get_blob_client("new.csv").upload_blob(b"y")
    proxy.seen.clear()

    again = cli("backfill", "alpha", "--yes")

    assert "1 already have a final ledger record (submitted or failed) and are skipped, 1 would be submitted" in \
        again.out and "1 submitted; skipped 1 duplicate" in again.out
    written = {path.split("?")[0] for method, path in proxy.seen if method == "PUT" and "/runs/" in path}
    assert len(written) == 1  # new.csv's claim and record: none for old.csv
    assert len(set(downloads(proxy, "/versions/"))) == 1  # old.csv's new ETag is looked up; new.csv has no record
    assert sorted(run.body["DataPathAssignments"]["input_datapath"]["RelativePath"] for run in standin.runs) == \
        ["new.csv", "old.csv"]
