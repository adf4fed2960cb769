"""The database schema. Names follow the domain: a feed, an article, a story, a match, an alert."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _ts(*, index: bool = False, nullable: bool = True) -> Column[datetime]:
    return Column(UTCDateTime(), index=index, nullable=nullable)


class Feed(SQLModel, table=True):
    __tablename__ = "feeds"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column_kwargs={"unique": True}, max_length=2048)
    name: str = ""
    source: str = ""
    enabled: bool = True
    retired: bool = False
    default_tz: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    interval_seconds: int = 900
    next_poll_at: datetime = Field(
        default_factory=utcnow, sa_column=_ts(index=True, nullable=False)
    )
    last_polled_at: datetime | None = Field(default=None, sa_column=_ts())
    last_success_at: datetime | None = Field(default=None, sa_column=_ts())
    last_new_item_at: datetime | None = Field(default=None, sa_column=_ts())
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    healthy: bool = True
    unhealthy_reason: str | None = None
    initial_poll_done: bool = False
    polls: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class SeenEntry(SQLModel, table=True):
    """Feed items already handled, so a poll only processes what is new."""

    __tablename__ = "seen_entries"
    __table_args__ = (UniqueConstraint("feed_id", "entry_id", name="uq_seen_feed_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feeds.id", index=True)
    entry_id: str = Field(max_length=2048)
    link: str = Field(default="", max_length=2048)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Story(SQLModel, table=True):
    __tablename__ = "stories"

    id: int | None = Field(default=None, primary_key=True)
    title: str = ""
    first_article_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class ArticleRow(SQLModel, table=True):
    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_story_seen", "story_id", "seen_at"),)

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str = Field(sa_column_kwargs={"unique": True}, max_length=2048)
    url: str = Field(max_length=2048)
    source: str = Field(default="", index=True)
    feed_id: int | None = Field(default=None, foreign_key="feeds.id", index=True)
    title: str = ""
    body: str | None = Field(default=None, sa_column=Column(Text))
    body_hash: str = Field(default="", index=True)
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    published_at: datetime | None = Field(default=None, sa_column=_ts(index=True))
    seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True, nullable=False))
    story_id: int | None = Field(default=None, foreign_key="stories.id")
    duplicate_kind: str | None = None


class MatchRow(SQLModel, table=True):
    """One topic or actor found in an article, with what fired and where."""

    __tablename__ = "matches"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    kind: str  # "topic" | "actor"
    name: str = Field(index=True)
    via: str = ""  # actors: name | alias | role; topics: "term"
    term: str = ""
    start: int = 0
    end: int = 0
    snippet: str = Field(default="", sa_column=Column(Text))
    score: float = 0.0
    substantive: bool = False
    count: int = 1


class AlertRow(SQLModel, table=True):
    """The durable outbox: written with the match, delivered later, never twice."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(sa_column_kwargs={"unique": True}, max_length=512)
    story_id: int = Field(foreign_key="stories.id", index=True)
    article_id: int = Field(foreign_key="articles.id")
    rule: str
    channel: str = Field(index=True)
    kind: str = "alert"  # alert | follow_up
    status: str = "pending"  # pending | sending | sent | failed | digested
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_ts(index=True))


class FeedEvent(SQLModel, table=True):
    """Health transitions of a feed: unhealthy, recovered, retired."""

    __tablename__ = "feed_events"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feeds.id", index=True)
    kind: str
    message: str = Field(default="", sa_column=Column(Text))
    at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Event(SQLModel, table=True):
    """The pipeline's event stream; ids increase monotonically so consumers can resume."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(index=True)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True, nullable=False))
