"""The ``[status]`` limits reach the running daemon's status server (issue 21).

The server's bounds are tested on the server itself (tests/web/test_hardening.py); this checks
that what an operator writes in ``[status]`` is what the daemon's server enforces: the extra
allowed host name, and the cap on event-stream clients.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from monitor.daemon.service import run_daemon
from tests import factories
from tests.web.test_sse_daemon import free_port, wait_until_serving


async def test_status_settings_reach_the_daemons_server(tmp_path: Path) -> None:
    port = free_port()
    settings = factories.daemon_settings(
        tmp_path,
        status={
            "enabled": True,
            "port": port,
            "allowed_hosts": ["pantau.desk"],
            "stream_clients": 1,
        },
    )
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, allow_private=True, env={}, handle_signals=False)
    )
    try:
        await wait_until_serving(base, task)
        async with httpx.AsyncClient(timeout=5) as client:
            named = await client.get(base + "/healthz", headers={"host": f"pantau.desk:{port}"})
            assert named.status_code == 200
            rebound = await client.get(base + "/healthz", headers={"host": "evil.example"})
            assert rebound.status_code == 421
            async with client.stream("GET", base + "/events") as first:
                assert first.status_code == 200
                second = await client.get(base + "/events")
                assert second.status_code == 503
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
