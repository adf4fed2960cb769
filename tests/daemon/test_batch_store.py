"""Articles ready while a write is under way go in the next batch, one transaction: the story
decision inside a batch sees the batch's earlier articles, and a batch refused by the database
is written article by article, losing and duplicating nothing. On SQLite and on PostgreSQL,
through the real pipeline against pages served on 127.0.0.1.

The writer is held up the way a busy database holds it: another connection owns SQLite's write
lock (on PostgreSQL, the story-decision lock every batch takes first) while the test queues
articles behind the first one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from monitor.config import load_settings
from monitor.daemon.runtime import Runtime, open_runtime
from monitor.dedup import canonicalize_url
from monitor.demo.sitebuilder import load_corpus, render_page
from monitor.models import FeedEntry
from monitor.paths import default_seeds_dir
from storage import repo
from storage.engine import Transaction, make_engine, session_scope
from storage.locks import serialise_story_decisions
from storage.tables import AlertRow, ArticleRow
from tests.daemon.test_stories import _other_portal_page, _portal_names
from tests.factories import await_until
from tests.loopback import LoopbackServer, Response, serve

CORPUS = load_corpus(default_seeds_dir())
SEED = next(d for d in CORPUS.docs if d.path.name.startswith("002"))  # Stoltenberg -> Rutte
OTHERS = [d for d in CORPUS.docs if d is not SEED]
HTML = {"content-type": "text/html"}


@pytest.fixture
def db(db_url: str) -> str:
    return db_url


@pytest.fixture
async def two_portals() -> AsyncIterator[tuple[LoopbackServer, LoopbackServer]]:
    with serve() as a, serve() as b:
        yield a, b


def _entry(url: str) -> FeedEntry:
    return FeedEntry(entry_id=url, link=url, title="", published=SEED.published)


async def _runtime(stack: AsyncExitStack, db: str, a: LoopbackServer, b: LoopbackServer) -> Runtime:
    settings = load_settings(None, env={}, overrides={"database": {"url": db}})
    return await open_runtime(settings, stack, allow_private=True, public_url=_portal_names(a, b))


@contextmanager
def writer_held(db: str) -> Iterator[Transaction]:
    """Another connection's open write transaction, committed on leaving."""
    engine = make_engine(db)
    try:
        with session_scope(engine) as session:
            serialise_story_decisions(session)  # PostgreSQL: every batch takes it first
            repo.get_or_create_feed(session, "https://held.example/rss")  # SQLite: write lock
            yield session
    finally:
        engine.dispose()


def _serve(server: LoopbackServer, doc_index: int) -> str:
    doc = OTHERS[doc_index]
    page = render_page(doc, CORPUS, lambda p: server.url(p)).encode()
    server.route(doc.url_path, Response(200, page, HTML))
    return server.url(doc.url_path)


def _rows(db: str) -> tuple[list[ArticleRow], list[AlertRow]]:
    engine = make_engine(db)
    with session_scope(engine) as session:
        articles = list(session.exec(select(ArticleRow).order_by(col(ArticleRow.id))).all())
        alerts = list(session.exec(select(AlertRow).order_by(col(AlertRow.id))).all())
    engine.dispose()
    return articles, alerts


async def test_a_copy_in_the_same_batch_as_its_original_joins_its_story(
    db: str, two_portals: tuple[LoopbackServer, LoopbackServer]
) -> None:
    a, b = two_portals
    first_url = _serve(a, 0)
    a.route(SEED.url_path, Response(200, render_page(SEED, CORPUS, a.url).encode(), HTML))
    copy = _other_portal_page("Rutte Resmi Gantikan Stoltenberg", list(SEED.body_paragraphs))
    b.route("/dunia/rutte", Response(200, copy, HTML))
    async with AsyncExitStack() as stack:
        rt = await _runtime(stack, db, a, b)
        pipe = rt.pipeline
        with writer_held(db):
            first = asyncio.create_task(pipe.process_entry(_entry(first_url), feed_id=None))
            await await_until(lambda: pipe.writing == 1, "the first batch waiting to write")
            original = asyncio.create_task(
                pipe.process_entry(_entry(a.url(SEED.url_path)), feed_id=None)
            )
            await await_until(lambda: pipe.queued == 1, "the original queued")
            syndicated = asyncio.create_task(
                pipe.process_entry(_entry(b.url("/dunia/rutte")), feed_id=None)
            )
            await await_until(lambda: pipe.queued == 2, "original and copy in the next batch")
        done = await asyncio.gather(first, original, syndicated)
    assert [o.status for o in done] == ["stored", "stored", "duplicate"], done
    assert done[2].duplicate_kind in ("exact", "near")
    assert done[2].story_id == done[1].story_id != done[0].story_id
    assert not done[2].alerted
    articles, alerts = _rows(db)
    assert [r.story_id for r in articles] == [o.story_id for o in done]
    assert len(alerts) == 2  # one per story: the copy does not alert again


async def test_a_batch_refused_for_a_url_stored_meanwhile_loses_and_duplicates_nothing(
    db: str, two_portals: tuple[LoopbackServer, LoopbackServer]
) -> None:
    a, b = two_portals
    first_url = _serve(a, 0)
    urls = [_serve(a, i) for i in (1, 2, 3)]
    taken = canonicalize_url(_portal_names(a, b)(urls[1]))
    async with AsyncExitStack() as stack:
        rt = await _runtime(stack, db, a, b)
        pipe = rt.pipeline
        with writer_held(db) as other_worker:
            first = asyncio.create_task(pipe.process_entry(_entry(first_url), feed_id=None))
            await await_until(lambda: pipe.writing == 1, "the first batch waiting to write")
            tasks = []
            for n, url in enumerate(urls, start=1):
                tasks.append(asyncio.create_task(pipe.process_entry(_entry(url), feed_id=None)))
                await await_until(lambda n=n: pipe.queued == n, f"article {n} queued")
            # Another worker stores the middle article's URL before the batch is written.
            now = datetime.now(UTC)
            article = repo.NewArticle(taken, taken, "other", "t", "b", "h", None, now, now)
            repo.write_article(other_worker, repo.ArticleIntent(article, (), None))
        done = await asyncio.gather(first, *tasks)
    assert [o.status for o in done] == ["stored", "stored", "duplicate", "stored"], done
    articles, alerts = _rows(db)
    canonical = [r.canonical_url for r in articles]
    assert len(canonical) == len(set(canonical)) == 4
    assert {o.canonical_url for o in done} == set(canonical)
    assert {r.article_id for r in alerts} == {
        done[0].article_id,
        done[1].article_id,
        done[3].article_id,
    }


async def test_a_copy_naming_a_new_actor_in_its_originals_batch_raises_one_follow_up(
    db: str, two_portals: tuple[LoopbackServer, LoopbackServer]
) -> None:
    a, b = two_portals
    first_url = _serve(a, 0)
    a.route(SEED.url_path, Response(200, render_page(SEED, CORPUS, a.url).encode(), HTML))
    added = (
        "Menteri Luar Negeri Rusia Sergei Lavrov menanggapi pergantian itu dengan menyebut "
        "bahwa Moskow tidak mengharapkan perubahan sikap NATO terhadap Ukraina di bawah Rutte."
    )
    page = _other_portal_page("Rutte Pimpin NATO, Lavrov Bereaksi", [*SEED.body_paragraphs, added])
    b.route("/updated", Response(200, page, HTML))
    b.route("/updated-again", Response(200, page, HTML))
    urls = [a.url(SEED.url_path), b.url("/updated"), b.url("/updated-again")]
    async with AsyncExitStack() as stack:
        rt = await _runtime(stack, db, a, b)
        pipe = rt.pipeline
        with writer_held(db):
            first = asyncio.create_task(pipe.process_entry(_entry(first_url), feed_id=None))
            await await_until(lambda: pipe.writing == 1, "the first batch waiting to write")
            tasks = []
            for n, url in enumerate(urls, start=1):
                tasks.append(asyncio.create_task(pipe.process_entry(_entry(url), feed_id=None)))
                await await_until(lambda n=n: pipe.queued == n, f"article {n} queued")
        _, original, update, again = await asyncio.gather(first, *tasks)
    assert update.story_id == again.story_id == original.story_id
    assert update.follow_up and not again.alerted
    _, alerts = _rows(db)
    story_alerts = [r for r in alerts if r.story_id == original.story_id]
    assert [r.kind for r in story_alerts] == ["alert", "follow_up"]
    assert "Sergei Lavrov" in json.loads(story_alerts[1].payload)["follow_up"]
