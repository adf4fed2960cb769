"""Retention: drop old article bodies, keep what analysts query (metadata, matches, alerts).

A pruned article keeps its title, URL, dates, hashes and MinHash signature, so it still
deduplicates new copies, still appears in exports and is still found by its title.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, text, update
from sqlmodel import Session, SQLModel, col, select

from storage.tables import AlertRow, ArticleRow, Event, Feed, FeedEvent, MatchRow, SeenEntry, Story

_COUNTED: tuple[type[SQLModel], ...] = (
    Feed,
    SeenEntry,
    Story,
    ArticleRow,
    MatchRow,
    AlertRow,
    FeedEvent,
    Event,
)


def prune_bodies(session: Session, older_than: datetime) -> int:
    """Set the body of every article first seen before ``older_than`` to NULL; returns how many.

    The search index follows (a trigger on SQLite, the expression index on PostgreSQL).
    """
    result = session.connection().execute(
        update(ArticleRow)
        .where(col(ArticleRow.seen_at) < older_than, col(ArticleRow.body).is_not(None))
        .values(body=None)
    )
    return int(result.rowcount)


def _database_bytes(session: Session) -> int | None:
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    if conn.dialect.name == "sqlite":
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
        size = conn.execute(text("PRAGMA page_size")).scalar_one()
        return int(pages) * int(size)
    return None


def stats(session: Session) -> dict[str, Any]:
    """Row counts per table, bodies still stored, database size and the article time span."""
    counts = {
        str(model.__tablename__): int(session.exec(select(func.count()).select_from(model)).one())
        for model in _COUNTED
    }
    with_body = session.exec(
        select(func.count()).select_from(ArticleRow).where(col(ArticleRow.body).is_not(None))
    ).one()
    oldest, newest = session.exec(
        select(func.min(ArticleRow.seen_at), func.max(ArticleRow.seen_at))
    ).one()
    oldest_pub, newest_pub = session.exec(
        select(func.min(ArticleRow.published_at), func.max(ArticleRow.published_at))
    ).one()
    return {
        "backend": session.connection().dialect.name,
        "tables": counts,
        "articles_with_body": int(with_body),
        "database_bytes": _database_bytes(session),
        "oldest_article_seen_at": oldest,
        "newest_article_seen_at": newest,
        "oldest_article_published_at": oldest_pub,
        "newest_article_published_at": newest_pub,
    }
