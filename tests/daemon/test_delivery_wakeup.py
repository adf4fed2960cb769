"""Alerts go out as soon as they are committed (issue 17): the commit that stores an article
and its alerts wakes delivery; the delivery timer only catches retries that came due.

The scheduler tick is 30 s here, so the old delivery job (every ``tick`` seconds) would send
the first alert 30 s after start; woken by the commit, it arrives within seconds.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from monitor.daemon.service import run_daemon
from tests import factories
from tests.daemon.test_daemon import seeds
from tests.factories import await_until, write_feeds_file
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer, Response

TICK = 30.0


async def test_an_alert_is_sent_when_its_article_is_committed_not_on_the_next_tick(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    site = FeedSite(loopback, seeds())
    site.publish(2)
    loopback.route("/hook", Response(200, b"ok"))
    write_feeds_file(tmp_path / "feeds.toml", [site.url])
    settings = factories.daemon_settings(
        tmp_path,
        schedule={
            "tick": TICK,
            "jitter": 0.0,
            "per_host_delay": 0.0,
            "alert_on_first_poll": True,
        },
        alerts={
            "channels": [{"name": "hook", "type": "webhook", "url": loopback.url("/hook")}],
            "rules": [{"name": "default", "channels": ["hook"]}],
        },
    )
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, allow_private=True, env={}, handle_signals=False)
    )
    try:
        await await_until(
            lambda: bool(loopback.requests_for("/hook")) or task.done(),
            "the first alert delivered",
            timeout=TICK / 2,
        )
        assert not task.done(), task
        assert time.monotonic() - started < TICK
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
