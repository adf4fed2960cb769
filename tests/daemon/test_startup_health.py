"""Start-up under systemd is "starting", never "unhealthy", before the first heartbeat is due
(issue #17): no ERROR in the journal and no withheld watchdog in the first moments."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from monitor.daemon.notify import Notifier
from monitor.daemon.service import run_daemon
from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.web import StatusServer, create_app
from storage.engine import make_engine
from storage.migrate import upgrade
from tests import factories
from tests.factories import await_until


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    try:
        yield sock, path
    finally:
        sock.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'pantau.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


async def test_healthz_says_starting_not_unhealthy_before_the_first_heartbeat_is_due(
    engine: Engine,
) -> None:
    now = [1000.0]
    probe = HealthProbe({"scheduler": 120.0}, clock=lambda: now[0])  # no tick has run yet
    app = create_app(engine=engine, metrics=Metrics.create(), health=probe)
    async with StatusServer(app, port=0) as server, httpx.AsyncClient(timeout=10) as client:
        first = await client.get(server.url + "/healthz")
        now[0] += 121.0  # the first heartbeat is overdue now
        overdue = await client.get(server.url + "/healthz")
    assert first.status_code == 200
    assert first.json()["status"] == "starting"
    assert first.json()["reasons"] == []
    assert overdue.status_code == 503
    assert overdue.json()["reasons"] == ["scheduler: no heartbeat in 121s since start (limit 120s)"]


async def test_daemon_start_under_systemd_logs_no_error_and_pets_the_watchdog(
    tmp_path: Path,
    systemd_socket: tuple[socket.socket, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock, path = systemd_socket
    settings = factories.daemon_settings(
        tmp_path, schedule={"tick": 30.0, "jitter": 0.0, "grace_period": 1.0}
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    received: list[str] = []
    caplog.set_level(logging.INFO)
    with Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000"}) as notifier:
        task = asyncio.create_task(
            run_daemon(settings, stop=stop, handle_signals=False, notifier=notifier)
        )

        async def collect() -> None:
            while True:
                data = await loop.sock_recv(sock, 4096)
                received.extend(data.decode().split("\n"))

        reader = asyncio.create_task(collect())
        try:
            await await_until(
                lambda: "READY=1" in received and "WATCHDOG=1" in received,
                "READY=1 and a first WATCHDOG=1 from the daemon",
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
            reader.cancel()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert not [m for m in received if m.startswith("STATUS=unhealthy")]
