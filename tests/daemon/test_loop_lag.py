"""The running daemon measures how late its event loop wakes and serves it in /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from monitor.daemon.service import run_daemon
from monitor.metrics import Metrics
from tests import factories
from tests.factories import await_until
from tests.web.test_sse_daemon import free_port, wait_until_serving

LAG = "pantau_event_loop_lag_seconds"


async def test_running_daemon_exposes_its_event_loop_lag_histogram_in_metrics(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = factories.daemon_settings(tmp_path, status={"enabled": True, "port": port})
    base = f"http://127.0.0.1:{port}"
    metrics = Metrics.create()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(
            settings, stop=stop, allow_private=True, env={}, handle_signals=False, metrics=metrics
        )
    )
    try:
        await wait_until_serving(base, task)
        await await_until(
            lambda: (metrics.registry.get_sample_value(f"{LAG}_count") or 0) > 0,
            "a first loop lag measurement",
        )
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(base + "/metrics")
        stop.set()
        await asyncio.wait_for(task, 15)
    finally:
        stop.set()
        if not task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)

    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    lag = families[LAG]
    assert lag.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in lag.samples}
    assert samples[(f"{LAG}_count", None)] > 0
    assert samples[(f"{LAG}_bucket", "+Inf")] == samples[(f"{LAG}_count", None)]
