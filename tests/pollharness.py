"""The daemon's moving parts for one feed on a loopback server: poller + pipeline + SQLite file.

``open_daemon`` wires the real Poller, Pipeline, Fetcher and storage the way
``monitor.daemon.service``
does, for tests that need to poll one feed on demand and look at what was stored. Article pages
live on 127.0.0.1, which the private-address guard refuses; ``SiteFetcher`` is the real Fetcher
trusting that one loopback origin (as ``pantau replay`` trusts its own site), so every other host
(169.254.169.254, 10.0.0.5, ``localhost``) still goes through the guard.

``DbFaults`` injects database faults through SQLite itself: a short busy timeout (so a lock held
by another connection fails fast) and ``max_page_count`` (SQLITE_FULL, as on a full disk).
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from monitor.alert.rules import AlertRule
from monitor.config import Settings
from monitor.daemon.pipeline import Pipeline, PipelineOptions
from monitor.daemon.poller import Poller, PollOutcome
from monitor.daemon.runtime import dedup_config, fetch_policy, open_engine
from monitor.daemon.workers import WorkerPool
from monitor.fetch.client import Fetcher, FetchPolicy
from monitor.match.matcher import Matcher
from monitor.models import FetchResult
from storage import feed_state, repo
from storage.engine import session_scope
from storage.tables import AlertRow, ArticleRow, Feed, MatchRow, SeenEntry, Story
from tests import factories
from tests.fakenews import FakeArticle
from tests.loopback import LoopbackServer, Response

CAP = 256 * 1024
DEADLINE = 2.0
OWNER = "harness"


def settings_for(db: Path, **extra: Any) -> Settings:
    fetch = {"max_bytes": CAP, "total_timeout": DEADLINE, "read_timeout": DEADLINE}
    return factories.settings(db, **factories.merge({"fetch": fetch}, extra))


class SiteFetcher(Fetcher):
    """The real Fetcher; URLs under ``site`` are trusted (the test's own loopback site)."""

    def __init__(self, policy: FetchPolicy, *, site: str) -> None:
        super().__init__(policy)
        self.site = site.rstrip("/") + "/"

    async def fetch(self, url: str, **kwargs: Any) -> FetchResult:
        if url.startswith(self.site):
            kwargs["trusted"] = True
        return await super().fetch(url, **kwargs)


@dataclass
class DbFaults:
    """SQLite settings applied to every new connection of the engine (see ``apply``)."""

    busy_timeout_ms: int | None = None
    max_page_count: int | None = None

    def on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if self.busy_timeout_ms is not None:
            cur.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        if self.max_page_count is not None:
            cur.execute(f"PRAGMA max_page_count={self.max_page_count}")
        cur.close()


@dataclass
class Harness:
    engine: Engine
    pipeline: Pipeline
    poller: Poller
    feed_url: str
    faults: DbFaults

    def apply_faults(self, **changes: Any) -> None:
        """Change the injected faults; pooled connections are dropped so they take effect."""
        for key, value in changes.items():
            setattr(self.faults, key, value)
        self.engine.dispose()

    async def poll(self, *, hours_later: float = 0.0) -> PollOutcome:
        """Claim the feed (as the scheduler does once it is due) and poll it once."""
        when = datetime.now(UTC) + timedelta(hours=hours_later)
        with session_scope(self.engine) as session:
            feeds = feed_state.claim_due_feeds(session, OWNER, when, 10, 600)
        assert [f.url for f in feeds] == [self.feed_url]
        return await self.poller.poll(feeds[0])

    def feed_id(self) -> int:
        feed = self.feed()
        assert feed.id is not None
        return feed.id

    def articles(self) -> dict[str, ArticleRow]:
        """Stored articles by the link their feed entry had (identity is the canonical URL)."""
        with session_scope(self.engine) as session:
            return {r.url: r for r in session.exec(select(ArticleRow)).all()}

    def alerts(self) -> list[AlertRow]:
        with session_scope(self.engine) as session:
            return list(session.exec(select(AlertRow)).all())

    def counts(self) -> dict[str, int]:
        with session_scope(self.engine) as session:
            return {
                name: len(session.exec(select(table)).all())
                for name, table in (
                    ("stories", Story),
                    ("articles", ArticleRow),
                    ("matches", MatchRow),
                    ("alerts", AlertRow),
                )
            }

    def seen_links(self) -> set[str]:
        with session_scope(self.engine) as session:
            return {s.link for s in session.exec(select(SeenEntry)).all()}

    def feed(self) -> Feed:
        with session_scope(self.engine) as session:
            feed = feed_state.feed_by_url(session, self.feed_url)
            assert feed is not None
            return feed


@asynccontextmanager
async def open_daemon(
    db: Path,
    loopback: LoopbackServer,
    matcher: Matcher,
    *,
    faults: DbFaults | None = None,
    workers: WorkerPool | None = None,
    options: PipelineOptions = PipelineOptions(),
) -> AsyncIterator[Harness]:
    """``workers``: run the pure stages in these worker processes (else in-process)."""
    settings = settings_for(db)
    engine = open_engine(settings)
    faults = faults or DbFaults()
    event.listen(engine, "connect", faults.on_connect)
    engine.dispose()  # connections opened by the migration did not get the listener
    feed_url = loopback.url("/rss.xml")
    with session_scope(engine) as session:
        repo.get_or_create_feed(session, feed_url, name="test feed")
    try:
        async with SiteFetcher(fetch_policy(settings), site=loopback.url("/")) as fetcher:
            pipeline = Pipeline(
                engine=engine,
                fetcher=fetcher,
                matcher=matcher,
                dedup=Pipeline.load_dedup(engine, dedup_config(settings), datetime.now(UTC)),
                rules=[AlertRule.from_settings(r) for r in settings.alerts.rules],
                workers=workers,
                options=options,
            )
            schedule = settings.schedule.model_copy(update={"alert_on_first_poll": True})
            poller = Poller(
                engine=engine, fetcher=fetcher, processor=pipeline, schedule=schedule, owner=OWNER
            )
            yield Harness(engine, pipeline, poller, feed_url, faults)
    finally:
        engine.dispose()


def rss(items: list[tuple[str, str]], *, guids: list[str] | None = None) -> bytes:
    """An RSS 2.0 feed of (title, link) items; guids default to the links."""
    parts = []
    for i, (title, link) in enumerate(items):
        guid = guids[i] if guids else link
        parts.append(
            f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>"
            f'<guid isPermaLink="false">{html.escape(guid)}</guid>'
            "<pubDate>Sen, 10 Nov 2025 08:00:00 +0700</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Uji</title><link>http://example.invalid/</link>{''.join(parts)}</channel></rss>"
    ).encode()


def serve_feed(loopback: LoopbackServer, body: bytes) -> None:
    loopback.route("/rss.xml", Response(body=body, headers={"content-type": "application/rss+xml"}))


def serve_article(loopback: LoopbackServer, path: str, article: FakeArticle) -> str:
    loopback.route(
        path,
        Response(
            body=article.html().encode("utf-8"),
            headers={"content-type": "text/html; charset=utf-8"},
        ),
    )
    return loopback.url(path)
