"""GET /events served by the running daemon while it polls a loopback site (issue 11)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from monitor import events
from monitor.config import Settings
from monitor.daemon.service import DaemonReport, run_daemon
from monitor.events import EventFilter
from storage.engine import make_engine
from storage.tables import ArticleRow
from tests import factories
from tests.daemon.test_daemon import count, seeds
from tests.factories import await_until, write_feeds_file
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer
from tests.web.test_sse import Frame, frames, stored, take


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def daemon_settings(tmp_path: Path, feed_url: str, port: int) -> Settings:
    write_feeds_file(tmp_path / "feeds.toml", [feed_url])
    schedule = {
        "tick": 0.1,
        "min_interval": 0.2,
        "default_interval": 0.2,
        "max_interval": 0.3,  # caps the feed's <ttl>10</ttl>, so it is polled often
        "jitter": 0.0,
        "per_host_delay": 0.0,
        "grace_period": 1.0,
    }
    status = {"enabled": True, "port": port}
    return factories.daemon_settings(tmp_path, schedule=schedule, status=status)


async def wait_until_serving(base: str, task: asyncio.Task[DaemonReport]) -> None:
    async with httpx.AsyncClient(timeout=5) as client, asyncio.timeout(15):
        while True:
            assert not task.done(), "the daemon stopped before its status server came up"
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(base + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def match_stream(
    client: httpx.AsyncClient, base: str, headers: dict[str, str] | None = None
) -> AsyncIterator[AsyncIterator[Frame]]:
    async with client.stream("GET", f"{base}/events?type=match", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        # The stream's starting point is fixed before the headers go out: nothing committed
        # from here on is missed.
        yield frames(response)


def match_events(engine: Engine, after: int = 0) -> list[events.StoredEvent]:
    return stored(engine, after, EventFilter.of(types=["match"]))


def titles(got: list[Frame]) -> list[str]:
    return [str(f.payload["data"]["title"]) for f in got]  # type: ignore[index]


async def test_daemon_streams_matches_live_and_exactly_the_missed_ones_after_reconnect(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    corpus = seeds()
    oldest_first = [d.title for d in sorted(corpus.docs, key=lambda d: d.published)]
    site = FeedSite(loopback, corpus)  # nothing published yet
    port = free_port()
    settings = daemon_settings(tmp_path, site.url, port)
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, allow_private=True, env={}, handle_signals=False)
    )
    engine = make_engine(settings.database_url)
    try:
        await wait_until_serving(base, task)
        async with httpx.AsyncClient(timeout=15) as client:
            async with match_stream(client, base) as stream:
                site.publish(2)
                live = await take(stream, 2)
            # Disconnected: the daemon goes on polling and storing with nobody listening.
            site.publish(4)
            await await_until(lambda: count(engine, ArticleRow) == 4, "four articles stored")
            last = live[-1].id
            assert last is not None
            async with match_stream(client, base, {"last-event-id": str(last)}) as stream:
                resumed = await take(stream, 2)
                # Nothing else is owed: a repeat or an extra would arrive before the close.
                stop.set()
                rest = [f async for f in stream if f.id is not None or f.event == "close"]
        await asyncio.wait_for(task, 15)
        in_db = match_events(engine)
    finally:
        stop.set()
        if not task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
        engine.dispose()

    assert len(in_db) == 4
    assert [f.id for f in live] == [e.id for e in in_db[:2]]
    assert sorted(titles(live)) == sorted(oldest_first[:2])
    assert [f.id for f in resumed] == [e.id for e in in_db[2:]]
    assert sorted(titles(resumed)) == sorted(oldest_first[2:4])
    assert all(f.event == "match" for f in live + resumed)
    assert [f.event for f in rest] == ["close"]
    assert rest[0].payload == {"reason": "server shutting down"}
