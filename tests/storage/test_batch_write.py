"""A poll's articles written in one transaction (storage.batch), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from storage import batch, migrate, repo
from storage.engine import make_engine, session_scope
from storage.errors import DuplicateError
from storage.search import search
from storage.tables import AlertRow, ArticleRow, Event, SeenEntry, Story

SEEN = datetime(2025, 3, 1, 8, tzinfo=UTC)


@dataclass(frozen=True)
class SourcesEvent:
    """Records the outlets the write reported for the article's story."""

    @property
    def type(self) -> str:
        return "article.stored"

    def payload(self, stored: repo.StoredArticle) -> str:
        return json.dumps({"story_id": stored.story_id, "sources": stored.story_sources})


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _intent(
    n: int,
    *,
    source: str = "warta.example",
    story_id: int | None = None,
    batch_story: int | None = None,
    feed_id: int | None = None,
) -> repo.ArticleIntent:
    url = f"https://{source}/dunia/{n}"
    opens = story_id is None and batch_story is None
    return repo.ArticleIntent(
        article=repo.NewArticle(
            canonical_url=url,
            url=url,
            source=source,
            title=f"Rutte bertemu Zelensky {n}",
            body=f"Sekjen NATO Mark Rutte bertemu Zelensky di Kyiv, laporan nomor{n}.",
            body_hash=f"hash{n}",
            signature=None,
            published_at=SEEN,
            seen_at=SEEN + timedelta(seconds=n),
            feed_id=feed_id,
            duplicate_kind=None if opens else "near",
        ),
        matches=(repo.NewMatch("actor", "Mark Rutte", "name", "Rutte", 10, 15, "Rutte"),),
        story_id=story_id,
        alerts=(repo.NewAlert("default", "console", "{}"),) if opens else (),
        events=(SourcesEvent(),),
        seen=repo.NewSeenEntry(feed_id, f"entry-{n}", url) if feed_id is not None else None,
        batch_story=batch_story,
    )


def _count(engine: Engine, table: type[ArticleRow | Story | AlertRow | SeenEntry | Event]) -> int:
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_a_batch_stores_each_article_once_with_its_story_alerts_and_events(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        feed = repo.get_or_create_feed(session, "https://warta.example/rss")
        assert feed.id is not None
        earlier = repo.write_article(session, _intent(0, feed_id=feed.id))
    intents = [
        _intent(1, feed_id=feed.id),  # opens a story
        _intent(2, source="kabar.example", batch_story=0, feed_id=feed.id),  # copy of 1
        _intent(3, source="berita.example", story_id=earlier.story_id, feed_id=feed.id),
        _intent(4, source="kabar.example", batch_story=1, feed_id=feed.id),  # copy of 2's story
    ]
    with session_scope(engine) as session:
        stored = batch.write_articles(session, intents)

    assert len({s.article_id for s in stored}) == 4
    assert stored[1].story_id == stored[0].story_id == stored[3].story_id
    assert stored[2].story_id == earlier.story_id
    assert stored[1].story_sources == ("warta.example", "kabar.example")
    assert stored[2].story_sources == ("warta.example", "berita.example")
    assert _count(engine, ArticleRow) == 5
    assert _count(engine, Story) == 2
    assert _count(engine, AlertRow) == 2  # one per story opened
    assert _count(engine, SeenEntry) == 5
    assert _count(engine, Event) == 5
    with session_scope(engine) as session:
        story = session.get(Story, stored[0].story_id)
        assert story is not None
        assert story.first_article_id == stored[0].article_id
        assert story.updated_at == SEEN + timedelta(seconds=4)  # its newest copy's
        copy = session.get(ArticleRow, stored[1].article_id)
        assert copy is not None and copy.story_id == stored[0].story_id
        assert repo.unseen_entry_ids(session, feed.id, ["entry-1", "entry-4", "x"]) == {"x"}
        payloads = [
            json.loads(e.payload) for e in session.exec(select(Event).order_by(col(Event.id))).all()
        ]
        # Full-text rows are written in the same transaction: searchable at once.
        assert len(search(session, "laporan nomor3")) == 1
    assert payloads[-1] == {
        "story_id": stored[3].story_id,
        "sources": ["warta.example", "kabar.example"],
    }


def test_a_batch_holding_a_stored_url_writes_nothing(engine: Engine) -> None:
    with session_scope(engine) as session:
        repo.write_article(session, _intent(2))
    with pytest.raises(DuplicateError), session_scope(engine) as session:
        batch.write_articles(session, [_intent(1), _intent(2), _intent(3)])
    assert _count(engine, ArticleRow) == 1
    assert _count(engine, Story) == 1
    assert _count(engine, AlertRow) == 1


def test_an_intent_cannot_join_a_story_opened_later_in_its_batch(engine: Engine) -> None:
    with pytest.raises(ValueError, match="not earlier"), session_scope(engine) as session:
        batch.write_articles(session, [_intent(1, batch_story=1), _intent(2)])
    assert _count(engine, ArticleRow) == 0
