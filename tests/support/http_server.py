"""A small threaded loopback HTTP server with a route table, shared by the stand-ins."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Hold:
    """Blocks a request at its fault's point until the test sets `release` (after killing the caller)."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self, timeout: float = 60.0) -> bool:
        return self.reached.wait(timeout)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.raw_body.decode("utf-8"))


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # send the headers and half the body, then close: an answer broken off mid-way


Handler = Callable[[Request], Reply]


class LoopbackServer:
    """Routes are (method, path regex with named groups, handler); unmatched requests get 404."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # otherwise each small answer waits ~40 ms for the client's ACK

            def log_message(self, *args: object) -> None:  # quiet: tests read the recorded requests
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw_body=self.rfile.read(length) if length else b"",
                )
                reply = server.dispatch(request)
                if reply is None:  # the handler dropped the connection on purpose
                    self.close_connection = True
                    return
                payload = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if reply.cut:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2] if reply.cut else payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Reply | None:
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                request.params = match.groupdict()
                return handler(request)
        return Reply(404, {"error": {"code": "NotFound", "message": f"no route for {request.method} {request.path}"}})

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
