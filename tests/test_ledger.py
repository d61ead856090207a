"""The ledger against real Azurite: one claim per firing however many deliveries race for it, leases
that expire, the released/failed states, operator reopen, and keys for any legal blob name."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared import ledger as ledger_module
from shared.clock import parse_iso
from shared.firing import BlobVersion, ScheduledSlot
from shared.ledger import (
    CLAIMED,
    FAILED,
    RELEASED,
    RUNS_PREFIX,
    SUBMITTED,
    UNCERTAIN,
    Claim,
    Ledger,
    LedgerEntry,
    Refusal,
    entry_key,
)
from shared.ledger_listing import LedgerListing

REQUEST = {"kind": "published_pipeline", "method": "POST", "url": "https://x/y", "headers": {}, "body": {"a": 1},
           "scope": "https://management.azure.com/.default", "client_id": None}
TRANSIENT = {"status": 503, "code": "Busy", "message": "busy", "transient": True}
PERMANENT = {"status": 400, "code": "BadRequest", "message": "no", "transient": False}


def blob(name: str | None = None, etag: str = "0x8DC0FFEE") -> BlobVersion:
    return BlobVersion("uploads", name or f"in/{uuid.uuid4().hex}.csv", etag)


def claimed(result: Claim | Refusal) -> Claim:
    assert isinstance(result, Claim), result
    return result


def refused(result: Claim | Refusal, reason: str) -> Refusal:
    assert isinstance(result, Refusal), result
    assert result.reason == reason
    return result


def stored(ledger: Ledger, entry: LedgerEntry) -> LedgerEntry:
    found = ledger.read(entry.blob_name)
    assert found is not None
    return found[0]


@pytest.fixture
def ledger_container(blob_service: BlobServiceClient) -> ContainerClient:
    return blob_service.get_container_client(f"ledger-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def make_ledger(ledger_container: ContainerClient, azurite) -> Callable[..., Ledger]:
    def make(lease_seconds: float = 600, max_attempts: int = 8) -> Ledger:
        # A client of its own per ledger, as separate function instances would have.
        client = ContainerClient.from_connection_string(azurite.connection_string,
                                                        ledger_container.container_name)
        return Ledger(client, lease_seconds=lease_seconds, max_attempts=max_attempts)

    return make


@pytest.fixture
def ledger(make_ledger: Callable[..., Ledger]) -> Ledger:
    return make_ledger()


def test_first_claim_creates_the_record(ledger: Ledger, ledger_container: ContainerClient) -> None:
    firing = blob("in/a.csv")
    before = datetime.now(UTC)
    claim = claimed(ledger.claim("landing", firing, REQUEST))

    entry = claim.entry
    assert entry.state == CLAIMED and entry.attempts == 1 and not claim.taken_over
    assert entry.key == entry_key("landing", firing) and len(entry.key) == 64
    assert entry.firing == {"container": "uploads", "blob": "in/a.csv", "etag": "0x8DC0FFEE"}
    assert entry.request == REQUEST
    assert entry.blob_name == f"{RUNS_PREFIX}landing/{entry.key}.json"
    lease_until = parse_iso(entry.lease_until or "")
    assert before + timedelta(seconds=599) <= lease_until <= datetime.now(UTC) + timedelta(seconds=601)

    properties = ledger_container.get_blob_client(entry.blob_name).get_blob_properties()
    assert (properties.metadata["state"], properties.metadata["trigger"]) == (CLAIMED, "landing")
    assert properties.etag == claim.record_etag
    assert stored(ledger, entry) == entry


def test_live_claim_refuses_a_second_delivery(ledger: Ledger) -> None:
    firing = blob()
    first = claimed(ledger.claim("landing", firing, REQUEST))
    refusal = refused(ledger.claim("landing", firing, REQUEST), "in_progress")
    assert refusal.entry.claim_id == first.entry.claim_id


def test_triggers_and_versions_are_separate_firings(ledger: Ledger) -> None:
    firing = blob("in/same.csv")
    claimed(ledger.claim("one", firing, REQUEST))
    claimed(ledger.claim("two", firing, REQUEST))
    claimed(ledger.claim("one", blob("in/same.csv", etag="0x8DC0FFEF"), REQUEST))
    slot = ScheduledSlot(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    claimed(ledger.claim("one", slot, None))
    same_instant = ScheduledSlot(datetime(2026, 3, 1, 3, 0, tzinfo=timezone(timedelta(hours=1))))
    refused(ledger.claim("one", same_instant, None), "in_progress")


def test_submitted_is_final(ledger: Ledger) -> None:
    firing = blob()
    claim = claimed(ledger.claim("landing", firing, REQUEST))
    ledger.record_submitted(claim, "run-1")
    entry = stored(ledger, claim.entry)
    assert entry.state == SUBMITTED and entry.run_id == "run-1" and entry.lease_until is None
    assert entry.submitted_at is not None
    refusal = refused(ledger.claim("landing", firing, REQUEST), "submitted")
    assert refusal.entry.run_id == "run-1"


def race_to_claim(ledgers: list[Ledger], firing: BlobVersion) -> list[Claim | Refusal | BaseException]:
    """Every ledger claims the firing at the same moment, each from its own thread."""
    barrier = threading.Barrier(len(ledgers))
    results: list[Claim | Refusal | BaseException] = []

    def race(ledger: Ledger) -> None:
        barrier.wait()
        try:
            results.append(ledger.claim("landing", firing, REQUEST))
        except BaseException as error:  # collected: a thread's failure must fail the test
            results.append(error)

    threads = [threading.Thread(target=race, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


def test_concurrent_claims_from_threads_have_one_winner(make_ledger: Callable[..., Ledger]) -> None:
    ledgers = [make_ledger() for _ in range(12)]
    ledgers[0].ensure_container()
    results = race_to_claim(ledgers, blob())
    winners = [r for r in results if isinstance(r, Claim)]
    assert len(results) == len(ledgers)
    assert len(winners) == 1
    assert all(isinstance(r, Refusal) and r.reason == "in_progress" for r in results if r is not winners[0])


def test_expired_lease_is_taken_over(make_ledger: Callable[..., Ledger], monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's clock moves past the lease: the refusal while it is live does not depend on how fast a
    loaded machine gets there, and the takeover needs no wait."""
    ledger = make_ledger(lease_seconds=60)
    firing = blob()
    first = claimed(ledger.claim("landing", firing, REQUEST))
    refused(ledger.claim("landing", firing, REQUEST), "in_progress")
    monkeypatch.setattr(ledger_module, "utc_now", lambda: datetime.now(UTC) + timedelta(seconds=61))

    second = claimed(ledger.claim("landing", firing, REQUEST))

    assert second.taken_over
    assert second.entry.attempts == 2
    assert second.entry.claim_id != first.entry.claim_id
    assert second.entry.history[-1]["state"] == CLAIMED
    assert stored(ledger, second.entry).claim_id == second.entry.claim_id


def test_concurrent_takeover_has_one_winner(make_ledger: Callable[..., Ledger]) -> None:
    firing = blob()
    claimed(make_ledger(lease_seconds=0.2).claim("landing", firing, REQUEST))
    time.sleep(0.3)
    ledgers = [make_ledger(lease_seconds=30) for _ in range(8)]
    results = race_to_claim(ledgers, firing)
    winners = [r for r in results if isinstance(r, Claim)]
    assert len(winners) == 1 and winners[0].taken_over
    assert all(isinstance(r, Refusal) and r.reason == "in_progress" for r in results if r is not winners[0])
    assert stored(ledgers[0], winners[0].entry).claim_id == winners[0].entry.claim_id


def test_stale_claimant_cannot_undo_a_takeover_that_submitted(make_ledger: Callable[..., Ledger]) -> None:
    """A's lease runs out mid-submission; B takes over and submits; A's late failure must not reopen it."""
    ledger = make_ledger(lease_seconds=0.2)
    firing = blob()
    stale = claimed(ledger.claim("landing", firing, REQUEST))
    time.sleep(0.3)
    fresh = claimed(ledger.claim("landing", firing, REQUEST))
    ledger.record_submitted(fresh, "run-by-b")

    state = ledger.record_failure(stale, TRANSIENT, retryable=True)

    assert state == SUBMITTED
    entry = stored(ledger, fresh.entry)
    assert entry.state == SUBMITTED and entry.run_id == "run-by-b"
    refused(ledger.claim("landing", firing, REQUEST), "submitted")


def test_stale_claimant_cannot_release_a_live_takeover(make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger(lease_seconds=0.2)
    firing = blob()
    stale = claimed(ledger.claim("landing", firing, REQUEST))
    time.sleep(0.3)
    live = claimed(make_ledger(lease_seconds=30).claim("landing", firing, REQUEST))

    assert ledger.record_failure(stale, TRANSIENT, retryable=True) == CLAIMED

    assert stored(ledger, live.entry).claim_id == live.entry.claim_id
    refused(make_ledger(lease_seconds=30).claim("landing", firing, REQUEST), "in_progress")


def test_transient_failure_releases_for_the_next_delivery(ledger: Ledger) -> None:
    firing = blob()
    claim = claimed(ledger.claim("landing", firing, REQUEST))
    assert ledger.record_failure(claim, TRANSIENT, retryable=True) == RELEASED
    entry = stored(ledger, claim.entry)
    assert entry.state == RELEASED and entry.error == TRANSIENT and entry.lease_until is None

    again = claimed(ledger.claim("landing", firing, {**REQUEST, "body": {"a": 2}}))
    assert not again.taken_over and again.entry.attempts == 2
    assert again.entry.history[-1] == {"at": again.entry.history[-1]["at"], "state": RELEASED, "error": TRANSIENT}
    assert again.entry.request == {**REQUEST, "body": {"a": 2}}


def test_permanent_failure_is_final_until_reopened(ledger: Ledger) -> None:
    firing = blob()
    claim = claimed(ledger.claim("landing", firing, REQUEST))
    assert ledger.record_failure(claim, PERMANENT, retryable=False) == FAILED
    refusal = refused(ledger.claim("landing", firing, REQUEST), "failed")
    assert refusal.entry.error == PERMANENT


def test_attempts_run_out(make_ledger: Callable[..., Ledger]) -> None:
    ledger = make_ledger(max_attempts=3)
    firing = blob()
    states = []
    for _ in range(3):
        claim = claimed(ledger.claim("landing", firing, REQUEST))
        states.append(ledger.record_failure(claim, TRANSIENT, retryable=True))
    assert states == [RELEASED, RELEASED, FAILED]
    entry = stored(ledger, claim.entry)
    assert entry.attempts == 3 and entry.error == {**TRANSIENT, "out_of_attempts": True}
    refused(ledger.claim("landing", firing, REQUEST), "failed")


def test_reopen_takes_only_failed_entries(ledger: Ledger) -> None:
    failed_firing, submitted_firing, released_firing, claimed_firing = blob(), blob(), blob(), blob()
    failed = claimed(ledger.claim("landing", failed_firing, REQUEST))
    ledger.record_failure(failed, PERMANENT, retryable=False)
    done = claimed(ledger.claim("landing", submitted_firing, REQUEST))
    ledger.record_submitted(done, "run-9")
    released = claimed(ledger.claim("landing", released_firing, REQUEST))
    ledger.record_failure(released, TRANSIENT, retryable=True)
    live = claimed(ledger.claim("landing", claimed_firing, REQUEST))

    reopened = claimed(ledger.reopen(failed.entry))
    assert reopened.entry.state == CLAIMED and reopened.entry.replays == 1 and reopened.entry.attempts == 2
    assert reopened.entry.request == REQUEST  # kept for the replay
    refused(ledger.reopen(failed.entry), CLAIMED)  # now claimed by the replay
    assert refused(ledger.reopen(done.entry), SUBMITTED).entry.run_id == "run-9"
    refused(ledger.reopen(released.entry), RELEASED)
    refused(ledger.reopen(live.entry), CLAIMED)

    ledger.container.delete_blob(done.entry.blob_name)
    with pytest.raises(KeyError, match=done.entry.key):
        ledger.reopen(done.entry)


NAME_CHARACTERS = "aé漢字🙂%+#?&= /\\'\""


@pytest.mark.parametrize("fill", ["ascii", "unicode", "specials"])
def test_keys_for_the_longest_blob_names(ledger: Ledger, fill: str) -> None:
    base = {"ascii": "a", "unicode": "漢🙂é", "specials": "%+#?&= %2F%25"}[fill]
    name = ("folder/" + base * 1024)[:1024]
    twin = name[:-1] + ("b" if name[-1] != "b" else "c")  # differs only in its last character
    firing, other = blob(name), blob(twin)

    key = entry_key("landing", firing)
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert key != entry_key("landing", other)

    claim = claimed(ledger.claim("landing", firing, REQUEST))
    assert stored(ledger, claim.entry).firing["blob"] == name
    refused(ledger.claim("landing", firing, REQUEST), "in_progress")
    claimed(ledger.claim("landing", other, REQUEST))


def test_names_with_url_characters_do_not_collide(ledger: Ledger) -> None:
    names = ["a%2Fb", "a/b", "a?b", "a#b", "a+b", "a b", "a%20b", "a\u00e9", "ae\u0301", NAME_CHARACTERS]
    keys = {entry_key("landing", blob(n)) for n in names}
    assert len(keys) == len(names)
    for name in names:
        claimed(ledger.claim("landing", blob(name), REQUEST))
    assert len(list(ledger.entries("landing"))) == len(names)


@pytest.mark.parametrize("spelling", ['"0x8DC0FFEE"', "0x8DC0FFEE", ' "0x8DC0FFEE" ', 'W/"0x8DC0FFEE"'])
def test_etag_spellings_give_one_key(ledger: Ledger, spelling: str) -> None:
    """The SDK's listing quotes ETags, Event Grid does not: both must find the same record."""
    name = f"in/{uuid.uuid4().hex}.csv"
    assert entry_key("landing", blob(name, spelling)) == entry_key("landing", blob(name, "0x8DC0FFEE"))
    claimed(ledger.claim("landing", blob(name, "0x8DC0FFEE"), REQUEST))
    refused(ledger.claim("landing", blob(name, spelling), REQUEST), "in_progress")


def test_entries_filter_by_trigger_and_state_and_find_by_prefix(ledger: Ledger) -> None:
    a = claimed(ledger.claim("alpha", blob(), REQUEST))
    ledger.record_submitted(a, "run-a")
    b = claimed(ledger.claim("alpha", blob(), REQUEST))
    ledger.record_failure(b, PERMANENT, retryable=False)
    c = claimed(ledger.claim("beta", blob(), REQUEST))

    assert {e.key for e in ledger.entries()} == {a.entry.key, b.entry.key, c.entry.key}
    assert {e.key for e in ledger.entries("alpha")} == {a.entry.key, b.entry.key}
    assert [e.key for e in ledger.entries(states={FAILED})] == [b.entry.key]
    assert [e.key for e in ledger.entries("beta", states={CLAIMED})] == [c.entry.key]
    assert [row.key for row in LedgerListing(ledger).find(b.entry.key[:10])] == [b.entry.key]


def test_entry_round_trips_and_ignores_unknown_fields() -> None:
    entry = LedgerEntry(key="k", trigger="t", state=FAILED, firing={"blob": "漢字 %?#"}, created_at="c",
                        updated_at="u", error={"message": "x"}, history=[{"state": CLAIMED}])
    data = json.loads(entry.to_bytes())
    data["added_by_a_newer_version"] = True
    assert LedgerEntry.from_bytes(json.dumps(data).encode()) == entry


def test_a_stale_claimant_that_also_started_a_run_keeps_both_run_ids(make_ledger: Callable[..., Ledger]) -> None:
    """A's lease runs out mid-submission; B takes over and records its run; A's run is recorded beside it,
    never over it (issue #12, defect 7)."""
    ledger = make_ledger(lease_seconds=0.2)
    firing = blob()
    stale = claimed(ledger.claim("landing", firing, REQUEST))
    time.sleep(0.3)
    fresh = claimed(ledger.claim("landing", firing, REQUEST))
    assert ledger.record_submitted(fresh, "run-by-b") is None

    kept = ledger.record_submitted(stale, "run-by-a")

    entry = stored(ledger, fresh.entry)
    assert kept == "run-by-b"
    assert (entry.state, entry.run_id) == (SUBMITTED, "run-by-b")
    assert [(r["run_id"], r["claim_id"]) for r in entry.other_run_ids] == [("run-by-a", stale.entry.claim_id)]
    assert ledger.record_submitted(stale, "run-by-a") == "run-by-b"  # said again: still kept once
    assert len(stored(ledger, fresh.entry).other_run_ids) == 1


def test_a_stale_claimant_records_its_run_over_an_unsettled_takeover(make_ledger: Callable[..., Ledger]) -> None:
    """B took over but has recorded nothing yet: A's run is the one that exists, so it is recorded."""
    ledger = make_ledger(lease_seconds=0.2)
    firing = blob()
    stale = claimed(ledger.claim("landing", firing, REQUEST))
    time.sleep(0.3)
    live = claimed(make_ledger(lease_seconds=30).claim("landing", firing, REQUEST))

    assert ledger.record_submitted(stale, "run-by-a") is None

    entry = stored(ledger, live.entry)
    assert (entry.state, entry.run_id) == (SUBMITTED, "run-by-a")
    assert entry.history[-1]["state"] == CLAIMED
    assert ledger.record_submitted(live, "run-by-b") == "run-by-a"  # B's late run is kept beside it
    assert [r["run_id"] for r in stored(ledger, live.entry).other_run_ids] == ["run-by-b"]


def test_an_uncertain_entry_waits_for_the_lookup_delay_before_it_is_taken_over(
    make_ledger: Callable[..., Ledger],
) -> None:
    ledger = make_ledger()
    firing = blob()
    first = claimed(ledger.claim("landing", firing, REQUEST))
    assert ledger.record_uncertain(first, {"code": "ReadTimeout"}, datetime.now(UTC)) == UNCERTAIN

    waiting = refused(ledger.claim("landing", firing, REQUEST, lookup_delay=60), UNCERTAIN)
    assert waiting.entry.attempts == 1 and stored(ledger, first.entry).state == UNCERTAIN
    second = claimed(ledger.claim("landing", firing, REQUEST, lookup_delay=0))

    assert second.uncertain and second.entry.attempts == 2
    assert second.entry.error is not None and second.entry.error["ambiguous"] is True


def test_an_expired_claim_is_uncertain_when_taken_over(make_ledger: Callable[..., Ledger]) -> None:
    """Its invocation may have died after the POST: the takeover must look the run up first."""
    ledger = make_ledger(lease_seconds=0.2)
    firing = blob()
    first = claimed(ledger.claim("landing", firing, REQUEST))
    assert not first.uncertain
    time.sleep(0.3)
    refused(ledger.claim("landing", firing, REQUEST, lookup_delay=60), UNCERTAIN)

    second = claimed(ledger.claim("landing", firing, REQUEST, lookup_delay=0.1))

    assert second.taken_over and second.uncertain
    assert second.entry.uncertain_at == first.entry.claimed_at
