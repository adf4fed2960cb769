"""Polling one feed against a real loopback news site, with the real pipeline, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from monitor.daemon.feeds import add_feed
from monitor.daemon.poller import Poller, PollOutcome
from monitor.daemon.runtime import Runtime, open_runtime
from monitor.demo.sitebuilder import load_corpus
from monitor.metrics import Metrics
from monitor.models import FeedSpec
from monitor.paths import default_seeds_dir
from storage import feed_state
from storage.engine import session_scope
from storage.tables import AlertRow, ArticleRow, Event, Feed, FeedEvent, SeenEntry
from tests.factories import polling_settings
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer, Response

OWNER = "test-poller"


@dataclass
class Rig:
    runtime: Runtime
    poller: Poller
    site: FeedSite
    feed_id: int
    metrics: Metrics
    alerts: io.StringIO

    @property
    def engine(self) -> Any:
        return self.runtime.engine

    async def poll(self) -> PollOutcome:
        """Make the feed due, claim it as the daemon would, poll it."""
        now = datetime.now(UTC)
        with session_scope(self.engine) as session:
            row = session.get(Feed, self.feed_id)
            assert row is not None
            row.next_poll_at = now
        with session_scope(self.engine) as session:
            claimed = feed_state.claim_due_feeds(session, OWNER, now, 10, 60)
        feed = next(f for f in claimed if f.id == self.feed_id)
        return await self.poller.poll(feed)

    def feed(self) -> Feed:
        with session_scope(self.engine) as session:
            row = session.get(Feed, self.feed_id)
            assert row is not None
            return row

    def count(self, table: Any, *where: Any) -> int:
        with session_scope(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(table).where(*where)).one())

    def polls(self, status: str) -> float:
        value = self.metrics.registry.get_sample_value("pantau_polls_total", {"status": status})
        return value or 0.0


async def make_rig(
    tmp_path: Path,
    loopback: LoopbackServer,
    stack: AsyncExitStack,
    db_url: str | None = None,
    **schedule: Any,
) -> Rig:
    settings = polling_settings(tmp_path, db_url=db_url, **schedule)
    alerts = io.StringIO()
    runtime = await open_runtime(settings, stack, env={}, allow_private=True, alert_stream=alerts)
    site = FeedSite(loopback, load_corpus(default_seeds_dir()))
    with session_scope(runtime.engine) as session:
        feed, _ = add_feed(
            session,
            FeedSpec(url=site.url, name="Warta (loopback)"),
            default_interval=settings.schedule.default_interval,
            now=datetime.now(UTC),
        )
        assert feed.id is not None
        feed_id = feed.id
    metrics = Metrics.create()
    poller = Poller(
        engine=runtime.engine,
        fetcher=runtime.fetcher,
        processor=runtime.pipeline,
        schedule=settings.schedule,
        owner=OWNER,
        metrics=metrics,
    )
    return Rig(runtime, poller, site, feed_id, metrics, alerts)


@pytest.fixture
async def rig(tmp_path: Path, loopback: LoopbackServer, db_url: str) -> AsyncIterator[Rig]:
    async with AsyncExitStack() as stack:
        yield await make_rig(tmp_path, loopback, stack, db_url)


# --- new entries and first-run suppression ------------------------------------------------


async def test_first_poll_stores_the_backlog_without_alerting(rig: Rig) -> None:
    rig.site.publish(3)
    outcome = await rig.poll()
    assert (outcome.status, outcome.new, outcome.alerts_enabled) == ("ok", 3, False)
    assert rig.count(SeenEntry) == 3
    assert rig.count(ArticleRow) == 3
    assert rig.count(AlertRow) == 0
    assert rig.feed().initial_poll_done


async def test_entries_published_later_are_picked_up_and_do_alert(rig: Rig) -> None:
    rig.site.publish(3)
    await rig.poll()
    fetched_before = len(rig.site.page_requests())
    rig.site.publish(5)
    outcome = await rig.poll()
    assert (outcome.status, outcome.new, outcome.entries) == ("ok", 2, 5)
    assert outcome.alerts_enabled
    assert len(rig.site.page_requests()) == fetched_before + 2  # only the new pages
    assert rig.count(ArticleRow) == 5
    assert rig.count(AlertRow) == 2


async def test_alert_on_first_poll_setting_alerts_on_the_backlog(
    tmp_path: Path, loopback: LoopbackServer, db_url: str
) -> None:
    async with AsyncExitStack() as stack:
        rig = await make_rig(tmp_path, loopback, stack, db_url, alert_on_first_poll=True)
        rig.site.publish(2)
        outcome = await rig.poll()
        assert outcome.alerts_enabled
        assert rig.count(AlertRow) == 2


# --- unchanged feeds ------------------------------------------------------------------------


async def test_unchanged_feed_is_answered_304_and_nothing_is_parsed_or_written(
    rig: Rig,
) -> None:
    rig.site.publish(2)
    await rig.poll()
    seen, articles = rig.count(SeenEntry), rig.count(ArticleRow)
    outcome = await rig.poll()
    last = rig.site.feed_requests()[-1]
    assert last.headers.get("if-none-match") == rig.feed().etag
    assert last.headers.get("if-modified-since") == rig.feed().last_modified
    assert (outcome.status, outcome.entries, outcome.new) == ("not_modified", 0, 0)
    assert (rig.count(SeenEntry), rig.count(ArticleRow)) == (seen, articles)
    assert rig.polls("not_modified") == 1
    assert rig.polls("ok") == 1


async def test_server_ignoring_conditional_get_is_skipped_by_body_hash(rig: Rig) -> None:
    rig.site.conditional = False
    rig.site.publish(2)
    await rig.poll()
    pages = len(rig.site.page_requests())
    outcome = await rig.poll()
    assert outcome.status == "unchanged"
    assert outcome.entries == 0
    assert len(rig.site.page_requests()) == pages
    assert rig.polls("unchanged") == 1


async def test_quiet_feed_is_polled_less_often_and_ttl_is_honoured(
    tmp_path: Path, loopback: LoopbackServer, db_url: str
) -> None:
    async with AsyncExitStack() as stack:
        rig = await make_rig(tmp_path, loopback, stack, db_url, max_interval=3600.0)
        rig.site.publish(2)
        outcome = await rig.poll()
        # The seed feed says <ttl>10</ttl>: not before ten minutes, whatever the adaptation.
        assert outcome.next_poll_at - datetime.now(UTC) >= timedelta(minutes=9, seconds=55)
        assert rig.feed().interval_seconds >= 600


# --- failures -------------------------------------------------------------------------------


async def test_failing_feed_backs_off_exponentially_then_recovers_with_one_alert_each(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    rig.site.publish(1)
    await rig.poll()
    rig.site.fail(Response(500, b"oops"))
    delays = []
    for _ in range(5):
        outcome = await rig.poll()
        assert outcome.status == "error"
        feed = rig.feed()
        assert feed.last_polled_at is not None
        delays.append((feed.next_poll_at - feed.last_polled_at).total_seconds())
    assert [round(d) for d in delays] == [1, 2, 4, 8, 16]
    feed = rig.feed()
    assert not feed.healthy and feed.consecutive_failures == 5
    assert feed.unhealthy_reason is not None and "HTTP 500" in feed.unhealthy_reason
    assert feed.enabled and not feed.retired  # never disabled

    rig.site.fail(None)
    rig.site.publish(2)
    outcome = await rig.poll()
    assert (outcome.status, outcome.new, outcome.health) == ("ok", 1, "recovered")
    await rig.poll()
    feed = rig.feed()
    assert feed.healthy and feed.consecutive_failures == 0 and feed.last_error is None
    with session_scope(rig.engine) as session:
        kinds = [e.kind for e in feed_state.feed_events(session, rig.feed_id)]
        events = [
            e.type
            for e in session.exec(select(Event).order_by(col(Event.id))).all()
            if e.type.startswith("feed.")
        ]
    assert kinds == ["unhealthy", "recovered"]
    assert events == ["feed.unhealthy", "feed.recovered"]
    operator = [r.getMessage() for r in caplog.records if "OPERATOR" in r.getMessage()]
    assert len(operator) == 2
    assert "unhealthy" in operator[0] and "recovered" in operator[1]


async def test_429_with_retry_after_is_honoured(rig: Rig) -> None:
    rig.site.fail(Response(429, b"slow down", {"retry-after": "30"}))
    outcome = await rig.poll()
    assert outcome.status == "error"
    # Back-off alone would wait backoff_base (1 s); the server asked for 30.
    assert outcome.next_poll_at - datetime.now(UTC) >= timedelta(seconds=29)
    assert rig.feed().healthy  # one refusal is not ill health


async def test_410_gone_retires_the_feed_with_a_clear_log_line(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.site.fail(Response(410, b"gone"))
    outcome = await rig.poll()
    assert outcome.status == "retired"
    assert any("410 Gone: retired" in r.getMessage() for r in caplog.records)
    feed = rig.feed()
    assert feed.retired and not feed.healthy
    with session_scope(rig.engine) as session:
        assert [e.kind for e in session.exec(select(FeedEvent)).all()] == ["retired"]
        feed_row = session.get(Feed, rig.feed_id)
        assert feed_row is not None
        feed_row.next_poll_at = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(rig.engine) as session:
        assert feed_state.claim_due_feeds(session, OWNER, datetime.now(UTC), 10, 60) == []


async def test_entry_whose_page_fails_transiently_is_retried_on_the_next_poll(
    rig: Rig, loopback: LoopbackServer
) -> None:
    rig.site.conditional = False
    rig.site.publish(2)
    docs = sorted(rig.site.corpus.docs, key=lambda d: d.published)
    broken = docs[1].url_path
    page = loopback.routes[broken]
    loopback.route(broken, Response(503, b"busy"))
    outcome = await rig.poll()
    assert (outcome.new, outcome.retry) == (2, 1)
    assert rig.feed().body_hash is None  # the same body must be parsed again
    loopback.route(broken, page)
    outcome = await rig.poll()
    assert (outcome.status, outcome.new, outcome.retry) == ("ok", 1, 0)
    assert rig.count(SeenEntry) == 2
    assert rig.count(ArticleRow) == 2
