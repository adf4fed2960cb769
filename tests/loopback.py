"""A real HTTP server on 127.0.0.1 for tests: programmable routes, recorded requests.

Routes map a path (without query) to a ``Route``: a fixed response, or a callable that gets the
request and returns one, or writes the response itself (for slow drips, bombs, resets).
Every request is recorded with its arrival time; the server also tracks the highest number of
requests it was serving at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float


RouteFn = Callable[[Request], Response | None]
"""Returns a Response, or None after writing the response itself via ``request_handler``."""


class _QuietServer(ThreadingHTTPServer):
    """socketserver prints a traceback to the process's stderr when a client hangs up early;
    tests that read a CLI's stderr would see it. Client hang-ups are expected here (tests
    provoke them); anything else is kept in ``errors`` for the test to look at."""

    daemon_threads = True

    def __init__(self, errors: list[BaseException], *args: object, **kwargs: object) -> None:
        self.errors = errors
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, ConnectionError | TimeoutError):
            self.errors.append(exc)


class LoopbackServer:
    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.routes: dict[str, Response | RouteFn] = {}
        self.requests: list[Request] = []
        self.max_concurrency = 0
        self._active = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.current_handler: threading.local = threading.local()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, response: Response | RouteFn) -> None:
        self.routes[path] = response

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> LoopbackServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(
                    self.command,
                    parts.path,
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with outer._lock:
                    outer.requests.append(req)
                    outer._active += 1
                    outer.max_concurrency = max(outer.max_concurrency, outer._active)
                try:
                    route = outer.routes.get(parts.path)
                    if route is None:
                        resp: Response | None = Response(404, b"not found")
                    elif isinstance(route, Response):
                        resp = route
                    else:
                        outer.current_handler.handler = self
                        resp = route(req)
                    if resp is None:
                        return
                    if resp.delay:
                        time.sleep(resp.delay)
                    self.send_response(resp.status)
                    headers = {k.lower(): v for k, v in resp.headers.items()}
                    headers.setdefault("content-length", str(len(resp.body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with outer._lock:
                        outer._active -= 1

            do_GET = _handle
            do_POST = _handle
            do_HEAD = _handle

        self._server = _QuietServer(self.errors, ("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def handler(self) -> BaseHTTPRequestHandler:
        """Inside a RouteFn: the live request handler, to write a response by hand."""
        h: BaseHTTPRequestHandler = self.current_handler.handler
        return h

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def serve() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()
