"""The event loop never waits for the database (issue 15).

Another connection holds the database's write lock for 10 s while the daemon polls a loopback
site whose new articles it must store: SQLite's write lock (``BEGIN IMMEDIATE``), or on
PostgreSQL the story-decision advisory lock and a row lock on the feed. Meanwhile /healthz
answers at once, the scheduler's heartbeat and the systemd watchdog keep beating, and the loop
wakes on time; once the lock is gone every article is stored exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import col, func, select

import monitor.daemon.service as service
from monitor.daemon.notify import Notifier, NotifyEnv
from monitor.daemon.service import run_daemon
from monitor.demo.sitebuilder import FEED_PATH, build_site
from monitor.health import HealthProbe
from storage.engine import make_engine, session_scope
from storage.locks import STORY_DECISIONS_KEY
from storage.tables import ArticleRow
from tests import factories
from tests.daemon.test_daemon import count, seeds
from tests.factories import await_until, write_feeds_file
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer, Request, Response, RouteFn
from tests.web.test_sse_daemon import free_port, wait_until_serving

pytestmark = pytest.mark.slow

HOLD = 10.0  # seconds the other connection keeps the lock
HEALTHZ_LIMIT = 0.25
LAG_P99_LIMIT = 0.1
BEAT_GAP_LIMIT = 1.0  # tick and watchdog interval are 0.1 s


class RecordingProbe(HealthProbe):
    beats: ClassVar[dict[str, list[float]]] = {}  # the daemon builds its probe itself

    def heartbeat(self, name: str, at: float | None = None) -> None:
        super().heartbeat(name, at)
        RecordingProbe.beats.setdefault(name, []).append(time.monotonic())


class RecordingNotifier(Notifier):
    """A systemd that listens: every datagram is recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__(NotifyEnv(socket_path="@pantau-test", watchdog_usec=200_000))
        self.pings: list[float] = []

    def send(self, *assignments: str) -> bool:
        if "WATCHDOG=1" in assignments:
            self.pings.append(time.monotonic())
        return True


@contextlib.contextmanager
def write_lock_held(url: str) -> Iterator[None]:
    """Another connection holds the lock the daemon's writes need until the block ends."""
    if url.startswith("sqlite"):
        lite = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        try:
            lite.execute("BEGIN IMMEDIATE")
            yield
            lite.execute("ROLLBACK")
        finally:
            lite.close()
        return
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (STORY_DECISIONS_KEY,))
        with conn.transaction():
            conn.execute("SELECT id FROM feeds FOR UPDATE")  # the poll's end writes this row
            yield
        conn.execute("SELECT pg_advisory_unlock(%s)", (STORY_DECISIONS_KEY,))


async def loop_lags(until: float) -> list[float]:
    """How late each short asyncio.sleep wakes up, until ``until`` (monotonic)."""
    lags: list[float] = []
    while time.monotonic() < until:
        start = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - start - 0.01)
    return lags


async def healthz_times(base: str, until: float) -> list[float]:
    took: list[float] = []
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < until:
            start = time.monotonic()
            response = await client.get(base + "/healthz")
            took.append(time.monotonic() - start)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.05)
    return took


def gaps(times: list[float], start: float, end: float) -> float:
    """The longest stretch in [start, end] without a beat."""
    inside = [start, *(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in itertools.pairwise(inside))


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def test_loop_keeps_turning_while_another_connection_holds_the_write_lock(
    tmp_path: Path, loopback: LoopbackServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = seeds()
    site = FeedSite(loopback, corpus)
    # Article pages asked for after the new items are published answer only once the other
    # connection holds the lock, so their stores are sure to meet it (no timing race).
    pages_open = threading.Event()
    pages_open.set()

    def page(ctype: str, body: bytes) -> RouteFn:
        def answer(_: Request) -> Response:
            assert pages_open.wait(60), "the test never took the lock"
            return Response(200, body, {"content-type": ctype})

        return answer

    for path, (ctype, body) in build_site(corpus, loopback.url("")).pages.items():
        if path != FEED_PATH:
            loopback.route(path, page(ctype, body))
    total = 4  # the seeds' four oldest all match (tests/web/test_sse_daemon.py)
    site.publish(2)
    RecordingProbe.beats = {}
    monkeypatch.setattr(service, "HealthProbe", RecordingProbe)
    notifier = RecordingNotifier()
    port = free_port()
    write_feeds_file(tmp_path / "feeds.toml", [site.url])
    schedule = {
        "tick": 0.1,
        "min_interval": 0.2,
        "default_interval": 0.2,
        "max_interval": 0.3,
        "jitter": 0.0,
        "per_host_delay": 0.0,
        "grace_period": 1.0,
    }
    settings = factories.daemon_settings(
        tmp_path, db=db_url, schedule=schedule, status={"enabled": True, "port": port}
    )
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(
            settings,
            stop=stop,
            allow_private=True,
            env={},
            handle_signals=False,
            notifier=notifier,
        )
    )
    engine = make_engine(db_url)
    try:
        await wait_until_serving(base, task)
        await await_until(lambda: count(engine, ArticleRow) == 2, "the first two stored")
        pages_before = len(site.page_requests())
        pages_open.clear()
        site.publish(total)
        await await_until(
            lambda: len(site.page_requests()) > pages_before, "a new article page requested"
        )
        with write_lock_held(db_url):
            pages_open.set()
            stored_at_lock = count(engine, ArticleRow)
            start = time.monotonic()
            until = start + HOLD
            lags, took = await asyncio.gather(loop_lags(until), healthz_times(base, until))
            end = time.monotonic()
            stored_under_lock = count(engine, ArticleRow)
        await await_until(
            lambda: count(engine, ArticleRow) == total, "every article stored", timeout=30
        )
        stop.set()
        await asyncio.wait_for(task, 15)
        with session_scope(engine) as session:
            urls = session.exec(
                select(func.count(func.distinct(col(ArticleRow.canonical_url))))
            ).one()
    finally:
        stop.set()
        if not task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
        engine.dispose()

    assert stored_at_lock < total  # articles were waiting for the lock
    assert stored_under_lock == stored_at_lock  # the lock did keep the writes out
    assert urls == total  # each article once
    assert len(took) >= HOLD / 0.5, took
    assert max(took) < HEALTHZ_LIMIT, f"slowest /healthz {max(took):.3f} s"
    assert p99(lags) < LAG_P99_LIMIT, f"loop lag p99 {p99(lags):.3f} s"
    assert gaps(notifier.pings, start, end) < BEAT_GAP_LIMIT
    assert gaps(RecordingProbe.beats["scheduler"], start, end) < BEAT_GAP_LIMIT
