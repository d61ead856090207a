"""A loopback HTTP proxy that forwards to one upstream (Azurite, the pipeline stand-in) and can misbehave.

`fail_next(status, times)` answers the next requests itself with that status (a storage-style error),
without forwarding: a service that is up but answering 503. `truncate_next(times)` forwards the request
(the upstream acts on it) and then sends only the start of the response before closing the connection:
a response cut off after the service accepted the request. `report_copy(path, status)` answers reads of one
blob's properties, and listings that include it, with that copy status (Azurite finishes every copy at once;
the service shows `pending` while an asynchronous copy runs, and `failed` or `aborted` when it did not complete).
"""

from __future__ import annotations

import http.client
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"})


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.faults: deque[int | str] = deque()  # a status to answer, or "truncate"
        self.forwarded = 0
        self.answered: list[int] = []
        self.copy_reports: dict[str, str] = {}  # request path -> the x-ms-copy-status to report
        self.seen: list[tuple[str, str]] = []  # (method, path and query) of every request, in arrival order
        self._lock = threading.Lock()
        proxy = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    fault = proxy.faults.popleft() if proxy.faults else None
                    proxy.seen.append((self.command, self.path))
                if isinstance(fault, int):
                    proxy._answer(self, fault)
                    return
                status, headers, payload = proxy._forward(self.command, self.path, dict(self.headers.items()), body)
                headers = proxy._reported(self.command, self.path, headers)
                payload = proxy._listed(self.path, payload)
                self.send_response_only(status)  # the upstream's own Date (the storage clock), not a second one
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                # A HEAD answer has no body but the length of the one a GET would get (a blob's size).
                upstream_length = next((v for k, v in headers if k.lower() == "content-length"), "0")
                self.send_header("Content-Length", upstream_length if self.command == "HEAD" else str(len(payload)))
                if fault == "truncate":
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload[: len(payload) // 2] if fault == "truncate" else payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # -- control ---------------------------------------------------------------------------------
    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self.faults.extend([status] * times)

    def truncate_next(self, times: int = 1) -> None:
        with self._lock:
            self.faults.extend(["truncate"] * times)

    def report_copy(self, path: str, status: str | None) -> None:
        """Reads of `path` (the blob's URL path, percent-encoded) show this copy status; None: as stored."""
        with self._lock:
            if status is None:
                self.copy_reports.pop(path, None)
            else:
                self.copy_reports[path] = status

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.copy_reports.clear()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, upstream_url: str) -> str:
        """The same URL, reached through the proxy."""
        parts = urlsplit(upstream_url)
        return parts._replace(netloc=f"127.0.0.1:{self.port}").geturl()

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the work --------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        payload = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
                   f"<Message>injected {status}</Message></Error>").encode()
        with self._lock:
            self.answered.append(status)
        handler.send_response(status)
        handler.send_header("x-ms-error-code", "ServerBusy")
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def _reported(self, method: str, path: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        with self._lock:
            status = self.copy_reports.get(urlsplit(path).path) if method in ("GET", "HEAD") else None
        if status is None:
            return headers
        kept = [(k, v) for k, v in headers if k.lower() not in ("x-ms-copy-status", "x-ms-copy-progress")]
        length = next((v for k, v in headers if k.lower() == "content-length"), "0")
        done = length if status == "success" else "0"
        return [*kept, ("x-ms-copy-status", status), ("x-ms-copy-progress", f"{done}/{length}")]

    def _listed(self, path: str, payload: bytes) -> bytes:
        parts = urlsplit(path)
        if "comp=list" not in parts.query:
            return payload
        with self._lock:
            reports = dict(self.copy_reports)
        text = payload.decode("utf-8")
        for blob_path, status in reports.items():
            if blob_path.startswith(parts.path + "/"):
                name = escape(unquote(blob_path[len(parts.path) + 1:]))
                within = rf"(<Blob><Name>{re.escape(name)}</Name>(?:(?!</Blob>).)*?<CopyStatus>)[^<]*(</CopyStatus>)"
                text = re.sub(within, rf"\g<1>{status}\g<2>", text, flags=re.DOTALL)
        return text.encode("utf-8")

    def _forward(self, method: str, path: str, headers: dict[str, str],
                 body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            if body or any(k.lower() == "content-length" for k in headers):
                forwarded["Content-Length"] = str(len(body))
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            with self._lock:
                self.forwarded += 1
            return response.status, response.getheaders(), payload
        finally:
            connection.close()
