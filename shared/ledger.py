"""The ledger: one record per (trigger, blob version or scheduled slot), so each fires exactly once.

Records live as small JSON blobs in the `AzureWebJobsStorage` account. A claim is a conditional create
(`If-None-Match: *`): of two concurrent deliveries, or an event and the sweep, only one wins and POSTs.
Later changes use `If-Match` on the record's own ETag.

States: `claimed` (a submission is under way; the claim expires after a lease so a crash does not lose
the blob) -> `submitted` (final: never submitted again) | `released` (a transient failure that cannot
have reached the service; the next delivery may claim it again) | `uncertain` (the service may have
started the run: the next claim looks the run up by its run key before anything is re-sent, once the
attempt is old enough for the service to list it) | `failed` (permanent, uncertain without a lookup, or
out of attempts; an operator replays it).

Every write after the claim is conditional on the record's ETag, so a claim whose lease ran out can
never overwrite what its successor wrote: a run recorded by two invocations keeps both run ids.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from .clock import iso, parse_iso, utc_now
from .firing import BlobVersion, Firing, normalise_etag
from .ledger_index import index_metadata, index_tags
from .settings import float_setting, get_setting

CLAIMED, SUBMITTED, RELEASED, UNCERTAIN, FAILED = "claimed", "submitted", "released", "uncertain", "failed"
STALLED_HOURS = 1  # a released or uncertain entry nobody retried for this long has no one retrying it
RETRY_STALLED = timedelta(hours=STALLED_HOURS)
DEFAULT_CONTAINER = "pipeline-bridge-ledger"
RUNS_PREFIX = "runs/"
_ensured_containers: set[str] = set()


def entry_key(trigger: str, firing: Firing) -> str:
    """A fixed-length key, so any legal blob name (1,024 chars, unicode, `%`, `#`, `?`) is safe in it.

    The ETag is normalised here too, so a caller that passes the SDK's quoted spelling (`"0x8D.."`) and one
    that passes Event Grid's (`0x8D..`) find the same record. A blob version is keyed by its content version
    (`content_versions`): a metadata-only change finds the record of the bytes it did not change.
    """
    etag = normalise_etag(firing.content_version or firing.etag) if isinstance(firing, BlobVersion) else firing.etag
    text = f"{trigger}\n{firing.ledger_subject}\n{etag}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class LedgerEntry:
    key: str
    trigger: str
    state: str
    firing: dict[str, Any]
    created_at: str
    updated_at: str
    attempts: int = 0
    lease_until: str | None = None
    claim_id: str | None = None
    run_id: str | None = None
    submitted_at: str | None = None
    error: dict[str, Any] | None = None
    request: dict[str, Any] | None = None
    replays: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    claimed_at: str | None = None  # when the current (or last) claim was taken
    uncertain_at: str | None = None  # the latest attempt that may have reached the service unrecorded
    resolved_by: str | None = None  # "lookup": the run id was found by the run key, not returned by a POST
    other_run_ids: list[dict[str, Any]] = field(default_factory=list)  # runs a lost race also started

    @property
    def blob_name(self) -> str:
        return f"{RUNS_PREFIX}{self.trigger}/{self.key}.json"

    def lease_expired(self, now: datetime) -> bool:
        return self.lease_until is None or parse_iso(self.lease_until) <= now

    def to_bytes(self) -> bytes:
        # The fields as they are: `asdict`'s deep copy of the nested dicts changed nothing json writes, and cost
        # more than the encoding (two records per firing).
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LedgerEntry:
        raw = json.loads(data)
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in raw.items() if k in known})


def stalled(state: str, updated_at: str | None, now: datetime) -> bool:
    """A released or uncertain entry that nothing has retried (or looked up) for `RETRY_STALLED`: its events
    expired, or were acknowledged while its trigger was disabled, and no sweep lists it. An operator replays it."""
    return state in (RELEASED, UNCERTAIN) and updated_at is not None and parse_iso(updated_at) < now - RETRY_STALLED


@dataclass(frozen=True)
class Claim:
    """This invocation owns the entry until `entry.lease_until`; `taken_over`: from an expired claim."""

    entry: LedgerEntry
    record_etag: str
    taken_over: bool

    @property
    def uncertain(self) -> bool:
        """An earlier attempt may have started a run: look it up before sending anything."""
        return self.entry.uncertain_at is not None


@dataclass(frozen=True)
class Refusal:
    """Someone else has, or had, this firing: `reason` is submitted, failed, in_progress, or uncertain (an
    uncertain attempt too recent for a lookup to be trusted)."""

    reason: str
    entry: LedgerEntry


class Ledger:
    def __init__(self, container: ContainerClient, lease_seconds: float = 600, max_attempts: int = 8) -> None:
        self.container = container
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    @classmethod
    def from_settings(cls) -> Ledger:
        from .storage import blob_service

        connection = get_setting("PIPELINE_LEDGER_CONNECTION", "AzureWebJobsStorage") or "AzureWebJobsStorage"
        name = get_setting("PIPELINE_LEDGER_CONTAINER", DEFAULT_CONTAINER) or DEFAULT_CONTAINER
        return cls(
            blob_service(connection).get_container_client(name),
            lease_seconds=float_setting("PIPELINE_CLAIM_LEASE_SECONDS", 600),
            max_attempts=int(float_setting("PIPELINE_MAX_DELIVERY_ATTEMPTS", 8)),
        )

    def ensure_container(self) -> None:
        """Create the ledger container once per process (a round trip saved on every later invocation)."""
        if self.container.url in _ensured_containers:
            return
        with contextlib.suppress(ResourceExistsError):
            self.container.create_container()
        _ensured_containers.add(self.container.url)

    # -- reading -----------------------------------------------------------------------------------
    def read(self, blob_name: str) -> tuple[LedgerEntry, str] | None:
        try:
            download = self.container.get_blob_client(blob_name).download_blob()
        except ResourceNotFoundError:
            return None
        return LedgerEntry.from_bytes(download.readall()), str(download.properties.etag)

    def entries(self, trigger: str | None = None, states: set[str] | None = None) -> Iterator[LedgerEntry]:
        self.ensure_container()
        prefix = f"{RUNS_PREFIX}{trigger}/" if trigger else RUNS_PREFIX
        for item in self.container.list_blobs(name_starts_with=prefix, include=["metadata"]):
            if states and (item.metadata or {}).get("state") not in states:
                continue
            found = self.read(item.name)
            if found is not None:
                yield found[0]

    # -- writing -----------------------------------------------------------------------------------
    def _write(self, entry: LedgerEntry, *, if_match: str | None = None, create: bool = False) -> str:
        entry.updated_at = iso(utc_now())
        client = self.container.get_blob_client(entry.blob_name)
        # What listings need travels with every write, atomically with the record (shared/ledger_index.py).
        kwargs: dict[str, Any] = {"metadata": index_metadata(entry), "tags": index_tags(entry)}
        if create:
            kwargs["overwrite"] = False
        else:
            kwargs["overwrite"] = True
            if if_match is not None:
                kwargs.update(etag=if_match, match_condition=MatchConditions.IfNotModified)
        result = client.upload_blob(entry.to_bytes(), **kwargs)
        return str(result["etag"])

    def claim(self, trigger: str, firing: Firing, request: dict[str, Any] | None,
              lookup_delay: float = 0.0) -> Claim | Refusal:
        """Take the firing for this invocation, or say why not.

        An entry whose last attempt may have reached the service (uncertain, or a claim that expired) is
        taken over only once that attempt is `lookup_delay` seconds old, so the lookup that must come first
        can see the run if it exists.
        """
        self.ensure_container()
        now = utc_now()
        entry = LedgerEntry(
            key=entry_key(trigger, firing),
            trigger=trigger,
            state=CLAIMED,
            firing=firing.describe(),
            created_at=iso(now),
            updated_at=iso(now),
            attempts=1,
            lease_until=iso(now + self.lease),
            claim_id=uuid.uuid4().hex,
            request=request,
            claimed_at=iso(now),
        )
        try:
            return Claim(entry, self._write(entry, create=True), taken_over=False)
        except ResourceExistsError:
            pass
        found = self.read(entry.blob_name)
        if found is None:  # removed between the two calls: try once more from scratch
            return self.claim(trigger, firing, request)
        existing, record_etag = found
        if existing.state == SUBMITTED:
            return Refusal("submitted", existing)
        if existing.state == FAILED:
            return Refusal("failed", existing)
        if existing.state == CLAIMED and not existing.lease_expired(now):
            return Refusal("in_progress", existing)
        if existing.state == CLAIMED and existing.attempts >= self.max_attempts:
            return self._give_up(existing, record_etag, now)
        if existing.state == CLAIMED:  # it expired: its POST may have been sent
            existing.uncertain_at = existing.claimed_at or existing.updated_at
        if existing.uncertain_at and now < parse_iso(existing.uncertain_at) + timedelta(seconds=lookup_delay):
            return Refusal(UNCERTAIN, existing)
        return self._take_over(existing, record_etag, request, now)

    def _give_up(self, existing: LedgerEntry, record_etag: str, now: datetime) -> Refusal:
        """A claim abandoned again and again (its invocations keep dying mid-submission) stops being retried:
        each takeover may POST again, so after `max_attempts` it waits for an operator instead."""
        existing.history.append({"at": iso(now), "state": CLAIMED, "error": existing.error})
        existing.state = FAILED
        existing.lease_until = None
        existing.uncertain_at = existing.claimed_at or existing.updated_at
        existing.error = {"message": f"claimed {existing.attempts} times without a recorded outcome (the "
                                     "invocations were interrupted); a replay looks the run up first",
                          "code": "AbandonedClaims", "out_of_attempts": True, "ambiguous": True}
        try:
            self._write(existing, if_match=record_etag)
        except (ResourceModifiedError, ResourceExistsError):
            return self._current_refusal(existing.blob_name, existing)
        return Refusal("failed", existing)

    def _current_refusal(self, blob_name: str, fallback: LedgerEntry) -> Refusal:
        """Why not, as the ledger says now (someone else wrote between our read and our write)."""
        found = self.read(blob_name)
        current = found[0] if found is not None else fallback
        reason = {SUBMITTED: "submitted", FAILED: "failed"}.get(current.state, "in_progress")
        return Refusal(reason, current)

    def _take_over(self, existing: LedgerEntry, record_etag: str, request: dict[str, Any] | None,
                   now: datetime) -> Claim | Refusal:
        previous_state = existing.state
        existing.history.append({"at": iso(now), "state": previous_state, "error": existing.error})
        existing.state = CLAIMED
        existing.attempts += 1
        existing.lease_until = iso(now + self.lease)
        existing.claim_id = uuid.uuid4().hex
        existing.claimed_at = iso(now)
        existing.request = request or existing.request
        try:
            etag = self._write(existing, if_match=record_etag)
        except (ResourceModifiedError, ResourceExistsError):
            return self._current_refusal(existing.blob_name, existing)
        return Claim(existing, etag, taken_over=previous_state == CLAIMED)

    def record_submitted(self, claim: Claim, run_id: str | None, *, resolved_by: str | None = None) -> str | None:
        """Final. Conditional on the claim's record: when the lease ran out and another invocation wrote
        meanwhile, nothing it wrote is lost. If it recorded a different run, both are kept (this one in
        `other_run_ids`) and that run id is returned, so the caller can log the duplicate; else None."""
        entry, etag, ours = claim.entry, claim.record_etag, True
        submitted = {"run_id": run_id, "at": iso(utc_now()), "claim_id": claim.entry.claim_id,
                     "resolved_by": resolved_by}
        while True:
            if not ours and entry.state == SUBMITTED:  # another invocation's final record: ours goes beside it
                if run_id in {entry.run_id, None, *(r.get("run_id") for r in entry.other_run_ids)}:
                    return entry.run_id if entry.run_id != run_id else None
                entry.other_run_ids.append(submitted)
            else:
                if not ours:
                    entry.history.append({"at": submitted["at"], "state": entry.state, "error": entry.error})
                entry.state, entry.run_id, entry.submitted_at = SUBMITTED, run_id, submitted["at"]
                entry.resolved_by, entry.lease_until, entry.error = resolved_by, None, None
            try:
                self._write(entry, if_match=etag) if etag else self._write(entry, create=True)
            except (ResourceModifiedError, ResourceNotFoundError, ResourceExistsError):
                found = self.read(entry.blob_name)
                # Pruned meanwhile: our record is the only one, written anew.
                (entry, etag), ours = (found, False) if found is not None else ((claim.entry, None), True)
                continue
            return entry.run_id if entry.run_id != run_id else None

    def record_failure(self, claim: Claim, error: dict[str, Any], *, retryable: bool) -> str:
        """`released` when another delivery may retry, else `failed`; returns the entry's state afterwards.

        Written only if the record is still this claim's (`If-Match`): when the lease ran out and another
        invocation took the entry over (and perhaps submitted it), its record stands, and its state is returned.
        """
        return self._record_outcome(claim, error, RELEASED if retryable else FAILED)

    def record_uncertain(self, claim: Claim, error: dict[str, Any], attempted_at: datetime, *,
                         final: bool = False) -> str:
        """The service may have started the run: the next claim looks it up first (see `claim`); `final`:
        no later delivery will (an operator's replay, a kind without a lookup), so it is `failed`, flagged."""
        claim.entry.uncertain_at = iso(attempted_at)
        return self._record_outcome(claim, dict(error, ambiguous=True), FAILED if final else UNCERTAIN)

    def _record_outcome(self, claim: Claim, error: dict[str, Any], state: str) -> str:
        entry = claim.entry
        exhausted = state != FAILED and entry.attempts >= self.max_attempts
        entry.state = FAILED if exhausted else state
        entry.error = dict(error, out_of_attempts=True) if exhausted else error
        entry.lease_until = None
        try:
            self._write(entry, if_match=claim.record_etag)
        except (ResourceModifiedError, ResourceNotFoundError):
            found = self.read(entry.blob_name)
            return found[0].state if found is not None else entry.state
        return entry.state

    def reopen(self, entry: LedgerEntry, include_stalled: bool = False) -> Claim | Refusal:
        """Claim a `failed` entry for an operator's replay (`include_stalled`: or a `stalled` one, judged as read
        now: a redelivery may have settled it since it was listed); anything else is refused."""
        found = self.read(entry.blob_name)
        if found is None:
            raise KeyError(f"ledger entry {entry.key} no longer exists")
        current, record_etag = found
        if current.state != FAILED and not (include_stalled and stalled(current.state, current.updated_at, utc_now())):
            return Refusal(current.state, current)
        if current.uncertain_at is None and (current.error or {}).get("ambiguous"):  # recorded before run keys
            current.uncertain_at = current.updated_at
        current.replays += 1
        return self._take_over(current, record_etag, None, utc_now())
