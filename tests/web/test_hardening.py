"""The status server under hostile or careless clients (issue #21): DNS rebinding, framing,
SSE clients that stop reading, and more idle connections than it will hold."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from monitor.config import load_settings
from monitor.daemon.runtime import open_engine
from monitor.errors import ConfigError
from monitor.events import EventNotifier
from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.web import ServerLimits, StatusServer, create_app, sse_routes
from monitor.web.sse import StreamStats
from tests import factories
from tests.web.test_sse import _fill, add_match, frames, take


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = open_engine(factories.settings(tmp_path / "pantau.db"))
    yield eng
    eng.dispose()


def status_app(engine: Engine, notifier: EventNotifier, **stream: object) -> Starlette:
    probe = HealthProbe()
    probe.heartbeat("scheduler")
    probe.set_ready()
    return create_app(
        engine=engine,
        metrics=Metrics.create(),
        health=probe,
        extra_routes=sse_routes(engine, notifier, **stream),  # type: ignore[arg-type]
        dashboard_scripts=["/events/live.js"],
    )


@contextlib.asynccontextmanager
async def running(
    app: Starlette, notifier: EventNotifier, limits: ServerLimits = ServerLimits()
) -> AsyncIterator[StatusServer]:
    server = StatusServer(app, limits=limits)
    await server.start()
    try:
        yield server
    finally:
        notifier.close()
        await server.stop()


# --- Host header and security headers ----------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8787", "127.0.0.1.evil.example"])
async def test_a_request_naming_another_host_is_refused(engine: Engine, host: str) -> None:
    notifier = EventNotifier()
    async with (
        running(status_app(engine, notifier), notifier) as server,
        httpx.AsyncClient(timeout=10) as client,
    ):
        refused = await client.get(server.url + "/", headers={"host": host})
        events = await client.get(server.url + "/events", headers={"host": host})
        ok = await client.get(server.url + "/healthz")
        by_name = await client.get(server.url + "/healthz", headers={"host": "localhost"})
    assert refused.status_code == 421 and "allowed_hosts" in refused.text
    assert "Pantau" not in refused.text
    assert events.status_code == 421
    assert ok.status_code == 200 and by_name.status_code == 200


async def test_configured_allowed_hosts_are_served(engine: Engine) -> None:
    notifier = EventNotifier()
    limits = ServerLimits(allowed_hosts=("pantau.lan",))
    async with (
        running(status_app(engine, notifier), notifier, limits) as server,
        httpx.AsyncClient(timeout=10) as client,
    ):
        lan = await client.get(server.url + "/healthz", headers={"host": "pantau.lan:8787"})
        other = await client.get(server.url + "/healthz", headers={"host": "other.lan"})
    assert (lan.status_code, other.status_code) == (200, 421)


@pytest.mark.parametrize("path", ["/", "/healthz", "/readyz", "/metrics", "/events/live.js", "/x"])
async def test_every_page_forbids_framing_sniffing_and_foreign_scripts(
    engine: Engine, path: str
) -> None:
    notifier = EventNotifier()
    async with (
        running(status_app(engine, notifier), notifier) as server,
        httpx.AsyncClient(timeout=10) as client,
    ):
        r = await client.get(server.url + path)
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    scripts = directives.get("script-src", directives["default-src"])
    assert scripts == "'self'"  # no inline script, nothing from elsewhere


# --- SSE clients that stop reading -------------------------------------------------------------


def _silent_stream(port: int) -> socket.socket:
    """A client that asks for the stream and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    return sock


async def test_clients_that_stop_reading_are_dropped_at_their_byte_bound_and_the_cap_holds(
    engine: Engine,
) -> None:
    notifier = EventNotifier()
    stats = StreamStats()
    bound = 64 * 1024
    app = status_app(
        engine,
        notifier,
        max_clients=4,
        max_queue_bytes=bound,
        send_timeout=0.2,
        poll_interval=0.1,
        stats=stats,
    )
    async with running(app, notifier) as server, httpx.AsyncClient(timeout=30) as client:
        assert server.port is not None
        silent = [_silent_stream(server.port) for _ in range(3)]
        try:
            async with client.stream("GET", server.url + "/events") as reader:
                await factories.await_until(lambda: stats.connected == 4, "4 streams open")
                over = await client.get(server.url + "/events")
                assert over.status_code == 503 and over.headers["retry-after"]
                assert stats.refused == 1

                stream = frames(reader)
                for _ in range(6):  # ~24 MB in all: far more than the socket buffers hold
                    await asyncio.to_thread(_fill, engine, 250, 16_000)
                    notifier.notify()
                    await take(stream, 250)  # the reading client keeps up
                    if stats.dropped == 3:
                        break
                await factories.await_until(lambda: stats.dropped == 3, "3 silent clients dropped")
                sentinel = add_match(engine, notifier, "still here")
                got = await take(stream, 1)
                while got[-1].id != sentinel:
                    got = await take(stream, 1)
                assert stats.connected == 1
                assert stats.peak_backlog_bytes <= bound
                # A dropped client's slot is free again.
                async with client.stream("GET", server.url + "/events") as again:
                    assert again.status_code == 200
        finally:
            for sock in silent:
                sock.close()
        await factories.await_until(lambda: stats.connected == 0, "every stream closed")
    assert stats.queued_bytes == 0  # nothing held for clients that left


# --- idle connections --------------------------------------------------------------------------


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except BlockingIOError:
        return False


async def test_more_idle_connections_than_the_limit_do_not_stop_healthz(engine: Engine) -> None:
    notifier = EventNotifier()
    limits = ServerLimits(max_connections=8, idle_timeout=0.5)
    async with running(status_app(engine, notifier), notifier, limits) as server:
        assert server.port is not None
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(30)]
        try:
            for sock in idle[:10]:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half a request
            async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(5):
                r = await client.get(server.url + "/healthz")  # liveness bound, not a benchmark
            assert r.status_code == 200
            for sock in idle:
                sock.setblocking(False)
            await factories.await_until(
                lambda: all(_closed_by_server(s) for s in idle),
                "the idle connections closed by the server",
                timeout=20,
            )
        finally:
            for sock in idle:
                sock.close()


def test_status_limits_come_from_the_config_and_bad_values_are_refused() -> None:
    status = {"allowed_hosts": ["pantau.lan"], "max_connections": 10, "idle_timeout": 2.5}
    settings = load_settings(None, env={}, overrides={"status": status})
    limits = ServerLimits.from_settings(settings.status)
    assert (limits.allowed_hosts, limits.max_connections, limits.idle_timeout) == (
        ("pantau.lan",),
        10,
        2.5,
    )
    with pytest.raises(ConfigError, match=r"status\.idle_timeout"):
        load_settings(None, env={"PANTAU_STATUS__IDLE_TIMEOUT": "0"})
