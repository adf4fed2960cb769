"""Runs the status app with uvicorn on the daemon's own event loop.

We bind the listening socket ourselves and hand it to uvicorn: a busy port then raises a clear
``ConfigError`` here instead of uvicorn calling ``sys.exit`` inside a task, and port 0 gives a
free port whose number is known at once. uvicorn's signal capture is switched off: SIGTERM
belongs to the daemon, which stops this server as part of its own shutdown.

The server shares the daemon's process, so its connections share the daemon's file handles:
:class:`ServerLimits` bounds them. At most ``max_connections`` are open; a new one beyond that
first closes the connection idle the longest (no request in progress), and only when every
connection is busy is it refused with 503. A connection with no request in progress for
``idle_timeout`` seconds (one that never sends a request, sends half a request, or keeps a
finished one alive) is closed, and one the server has finished with but whose client stops
reading is cut off after the same time. Every request passes :class:`~monitor.web.guard.HostGuard`
(Host header check, security headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from monitor.config import StatusSettings
from monitor.errors import ConfigError
from monitor.web.guard import HostGuard, allowed_host_names

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class ServerLimits:
    """Bounds on the status server's connections (``[status]`` in the config)."""

    max_connections: int = 64
    idle_timeout: float = 15.0
    allowed_hosts: tuple[str, ...] = ()
    backlog: int = 128

    @classmethod
    def from_settings(cls, status: StatusSettings) -> ServerLimits:
        return cls(
            max_connections=status.max_connections,
            idle_timeout=status.idle_timeout,
            allowed_hosts=tuple(status.allowed_hosts),
        )

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ConfigError(
                f"status.max_connections must be 1 or more, got {self.max_connections}"
            )
        if self.idle_timeout <= 0:
            raise ConfigError(f"status.idle_timeout must be positive, got {self.idle_timeout}")


_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 40\r\nretry-after: 5\r\nconnection: close\r\n\r\n"
    b"too many connections to the status page\n"
)


class _LimitedH11(H11Protocol):
    """uvicorn's h11 protocol with the connection cap and idle timeout of :class:`ServerLimits`."""

    limits: ServerLimits = ServerLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        now = self.loop.time()
        self._idle_since = now
        self._closed_at: float | None = None
        self._watch: asyncio.TimerHandle | None = None
        if len(self.connections) >= self.limits.max_connections and not self._evict_idlest():
            transport.write(_REFUSED)
            transport.close()
            return
        super().connection_made(transport)
        self._arm()

    def _busy(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _evict_idlest(self) -> bool:
        idle = [
            c
            for c in self.connections
            if isinstance(c, _LimitedH11) and not c._busy() and not c.transport.is_closing()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since)
        oldest.transport.abort()
        return True

    def _arm(self) -> None:
        self._watch = self.loop.call_later(self.limits.idle_timeout / 4, self._check)

    def _check(self) -> None:
        self._watch = None
        transport = self.transport
        if transport is None or self not in self.connections:
            return
        now = self.loop.time()
        if transport.is_closing():
            # Closed by the server but the client does not read what is left: cut it off.
            self._closed_at = self._closed_at if self._closed_at is not None else now
            if now - self._closed_at >= self.limits.idle_timeout:
                transport.abort()
                return
        elif self._busy():
            self._idle_since = now
        elif now - self._idle_since >= self.limits.idle_timeout:
            transport.close()  # nothing is pending, so this frees it at once
        self._arm()

    def on_response_complete(self) -> None:
        self._idle_since = self.loop.time()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self.transport is not None:
            super().connection_lost(exc)


def _protocol_for(limits: ServerLimits) -> type[_LimitedH11]:
    return type("LimitedH11", (_LimitedH11,), {"limits": limits})


async def bind_socket(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (0 = any free port)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"status.host: cannot resolve {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"status.port: cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(is another Pantau or another program using it? change [status] port)"
        ) from None
    sock.setblocking(False)
    return sock


class StatusServer:
    """``async with StatusServer(app, host=..., port=...) as server: ... server.port``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_timeout: float = 5.0,
        limits: ServerLimits = ServerLimits(),
    ) -> None:
        self.app = HostGuard(app, allowed_host_names(host, limits.allowed_hosts))
        self.limits = limits
        self.host = host
        self.requested_port = port
        self.shutdown_timeout = shutdown_timeout
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("status server is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._sock = await bind_socket(self.host, self.requested_port, self.limits.backlog)
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            http=_protocol_for(self.limits),
            timeout_keep_alive=max(1, int(self.limits.idle_timeout)),
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=max(1, int(self.shutdown_timeout)),
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(
            self._server.serve(sockets=[self._sock]), name="pantau-status-server"
        )
        while not self._server.started:
            if self._task.done():
                await self._task  # re-raises what stopped it
                raise RuntimeError("status server stopped during start-up")
            await asyncio.sleep(0.01)
        log.info("status server listening on %s", self.url)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.shutdown_timeout + 1)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        finally:
            if self._sock is not None:
                self._sock.close()
            self._server = None
            self._task = None

    async def __aenter__(self) -> StatusServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
