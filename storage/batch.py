"""Writing a batch of decided articles in ONE transaction: :func:`write_articles`.

A poll brings several new articles at once; writing each in a transaction of its own paid a
commit (an fsync on PostgreSQL, a WAL append and lock round on SQLite) and a dozen single-row
statements per article. Here each table gets one executemany per batch: stories, articles,
story updates, matches, outbox alerts, seen entries and events, in that order (later rows name
the ids earlier ones were given). The statements are built once, at import; SQLAlchemy's
compiled cache then reuses their compiled form. The inserts whose ids are needed go as
multi-row ``INSERT … VALUES … RETURNING`` (``insertmanyvalues``, ids in parameter order), the
rest as the driver's executemany (psycopg pipelines it in one round trip and prepares the
statement on the server after a few runs).

Full-text indexing stays in the same transaction (SQLite's FTS5 triggers, PostgreSQL's GIN
expression index): an article is searchable the moment it is stored, and nothing has to track
which rows are indexed yet. Measured, ``python -m benchmarks --only storage --quick`` (2 shared
cores, load average ~3.3, batches of 20):

==========================================  ============  ==========
articles/s                                  SQLite (WAL)  PostgreSQL
==========================================  ============  ==========
one transaction per article (before)                 376         206
batches, full-text in the same transaction         1,247         656
batches, no full-text index at all                 4,986       1,655
batches, full-text as a follow-up step             2,226         n/a
==========================================  ============  ==========

Indexing is most of a batch's cost (~0.6 ms an article on SQLite, ~0.9 ms on PostgreSQL),
but the batches with it clear the targets (≥ 600 and ≥ 300 articles/s) twice over. A
follow-up step would gain on SQLite only by indexing many batches per transaction (FTS5
writes a segment per commit), i.e. by letting search lag behind the store; it needs a
watermark and guarded delete/update triggers (an FTS5 external-content 'delete' of a row never
indexed corrupts the index) and a migration. On PostgreSQL the expression index cannot be
deferred at all without a stored ``tsvector`` column, whose follow-up would do the same
``to_tsvector`` work. The write runs in the storage gate's threads, never on the loop, so the
longer transaction stalls nothing.

The decision of every article is made before the write (``monitor.daemon.story``); an article
that joins a story opened earlier in the same batch names that intent's position
(``ArticleIntent.batch_story``), as its id does not exist yet. Any failure (a unique key stored
by another worker meanwhile) rolls the whole batch back: the caller then writes the articles
one by one, so none is lost and none written twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from storage.repo import ArticleIntent, StoredArticle, alert_row
from storage.tables import AlertRow, ArticleRow, Event, MatchRow, SeenEntry, Story

_STORIES: Table = Story.__table__  # type: ignore[attr-defined]
_ARTICLES: Table = ArticleRow.__table__  # type: ignore[attr-defined]
_MATCHES: Table = MatchRow.__table__  # type: ignore[attr-defined]
_ALERTS: Table = AlertRow.__table__  # type: ignore[attr-defined]
_SEEN: Table = SeenEntry.__table__  # type: ignore[attr-defined]
_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]

# Built once: the compiled form is cached per engine and reused by every batch.
_INSERT_STORIES = sa_insert(_STORIES).returning(_STORIES.c.id, sort_by_parameter_order=True)
_INSERT_ARTICLES = sa_insert(_ARTICLES).returning(_ARTICLES.c.id, sort_by_parameter_order=True)
_INSERT_MATCHES = sa_insert(_MATCHES)
_INSERT_ALERTS = sa_insert(_ALERTS)
_INSERT_SEEN = sa_insert(_SEEN)
_INSERT_EVENTS = sa_insert(_EVENTS)
_SET_FIRST_ARTICLE = (
    sa_update(_STORIES)
    .where(_STORIES.c.id == bindparam("b_story"))
    .values(first_article_id=bindparam("b_article"))
)
_SET_UPDATED = (
    sa_update(_STORIES)
    .where(_STORIES.c.id == bindparam("b_story"))
    .values(updated_at=bindparam("b_at"))
)


def write_articles(session: Session, intents: Sequence[ArticleIntent]) -> list[StoredArticle]:
    """Write every intent in the caller's transaction; one :class:`StoredArticle` each, in
    order. Raises (``DuplicateError`` and the rest, at the session's boundary) without writing
    anything the caller's rollback would keep."""
    if not intents:
        return []
    conn = session.connection()
    story_ids = _stories(conn, intents)
    article_ids = _articles(conn, intents, story_ids)
    _story_updates(conn, intents, story_ids, article_ids)
    _children(conn, intents, story_ids, article_ids)
    sources = _sources(conn, intents, story_ids, article_ids)
    stored = [
        StoredArticle(a, s, src) for a, s, src in zip(article_ids, story_ids, sources, strict=True)
    ]
    events = [
        {
            "type": event.type,
            "payload": event.payload(done),
            "created_at": intent.article.seen_at,
        }
        for intent, done in zip(intents, stored, strict=True)
        for event in intent.events
    ]
    if events:
        conn.execute(_INSERT_EVENTS, events)
    return stored


def _stories(conn: Connection, intents: Sequence[ArticleIntent]) -> list[int]:
    """Open the batch's new stories; every intent's story id, in order."""
    opening = [i for i, it in enumerate(intents) if it.story_id is None and it.batch_story is None]
    opened: dict[int, int] = {}
    if opening:
        rows = conn.execute(
            _INSERT_STORIES,
            [
                {
                    "title": intents[i].article.title,
                    "first_article_id": None,
                    "created_at": intents[i].article.seen_at,
                    "updated_at": intents[i].article.seen_at,
                }
                for i in opening
            ],
        )
        opened = dict(zip(opening, (int(r[0]) for r in rows), strict=True))
    out: list[int] = []
    for i, it in enumerate(intents):
        if it.story_id is not None:
            out.append(it.story_id)
        elif it.batch_story is None:
            out.append(opened[i])
        elif 0 <= it.batch_story < i:
            out.append(out[it.batch_story])
        else:
            raise ValueError(f"intent {i} joins the story of intent {it.batch_story}, not earlier")
    return out


def _articles(
    conn: Connection, intents: Sequence[ArticleIntent], story_ids: Sequence[int]
) -> list[int]:
    rows = conn.execute(
        _INSERT_ARTICLES,
        [
            {
                "canonical_url": a.canonical_url,
                "url": a.url,
                "source": a.source,
                "feed_id": a.feed_id,
                "title": a.title,
                "body": a.body,
                "body_hash": a.body_hash,
                "signature": a.signature,
                "published_at": a.published_at,
                "seen_at": a.seen_at,
                "story_id": story_id,
                "duplicate_kind": a.duplicate_kind,
            }
            for a, story_id in ((it.article, s) for it, s in zip(intents, story_ids, strict=True))
        ],
    )
    return [int(r[0]) for r in rows]


def _story_updates(
    conn: Connection,
    intents: Sequence[ArticleIntent],
    story_ids: Sequence[int],
    article_ids: Sequence[int],
) -> None:
    """A new story's first article; a joined story's ``updated_at`` (its newest copy's)."""
    first: list[dict[str, Any]] = []
    joined: dict[int, datetime] = {}
    for it, story_id, article_id in zip(intents, story_ids, article_ids, strict=True):
        if it.story_id is None and it.batch_story is None:
            first.append({"b_story": story_id, "b_article": article_id})
        else:
            at = it.article.seen_at
            joined[story_id] = max(at, joined.get(story_id, at))
    if first:
        conn.execute(_SET_FIRST_ARTICLE, first)
    if joined:
        conn.execute(_SET_UPDATED, [{"b_story": s, "b_at": at} for s, at in joined.items()])


def _children(
    conn: Connection,
    intents: Sequence[ArticleIntent],
    story_ids: Sequence[int],
    article_ids: Sequence[int],
) -> None:
    """Matches, outbox alerts and seen entries of every article."""
    matches: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    for it, story_id, article_id in zip(intents, story_ids, article_ids, strict=True):
        at = it.article.seen_at
        # NewMatch's fields are the matches table's columns.
        matches.extend({"article_id": article_id, **asdict(m)} for m in it.matches)
        alerts.extend(alert_row(a, story_id, article_id, at) for a in it.alerts)
        if it.seen is not None:
            seen.append(
                {
                    "feed_id": it.seen.feed_id,
                    "entry_id": it.seen.entry_id,
                    "link": it.seen.link,
                    "first_seen_at": at,
                }
            )
    for statement, rows in ((_INSERT_MATCHES, matches), (_INSERT_ALERTS, alerts)):
        if rows:
            conn.execute(statement, rows)
    if seen:
        conn.execute(_INSERT_SEEN, seen)


def _sources(
    conn: Connection,
    intents: Sequence[ArticleIntent],
    story_ids: Sequence[int],
    article_ids: Sequence[int],
) -> list[tuple[str, ...]]:
    """Every outlet of each article's story, earliest first, as of that article: what
    :func:`storage.repo.write_article` would have said had the batch been written one by one."""
    joined = sorted({s for it, s in zip(intents, story_ids, strict=True) if _joins(it)})
    rows: list[tuple[int, int, str]] = []
    if joined:
        query = (
            sa_select(_ARTICLES.c.story_id, _ARTICLES.c.id, _ARTICLES.c.source)
            .where(_ARTICLES.c.story_id.in_(joined))
            .order_by(_ARTICLES.c.seen_at, _ARTICLES.c.id)
        )
        rows = [(int(r[0]), int(r[1]), str(r[2] or "")) for r in conn.execute(query)]
    position = {article_id: i for i, article_id in enumerate(article_ids)}
    out: list[tuple[str, ...]] = []
    for i, (it, story_id) in enumerate(zip(intents, story_ids, strict=True)):
        if not _joins(it):  # a new story has one outlet: this article's
            out.append((it.article.source,) if it.article.source else ())
            continue
        names: list[str] = []
        for s, article_id, source in rows:
            earlier = position.get(article_id, -1) <= i  # stored before, or earlier in batch
            if s == story_id and earlier and source and source not in names:
                names.append(source)
        out.append(tuple(names))
    return out


def _joins(intent: ArticleIntent) -> bool:
    return intent.story_id is not None or intent.batch_story is not None
