"""Query functions. Each takes an open Session; the caller owns the transaction.

Storing an article is decided before it is written: the caller builds an
:class:`ArticleIntent` (article, matches, story, alerts, events) and :func:`write_article`
writes all of it in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, SQLModel, col, select

from storage.tables import AlertRow, ArticleRow, Event, Feed, MatchRow, SeenEntry, Story
from storage.types import utcnow


@dataclass(frozen=True)
class NewMatch:
    kind: str
    name: str
    via: str
    term: str
    start: int
    end: int
    snippet: str
    score: float = 0.0
    substantive: bool = False
    count: int = 1


@dataclass(frozen=True)
class NewAlert:
    rule: str
    channel: str
    payload: str
    kind: str = "alert"
    key_suffix: str = ""


def alert_row(alert: NewAlert, story_id: int, article_id: int, at: datetime) -> dict[str, Any]:
    """The alerts table's row for a new pending alert (one shape for single and batch writes)."""
    return {
        "idempotency_key": f"{story_id}:{alert.rule}:{alert.channel}{alert.key_suffix}",
        "story_id": story_id,
        "article_id": article_id,
        "rule": alert.rule,
        "channel": alert.channel,
        "kind": alert.kind,
        "status": "pending",
        "attempts": 0,
        "payload": alert.payload,
        "created_at": at,
        "next_attempt_at": at,
        "last_error": None,
        "sent_at": None,
    }


@dataclass(frozen=True)
class NewArticle:
    canonical_url: str
    url: str
    source: str
    title: str
    body: str
    body_hash: str
    signature: bytes | None
    published_at: datetime | None
    seen_at: datetime
    feed_id: int | None = None
    duplicate_kind: str | None = None


@dataclass(frozen=True)
class NewSeenEntry:
    """The feed entry an article came from, marked seen when the article is stored."""

    feed_id: int
    entry_id: str
    link: str


@dataclass(frozen=True)
class StoredArticle:
    """What the database gave a written article: its ids, and its story's outlets."""

    article_id: int
    story_id: int
    story_sources: tuple[str, ...]  # every outlet of the story, earliest first


class PendingEvent(Protocol):
    """An event about an article, whose payload names ids known only once it is written."""

    @property
    def type(self) -> str: ...

    def payload(self, stored: StoredArticle) -> str: ...


@dataclass(frozen=True)
class ArticleIntent:
    """Everything storing one article writes, decided before the write: the article and its
    matches, the story it opens or joins, its outbox alerts and its events."""

    article: NewArticle
    matches: tuple[NewMatch, ...]
    story_id: int | None  # the story the article joins; None: it opens a new one
    alerts: tuple[NewAlert, ...] = ()
    events: tuple[PendingEvent, ...] = ()
    seen: NewSeenEntry | None = None
    # In a batch (storage.batch.write_articles): joins the story of the batch's intent at this
    # position, written earlier in the same transaction (its id is not known yet).
    batch_story: int | None = None

    @property
    def follow_up(self) -> bool:
        """A copy that alerts again (it names news its story did not have)."""
        return any(a.kind == "follow_up" for a in self.alerts)


# --- feeds -------------------------------------------------------------------------------


def get_or_create_feed(session: Session, url: str, *, name: str = "", source: str = "") -> Feed:
    feed = session.exec(select(Feed).where(Feed.url == url)).first()
    if feed is None:
        feed = Feed(url=url, name=name or url, source=source)
        session.add(feed)
        session.flush()
    return feed


def list_feeds(session: Session) -> Sequence[Feed]:
    return session.exec(select(Feed).order_by(col(Feed.id))).all()


def unseen_entry_ids(session: Session, feed_id: int, entry_ids: Iterable[str]) -> set[str]:
    ids = set(entry_ids)
    if not ids:
        return set()
    seen: set[str] = set()
    id_list = list(ids)
    for i in range(0, len(id_list), 500):
        chunk = id_list[i : i + 500]
        rows = session.exec(
            select(SeenEntry.entry_id).where(
                SeenEntry.feed_id == feed_id, col(SeenEntry.entry_id).in_(chunk)
            )
        ).all()
        seen.update(rows)
    return ids - seen


def mark_entry_seen(session: Session, feed_id: int, entry_id: str, link: str) -> None:
    session.add(SeenEntry(feed_id=feed_id, entry_id=entry_id, link=link))


# --- articles and stories -------------------------------------------------------------------


def article_id_by_url(session: Session, canonical_url: str) -> int | None:
    return session.exec(
        select(ArticleRow.id).where(ArticleRow.canonical_url == canonical_url)
    ).first()


def save_article(
    session: Session,
    article: NewArticle,
    matches: Sequence[NewMatch],
    *,
    story_id: int | None,
    alerts: Sequence[NewAlert] = (),
) -> tuple[int, int]:
    """Store an article, its matches and its outbox alerts; returns (article_id, story_id).

    With ``story_id`` None a new story is opened with this article as its first. Core inserts
    (no ORM unit of work): this is the hot path of every stored article.
    """
    at = article.seen_at
    if story_id is None:
        story_id = _insert_id(
            session, Story, {"title": article.title, "created_at": at, "updated_at": at}
        )
        new_story = True
    else:
        new_story = False
    article_id = _insert_id(
        session,
        ArticleRow,
        {
            "canonical_url": article.canonical_url,
            "url": article.url,
            "source": article.source,
            "feed_id": article.feed_id,
            "title": article.title,
            "body": article.body,
            "body_hash": article.body_hash,
            "signature": article.signature,
            "published_at": article.published_at,
            "seen_at": at,
            "story_id": story_id,
            "duplicate_kind": article.duplicate_kind,
        },
    )
    story_values = {"first_article_id": article_id} if new_story else {"updated_at": at}
    session.execute(sa_update(Story).where(col(Story.id) == story_id).values(**story_values))
    if matches:
        session.execute(
            sa_insert(MatchRow),
            # NewMatch's fields are the matches table's columns.
            [{"article_id": article_id, **asdict(m)} for m in matches],
        )
    if alerts:
        session.execute(
            sa_insert(AlertRow),
            [alert_row(a, story_id, article_id, at) for a in alerts],
        )
    return article_id, story_id


def write_article(session: Session, intent: ArticleIntent) -> StoredArticle:
    """Write what :class:`ArticleIntent` says, events last (their payloads name the new ids)."""
    if intent.batch_story is not None:
        raise ValueError("an intent joining a story of its batch is written by write_articles")
    article = intent.article
    article_id, story_id = save_article(
        session, article, intent.matches, story_id=intent.story_id, alerts=intent.alerts
    )
    if intent.seen is not None:
        mark_entry_seen(session, intent.seen.feed_id, intent.seen.entry_id, intent.seen.link)
    sources: tuple[str, ...]
    if intent.story_id is None:  # a new story has one outlet: this article's
        sources = (article.source,) if article.source else ()
    else:
        sources = tuple(story_sources(session, story_id))
    stored = StoredArticle(article_id, story_id, sources)
    for event in intent.events:
        append_event(session, event.type, event.payload(stored), article.seen_at)
    return stored


def _insert_id(session: Session, table: type[SQLModel], values: dict[str, Any]) -> int:
    """INSERT one row and return its primary key (RETURNING on both backends)."""
    result = session.execute(sa_insert(table).values(**values).returning(table.id))  # type: ignore[attr-defined]
    return int(result.scalar_one())


def story_sources(session: Session, story_id: int) -> list[str]:
    rows = session.exec(
        select(ArticleRow.source)
        .where(ArticleRow.story_id == story_id)
        .order_by(col(ArticleRow.seen_at))
    ).all()
    out: list[str] = []
    for s in rows:
        if s and s not in out:
            out.append(s)
    return out


def matches_for(session: Session, article_id: int) -> Sequence[MatchRow]:
    return session.exec(
        select(MatchRow).where(MatchRow.article_id == article_id).order_by(col(MatchRow.id))
    ).all()


def count_rows(session: Session, table: type[ArticleRow | Story | AlertRow | Feed]) -> int:
    return int(session.exec(select(func.count()).select_from(table)).one())


# --- alerts outbox ----------------------------------------------------------------------------


def due_alerts(
    session: Session, now: datetime, *, limit: int = 100, channel: str | None = None
) -> Sequence[AlertRow]:
    query = select(AlertRow).where(AlertRow.status == "pending", AlertRow.next_attempt_at <= now)
    if channel is not None:
        query = query.where(AlertRow.channel == channel)
    return session.exec(query.order_by(col(AlertRow.id)).limit(limit)).all()


# --- events -----------------------------------------------------------------------------------


def append_event(session: Session, type_: str, payload: str, at: datetime | None = None) -> None:
    session.add(Event(type=type_, payload=payload, created_at=at or utcnow()))


def story_actor_names(session: Session, story_id: int) -> set[str]:
    """Actors already matched in any article of a story (for follow-up decisions)."""
    rows = session.exec(
        select(MatchRow.name)
        .join(ArticleRow, col(ArticleRow.id) == col(MatchRow.article_id))
        .where(ArticleRow.story_id == story_id, MatchRow.kind == "actor")
    ).all()
    return set(rows)


def story_first_body(session: Session, story_id: int) -> str:
    story = session.get(Story, story_id)
    if story is None or story.first_article_id is None:
        return ""
    first = session.get(ArticleRow, story.first_article_id)
    return (first.body or "") if first is not None else ""


@dataclass(frozen=True)
class IndexRow:
    id: int
    story_id: int
    canonical_url: str
    body_hash: str
    signature: bytes | None
    seen_at: datetime


def articles_after(
    session: Session, after_id: int, since: datetime, *, limit: int = 5000
) -> list[IndexRow]:
    """Identity columns of articles above ``after_id`` seen since ``since`` (dedup catch-up)."""
    table = ArticleRow.__table__.c  # type: ignore[attr-defined]
    query = (
        sa_select(
            table.id,
            table.story_id,
            table.canonical_url,
            table.body_hash,
            table.signature,
            table.seen_at,
        )
        .where(table.id > after_id, table.seen_at >= since)
        .order_by(table.id)
        .limit(limit)
    )
    return [
        IndexRow(int(r[0]), int(r[1] or 0), str(r[2]), str(r[3]), r[4], r[5])
        for r in session.execute(query)
    ]


INDEX_PAGE = 5000  # rows per query when (re)building the dedup index


def index_rows(session: Session, after_id: int, since: datetime) -> Iterator[IndexRow]:
    """Every article above ``after_id`` seen since ``since``, page by page."""
    while True:
        rows = articles_after(session, after_id, since, limit=INDEX_PAGE)
        yield from rows
        if len(rows) < INDEX_PAGE:
            return
        after_id = rows[-1].id
