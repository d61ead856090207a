"""Sends a built request to its pipeline service: token, timeouts, retries, typed errors.

Retry policy (docs/services.md, "Retry conventions and uncertain outcomes"): only answers that mean the
service did not act on the request (408, 429, 503, with or without `Retry-After`) and failures to connect
are retried blindly, with exponential backoff and jitter, honouring `Retry-After`; a 401 gets one fresh
token; other 4xx are permanent. A 500/502/504 may come *after* the service created the run, and a read
timeout, a connection dropped after sending or a cut-off answer leave it unknown: these are uncertain
outcomes (`ambiguous`), never re-sent, because most services have no idempotency key. Only a request
marked `idempotent` (the service dedupes it by its run key, or it is a read) is re-sent after one.

The submitter never looks at the target kind: it hands back the service's whole answer, and the caller
(which knows the kind) reads the run id from it.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from azure.core.exceptions import AzureError
from urllib3.exceptions import NewConnectionError

from .credentials import TokenProvider
from .endpoints import endpoint_problem
from .http_sessions import pooled_session
from .settings import float_setting
from .targets import PipelineRequest, ServiceAnswer

NOT_PROCESSED_STATUSES = frozenset({408, 429, 503})  # the service says it did not act on the request
UNCERTAIN_STATUSES = frozenset({500, 502, 504})  # a gateway or server error, possibly after the run was created
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
CORRELATION_HEADERS = ("x-ms-request-id", "x-ms-correlation-request-id", "x-request-id", "x-ms-client-request-id")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    budget: float = 120.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(
            max_attempts=max(1, int(float_setting("PIPELINE_MAX_ATTEMPTS", 5))),
            base_delay=float_setting("PIPELINE_RETRY_BASE_SECONDS", 1.0),
            max_delay=float_setting("PIPELINE_RETRY_MAX_SECONDS", 30.0),
            budget=float_setting("PIPELINE_RETRY_BUDGET_SECONDS", 120.0),
            connect_timeout=float_setting("PIPELINE_CONNECT_TIMEOUT_SECONDS", 10.0),
            read_timeout=float_setting("PIPELINE_READ_TIMEOUT_SECONDS", 60.0),
        )

    def timeouts_before(self, deadline: float | None) -> tuple[float, float] | None:
        """(connect, read) timeouts for one more attempt, cut to what is left before `deadline`; None when
        too little is left to try (an attempt cut shorter than a second would mostly end uncertain)."""
        if deadline is None:
            return self.connect_timeout, self.read_timeout
        left = deadline - time.monotonic()
        if left < 1.0:
            return None
        return min(self.connect_timeout, left), min(self.read_timeout, left)

    def backoff(self, attempt: int) -> float:
        """Full jitter: spreads retries from many blobs so they do not hit the service in step."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass
class SubmitError(Exception):
    """A submission that did not produce a run; fields are safe to log and store (no token)."""

    message: str
    status: int | None = None
    code: str | None = None
    correlation: dict[str, Any] = field(default_factory=dict)
    transient: bool = False
    ambiguous: bool = False
    attempts: int = 1
    answer: ServiceAnswer | None = field(default=None, repr=False, compare=False)  # the refusal, for the kind

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f" {self.code}" if self.code else ""
        return f"{status}{code}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "correlation": self.correlation,
            "transient": self.transient,
            "ambiguous": self.ambiguous,
            "attempts": self.attempts,
        }


@dataclass(frozen=True)
class SubmitResult:
    answer: ServiceAnswer
    attempts: int
    latency: float

    @property
    def status(self) -> int:
        return self.answer.status

    @property
    def response(self) -> Any:
        return self.answer.body


def redact(text: str, *secrets: str | None) -> str:
    """Remove bearer tokens (and the known tokens) from text that may be logged or stored."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _BEARER.sub("Bearer [redacted]", text)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():  # ASCII only: "²" passes isdigit() but float() refuses it
        return float(value) if value.isascii() else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC).timestamp()
    return max(0.0, moment.timestamp() - current)


def token_failure_reason(error: AzureError) -> str:
    """The first line of azure-identity's message: the rest repeats it per credential and would bloat every
    ledger record and log line."""
    lines = [line.strip() for line in (error.message or str(error)).splitlines() if line.strip()]
    return redact(lines[0] if lines else type(error).__name__)[:300]


def service_error(response: requests.Response, *tokens: str) -> tuple[str | None, str, dict[str, Any]]:
    """The service's error code, message and correlation ids from an AML or ARM style error body, or from the
    top-level `error_code`/`errorCode` and `message` of Databricks and Fabric (docs/services.md)."""
    correlation = {name: response.headers[name] for name in CORRELATION_HEADERS if name in response.headers}
    code, message = None, (response.reason or "").strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("Error") or body.get("error")
        if isinstance(error, dict):
            code = error.get("Code") or error.get("code")
            message = error.get("Message") or error.get("message") or message
        elif isinstance(error, str):
            message = error
        else:
            code = body.get("error_code") or body.get("errorCode")
            message = body.get("message") or message
        if isinstance(body.get("Correlation"), dict):
            correlation.update({str(k): v for k, v in body["Correlation"].items()})
        if isinstance(body.get("requestId"), str):  # Fabric's id for a support request
            correlation["requestId"] = body["requestId"]
    elif response.text:
        message = response.text[:500]
    return (str(code) if code else None), redact(str(message), *tokens), correlation


def connection_never_made(error: requests.ConnectionError) -> bool:
    """True when the request cannot have reached the service (safe to retry without a duplicate run)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, NewConnectionError | ConnectionRefusedError):
            return True
        cause = cause.__context__ or cause.__cause__ or (cause.args[0] if cause.args and
                                                          isinstance(cause.args[0], BaseException) else None)
    return False


class Submitter:
    """One HTTP session and one token provider per process, shared by every invocation."""

    def __init__(
        self,
        tokens: TokenProvider | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tokens = tokens or TokenProvider()
        self.fixed_policy = policy
        self.sleep = sleep
        self.session = pooled_session(max_retries=0)

    @property
    def policy(self) -> RetryPolicy:
        """The given policy, else the app settings' (read per call: cheap, and tests change them)."""
        return self.fixed_policy or RetryPolicy.from_settings()

    def submit(self, request: PipelineRequest, deadline: float | None = None) -> SubmitResult:
        """Send `request`, retrying what is safe to retry; `deadline` (a `time.monotonic()` value) bounds the
        whole submission, timeouts included, for a caller that must answer in time (the event path)."""
        if problem := endpoint_problem(request.url):
            raise SubmitError(f"refusing to send: endpoint {problem}", code="InsecureEndpoint")
        started = time.monotonic()
        policy = self.policy
        attempt, refreshed = 0, False
        last: SubmitError | None = None
        # Token fetches count against the retry budget (and the caller's deadline), so the longest submission
        # stays what `runtime.check_lease` assumes even when the identity endpoint never answers.
        token_deadline = started + policy.budget if deadline is None else min(deadline, started + policy.budget)
        while True:
            timeouts = policy.timeouts_before(deadline)
            if timeouts is None:  # no time left for another attempt: nothing more is sent
                raise last or SubmitError("no time left to send the request before the caller's deadline",
                                          code="DeadlineReached", transient=True)
            attempt += 1
            try:
                return self._attempt(request, attempt, started, timeouts, token_deadline)
            except _Retry as retry:
                if retry.refresh_token and not refreshed:
                    refreshed = True
                    self.tokens.forget(request.client_id)
                    continue
                last = retry.error
                last.attempts = attempt
                elapsed = time.monotonic() - started
                delay = retry.delay if retry.delay is not None else policy.backoff(attempt)
                past_deadline = deadline is not None and time.monotonic() + delay >= deadline
                if retry.refresh_token or attempt >= policy.max_attempts or elapsed + delay > policy.budget \
                        or past_deadline:
                    raise last from None
                self.sleep(delay)

    def call(self, request: PipelineRequest) -> Any:
        """A request that starts no run (reading or setting a pipeline's status): the same token, timeouts,
        retries, credential reset and typed errors as `submit`; returns the JSON answer (None if it has none).
        Re-sending it is safe, so an uncertain outcome is retried like a transient one."""
        return self.submit(dataclasses.replace(request, idempotent=True)).response

    def _token(self, scope: str, client_id: str | None, deadline: float) -> str:
        """A token, fetched by `deadline` (monotonic), else a transient `TokenUnavailable`."""
        try:
            return self.tokens.token(scope, client_id, timeout=deadline - time.monotonic()).token
        except AzureError as error:  # refused, or the identity endpoint unreachable: nothing was sent yet
            # A fresh credential next time: MSAL would otherwise answer from its throttle cache for as long as
            # the identity endpoint's Retry-After said (up to an hour), whatever the endpoint says meanwhile.
            self.tokens.forget(client_id)
            reason = token_failure_reason(error)
            raise _Retry(SubmitError(f"could not get a token for {scope}: {reason}",
                                     code="TokenUnavailable", transient=True)) from None

    def _attempt(self, request: PipelineRequest, attempt: int, started: float,
                 timeouts: tuple[float, float], token_deadline: float) -> SubmitResult:
        token = self._token(request.scope, request.client_id, token_deadline)
        extra = {name: self._token(scope, request.client_id, token_deadline)
                 for name, scope in request.token_headers.items()}
        headers = {**request.headers, **extra, "Authorization": f"Bearer {token}"}
        try:
            response = self.session.request(
                request.method,
                request.url,
                data=None if request.body is None else json.dumps(request.body).encode("utf-8"),
                headers=headers,
                timeout=timeouts,
            )
        except requests.ConnectionError as error:
            if connection_never_made(error):
                raise _Retry(SubmitError(f"could not connect to the endpoint: {type(error).__name__}",
                                         code="ConnectionFailed", transient=True)) from None
            raise uncertain(request, SubmitError(
                f"the connection failed after the request was sent; {MAY_EXIST}",
                code="AmbiguousConnectionError", ambiguous=True, attempts=attempt)) from None
        except requests.Timeout:
            raise uncertain(request, SubmitError(
                f"no response within {timeouts[1]:g}s after the request was sent; {MAY_EXIST}",
                code="ReadTimeout", ambiguous=True, attempts=attempt)) from None
        except requests.RequestException as error:
            if isinstance(error, ValueError):  # InvalidURL, InvalidHeader, ...: refused before anything was sent
                raise SubmitError(f"the request could not be sent: {type(error).__name__}",
                                  code="InvalidRequest", attempts=attempt) from None
            # e.g. ChunkedEncodingError: the answer (perhaps a 200 for a new run) broke off while being read
            raise uncertain(request, SubmitError(
                f"the response could not be read ({type(error).__name__}); {MAY_EXIST}",
                code="AmbiguousResponse", ambiguous=True, attempts=attempt)) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        answer = ServiceAnswer(response.status_code, response.headers, payload)
        if 200 <= response.status_code < 300:
            return SubmitResult(answer, attempt, time.monotonic() - started)
        code, message, correlation = service_error(response, token, *extra.values())
        status = response.status_code
        if status in UNCERTAIN_STATUSES:
            raise uncertain(request, SubmitError(
                f"{message} (an HTTP {status} can follow the run's creation; {MAY_EXIST})", status=status,
                code=code, correlation=correlation, ambiguous=True, attempts=attempt, answer=answer)) from None
        transient = status in NOT_PROCESSED_STATUSES
        error = SubmitError(message, status=status, code=code, correlation=correlation, transient=transient,
                            attempts=attempt, answer=answer)
        if status == 401:
            raise _Retry(error, refresh_token=True)
        if transient:
            raise _Retry(error, delay=retry_after_seconds(response.headers.get("Retry-After")))
        raise error


MAY_EXIST = "the service may have started the run, so the request is not re-sent blindly"


def uncertain(request: PipelineRequest, error: SubmitError) -> Exception:
    """An outcome the service may have acted on: re-sent only when re-sending cannot start a second run."""
    return _Retry(error) if request.idempotent else error


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another attempt."""

    def __init__(self, error: SubmitError, delay: float | None = None, refresh_token: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay
        self.refresh_token = refresh_token


_shared: Submitter | None = None
_shared_lock = threading.Lock()


def shared_submitter() -> Submitter:
    """The process-wide submitter (reused across invocations for its token cache and connections)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Submitter()
        return _shared
