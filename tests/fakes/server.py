"""A tiny threaded HTTP server on a free loopback port that the fake external services build on."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as a fake sees it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


@dataclass
class Response:
    """What a route returns: status, body (bytes, str or JSON-able) and headers.

    ``delay_s`` holds the answer back (a slow server); ``drop`` closes the connection without an answer
    (the server did the work, then died before it could say so).
    """

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain")
        return json.dumps(self.body).encode(), "application/json"


Route = Callable[..., Response]


@dataclass
class _Fault:
    """What the next ``count`` requests (of ``method``, or any) get instead of a plain answer."""

    count: int
    method: str | None
    answer: Response | None = None  # given instead of running the route
    delay_s: float = 0.0  # the route runs, its answer comes late
    drop: bool = False  # the route runs, its answer never comes


class FakeServer:
    """Routes ``(METHOD, regex)`` to handlers ``handler(request, *groups) -> Response``.

    Every request is recorded in ``requests``. Use as a context manager; ``url`` is the base URL.
    ``authorize`` (override it) may refuse a request before its route runs; ``fail_next``, ``slow_next``
    and ``drop_next`` inject failures into the next requests.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self.requests: list[Request] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def route(self, method: str, pattern: str) -> Callable[[Route], Route]:
        """Decorator registering a handler for a method and a full-path regex."""

        def register(handler: Route) -> Route:
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))
            return handler

        return register

    def authorize(self, request: Request) -> Response | None:
        """The refusal of a request that lacks the service's credentials; None lets it through."""
        return None

    def fail_next(
        self, count: int = 1, status: int = 500, body: object = None, method: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``count`` requests (of ``method``) get ``status``, ``body`` and ``headers`` without reaching
        their route.

        A 200 with a text ``body`` is a proxy's garbage page; a 429 usually carries a ``Retry-After`` header.
        """
        self._add_fault(_Fault(count, method, answer=Response(status, body, dict(headers or {}))))

    def slow_next(self, count: int, delay_s: float, method: str | None = None) -> None:
        """The next ``count`` requests (of ``method``) are served, but answered only after ``delay_s``."""
        self._add_fault(_Fault(count, method, delay_s=delay_s))

    def drop_next(self, count: int = 1, method: str | None = None) -> None:
        """The next ``count`` requests (of ``method``) are served, then the connection closes unanswered."""
        self._add_fault(_Fault(count, method, drop=True))

    def heal(self) -> None:
        """Drop every failure still queued: the service works again."""
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (None, method):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            fault = self._take_fault(request.method)
        if fault and fault.answer:
            return fault.answer
        response = self.authorize(request) or self._route(request)
        if fault:
            response = replace(response, delay_s=fault.delay_s, drop=fault.drop)
        return response

    def _route(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                return handler(request, *match.groups())
        return Response(404, {"error": {"code": "NOT_FOUND", "message": f"no route {request.method} {request.path}"}})

    def __enter__(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                response = fake._dispatch(request)
                if response.delay_s:
                    threading.Event().wait(response.delay_s)
                if response.drop:
                    self.close_connection = True
                    return
                payload, content_type = response.encoded()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        if key != "Content-Type":
                            self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # a short poll interval: shutdown() waits up to one interval, and every test stops its fake
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321"""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, method: str, path_prefix: str = "") -> list[Request]:
        """Recorded requests with this method whose path starts with ``path_prefix``."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]
