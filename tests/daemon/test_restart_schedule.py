"""Schedule changes take effect on restart (issue 17).

A feed keeps the next-poll time its last poll chose. When the operator lowers ``max_interval``
or the feed's own ``interval`` and restarts, that old time used to stand: one new item waited
860 s instead of <= 120 s. At start-up every healthy feed's interval is brought within the
current bounds and its next poll no later than its last poll plus that interval.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from monitor.daemon.service import run_daemon
from storage.engine import make_engine, session_scope
from storage.tables import Feed
from tests import factories
from tests.loopback import LoopbackServer, Response
from tests.pollharness import rss


def _feed(settings_url: str) -> Feed:
    engine = make_engine(settings_url)
    try:
        with session_scope(engine) as session:
            feed = session.exec(select(Feed)).one()
            session.expunge(feed)
            return feed
    finally:
        engine.dispose()


def _adapted_to(settings_url: str, interval: int) -> None:
    """As if the feed's schedule had grown to ``interval`` and its next poll lay that far."""
    engine = make_engine(settings_url)
    try:
        with session_scope(engine) as session:
            feed = session.exec(select(Feed)).one()
            feed.interval_seconds = interval
            feed.next_poll_at = datetime.now(UTC) + timedelta(seconds=interval)
            session.add(feed)
    finally:
        engine.dispose()


def _serve(loopback: LoopbackServer, tmp_path: Path, interval: float | None) -> None:
    loopback.route(
        "/rss.xml",
        Response(
            body=rss([("Berita", "http://127.0.0.1/x")]),
            headers={"content-type": "application/rss+xml"},
        ),
    )
    extra = f"interval = {interval}\n" if interval is not None else ""
    (tmp_path / "feeds.toml").write_text(
        f'[[feed]]\nurl = "{loopback.url("/rss.xml")}"\n{extra}', encoding="utf-8"
    )


async def _run_once(tmp_path: Path, **schedule: float) -> str:
    settings = factories.daemon_settings(tmp_path, schedule={"jitter": 0.0, **schedule})
    await run_daemon(settings, once=True, allow_private=True, env={}, handle_signals=False)
    return settings.database_url


async def test_a_lowered_max_interval_brings_the_next_poll_forward_at_restart(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    _serve(loopback, tmp_path, None)
    url = await _run_once(tmp_path, max_interval=7200.0)
    _adapted_to(url, 7200)
    await _run_once(tmp_path, min_interval=60.0, max_interval=120.0)
    feed = _feed(url)
    assert feed.interval_seconds == 120
    assert feed.last_polled_at is not None
    assert feed.next_poll_at <= feed.last_polled_at + timedelta(seconds=120)


async def test_a_lowered_feed_interval_applies_at_restart(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    _serve(loopback, tmp_path, 900.0)
    url = await _run_once(tmp_path, min_interval=60.0)
    _adapted_to(url, 1800)
    _serve(loopback, tmp_path, 90.0)
    await _run_once(tmp_path, min_interval=60.0)
    feed = _feed(url)
    assert feed.interval_seconds == 90
    assert feed.last_polled_at is not None
    assert feed.next_poll_at <= feed.last_polled_at + timedelta(seconds=90)
