"""A poll the database fails is a failed poll, and its feed is freed as soon as the database
answers again (issue 21, break 4 and the last gap), on SQLite and PostgreSQL.

Another connection holds the locks every write of the poll needs (SQLite's write lock; on
PostgreSQL the story-decision lock and the feed's row), and the daemon's connections give up
after 200 ms. The poll's new entries cannot be stored, nor can the poll's own result: it used to
look like a healthy feed with zero failures while its entries failed on every poll, and its
feed waited out its lease (ten minutes or more). Now the poll counts as failed (with its
reason and back-off) and the feed is released the moment the database takes writes again; its
entries stay unseen and are stored by the next poll.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import func, select

from monitor.alert.rules import AlertRule
from monitor.daemon.pipeline import Pipeline
from monitor.daemon.poller import Poller
from monitor.daemon.runtime import dedup_config, fetch_policy, load_matcher, open_engine
from monitor.fetch import Fetcher
from storage import feed_state, repo
from storage.engine import session_scope
from storage.tables import ArticleRow, Feed, SeenEntry
from tests import factories
from tests.daemon.test_loop_never_waits import write_lock_held
from tests.fakenews import fake_article
from tests.loopback import LoopbackServer
from tests.pollharness import rss, serve_article, serve_feed

OWNER = "test-outage"


def _short_lock_waits(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    if type(dbapi_conn).__module__.startswith("sqlite3"):
        cur.execute("PRAGMA busy_timeout=200")
    else:
        cur.execute("SET lock_timeout = '200ms'")
    cur.close()


def _count(engine: Any, table: Any) -> int:
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def _feed(engine: Any) -> Feed:
    with session_scope(engine) as session:
        feed = session.exec(select(Feed)).one()
        session.expunge(feed)
        return feed


def _claim(engine: Any, when: datetime) -> Feed:
    with session_scope(engine) as session:
        (feed,) = feed_state.claim_due_feeds(
            session, owner=OWNER, now=when, limit=1, lease_seconds=600
        )
        return feed


async def test_a_poll_the_database_fails_counts_and_frees_its_feed_once_it_is_back(
    tmp_path: Path, loopback: LoopbackServer, db_url: str
) -> None:
    links = [serve_article(loopback, f"/artikel/{i}", fake_article(i)) for i in range(3)]
    serve_feed(loopback, rss([("Berita", link) for link in links]))
    settings = factories.settings(db_url, data_dir=str(tmp_path), schedule={"jitter": 0.0})
    engine = open_engine(settings)
    event.listen(engine, "connect", _short_lock_waits)
    engine.dispose()  # the migration's connections did not get the listener
    with session_scope(engine) as session:
        repo.get_or_create_feed(session, loopback.url("/rss.xml"), name="test feed")
    async with Fetcher(fetch_policy(settings, allow_private=True)) as fetcher:
        pipeline = Pipeline(
            engine=engine,
            fetcher=fetcher,
            matcher=load_matcher(settings),
            dedup=Pipeline.load_dedup(engine, dedup_config(settings), datetime.now(UTC)),
            rules=[AlertRule.from_settings(r) for r in settings.alerts.rules],
        )
        poller = Poller(
            engine=engine,
            fetcher=fetcher,
            processor=pipeline,
            schedule=settings.schedule,
            owner=OWNER,
        )
        feed = _claim(engine, datetime.now(UTC))
        with write_lock_held(db_url):
            outcome = await poller.poll(feed)
        assert outcome.status == "error"
        assert outcome.error is not None and "database trouble" in outcome.error
        assert not outcome.released  # the database could not take even the failure

        assert await poller.release_pending() == 1  # the database is back: freed at once
        after = _feed(engine)
        assert after.lease_owner is None
        assert after.consecutive_failures == 1
        assert after.last_error is not None and "database trouble" in after.last_error
        assert _count(engine, ArticleRow) == 0
        assert _count(engine, SeenEntry) == 0  # the entries stay unseen

        again = await poller.poll(_claim(engine, datetime.now(UTC) + timedelta(hours=1)))
        assert again.status == "ok"
        assert _count(engine, SeenEntry) == 3
        assert _feed(engine).consecutive_failures == 0
    engine.dispose()
