"""Feed scheduling state: claiming due feeds under a lease, releasing them with their new state.

A lease (``lease_owner``, ``lease_expires_at``) lets several daemons share one database without
polling a feed twice: a claim takes only feeds whose lease is free or expired, and a release
only writes if the caller still holds the lease. A crashed daemon's leases simply expire.

PostgreSQL claims with ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite, which serialises writers,
with one ``UPDATE ... WHERE id IN (SELECT ...) RETURNING`` statement.

Releases are written one poll at a time, not batched per scheduler tick (unlike articles,
``storage.batch``): each is a conditional UPDATE whose own row count says whether the lease was
still held, so a batch would save commits only, not statements; holding a tick's releases until
its slowest poll ends would keep every other feed's lease, schedule and health event waiting on
it (a feed's fetch deadline is tens of seconds); and the load is one small write per feed per
poll interval (ten feeds every five minutes is 0.03 writes/s, against hundreds of articles/s).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from storage.tables import ArticleRow, Feed, FeedEvent, SeenEntry


@dataclass(frozen=True)
class PollSuccess:
    """What a successful poll records: when, and what lets the next poll skip an unchanged
    feed (HTTP validators, the body's hash; None forgets one)."""

    at: datetime
    last_new_item_at: datetime | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None


@dataclass(frozen=True)
class PollRecord:
    """One poll's outcome as the feed's row keeps it; :func:`release` writes it (the lease
    columns are this module's own business)."""

    next_poll_at: datetime
    last_polled_at: datetime
    polls: int
    interval_seconds: int
    consecutive_failures: int
    last_error: str | None
    healthy: bool
    unhealthy_reason: str | None
    success: PollSuccess | None = None  # None: the poll failed, the last success stays
    retired: bool = False  # the feed is gone (410): it is never claimed again


def _due(now: datetime, exclude: Collection[int]) -> Any:
    cond = (
        (col(Feed.enabled).is_(True))
        & (col(Feed.retired).is_(False))
        & (col(Feed.next_poll_at) <= now)
        & or_(col(Feed.lease_expires_at).is_(None), col(Feed.lease_expires_at) < now)
    )
    if exclude:
        cond = cond & col(Feed.id).not_in(list(exclude))
    return cond


def claim_due_feeds(
    session: Session,
    owner: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    *,
    exclude: Collection[int] = (),
) -> list[Feed]:
    """Lease up to ``limit`` due feeds (earliest ``next_poll_at`` first) to ``owner``.

    Returns the claimed feeds as detached snapshots once the caller's transaction commits.
    ``exclude``: feed ids the caller is still polling (its own lease may have run out).
    """
    if limit <= 0:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    due_ids = (
        select(Feed.id).where(_due(now, exclude)).order_by(col(Feed.next_poll_at)).limit(limit)
    )
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        ids = list(session.exec(due_ids.with_for_update(skip_locked=True)).all())
    else:
        ids = [
            row[0]
            for row in session.execute(
                update(Feed)
                .where(col(Feed.id).in_(due_ids.scalar_subquery()))
                .values(lease_owner=owner, lease_expires_at=expires)
                .returning(col(Feed.id))
            ).all()
        ]
    if not ids:
        return []
    if bind.dialect.name == "postgresql":
        session.execute(
            update(Feed)
            .where(col(Feed.id).in_(ids))
            .values(lease_owner=owner, lease_expires_at=expires)
        )
    session.expire_all()
    feeds = session.exec(
        select(Feed).where(col(Feed.id).in_(ids)).order_by(col(Feed.next_poll_at))
    ).all()
    return list(feeds)


def release(session: Session, feed_id: int, owner: str, record: PollRecord) -> bool:
    """Write a polled feed's new state and free its lease; False if ``owner`` lost the lease
    (it expired and another daemon claimed the feed), in which case nothing is written."""
    values: dict[str, Any] = {
        "next_poll_at": record.next_poll_at,
        "last_polled_at": record.last_polled_at,
        "polls": record.polls,
        "interval_seconds": record.interval_seconds,
        "consecutive_failures": record.consecutive_failures,
        "last_error": record.last_error,
        "healthy": record.healthy,
        "unhealthy_reason": record.unhealthy_reason,
        "retired": record.retired,
    }
    if record.success is not None:
        values.update(
            last_success_at=record.success.at,
            last_new_item_at=record.success.last_new_item_at,
            etag=record.success.etag,
            last_modified=record.success.last_modified,
            body_hash=record.success.body_hash,
            initial_poll_done=True,
        )
    result = session.execute(
        update(Feed)
        .where(col(Feed.id) == feed_id, col(Feed.lease_owner) == owner)
        .values(lease_owner=None, lease_expires_at=None, **values)
    )
    return bool(getattr(result, "rowcount", 0))


def reinstate(session: Session, feed_id: int, next_poll_at: datetime) -> None:
    """Bring a retired feed back (the operator added it again): healthy, due at
    ``next_poll_at``."""
    session.execute(
        update(Feed)
        .where(col(Feed.id) == feed_id)
        .values(retired=False, healthy=True, unhealthy_reason=None, next_poll_at=next_poll_at)
    )


def release_leases(session: Session, owner: str) -> int:
    """Free every lease ``owner`` holds without touching the schedule (shutdown: polls that
    were cancelled stay due and are picked up by the next start)."""
    result = session.execute(
        update(Feed)
        .where(col(Feed.lease_owner) == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )
    return int(getattr(result, "rowcount", 0))


def add_feed_event(session: Session, feed_id: int, kind: str, message: str, at: datetime) -> None:
    """Record a health transition (unhealthy, recovered, retired)."""
    session.add(FeedEvent(feed_id=feed_id, kind=kind, message=message, at=at))


def feed_events(session: Session, feed_id: int) -> Sequence[FeedEvent]:
    return session.exec(
        select(FeedEvent).where(FeedEvent.feed_id == feed_id).order_by(col(FeedEvent.id))
    ).all()


def new_item_times(session: Session, feed_id: int, *, limit: int = 200) -> list[datetime]:
    """When the feed's most recent entries were first seen: its history of new items."""
    rows = session.exec(
        select(SeenEntry.first_seen_at)
        .where(SeenEntry.feed_id == feed_id)
        .order_by(col(SeenEntry.first_seen_at).desc())
        .limit(limit)
    ).all()
    return list(rows)


def feed_by_url(session: Session, url: str) -> Feed | None:
    return session.exec(select(Feed).where(Feed.url == url)).first()


def delete_feed(session: Session, feed_id: int) -> None:
    """Remove a feed and its bookkeeping; its stored articles stay (without a feed)."""
    session.execute(
        update(ArticleRow).where(col(ArticleRow.feed_id) == feed_id).values(feed_id=None)
    )
    session.execute(delete(SeenEntry).where(col(SeenEntry.feed_id) == feed_id))
    session.execute(delete(FeedEvent).where(col(FeedEvent.feed_id) == feed_id))
    session.execute(delete(Feed).where(col(Feed.id) == feed_id))


def save_feed(session: Session, feed: Feed) -> Feed:
    """Write a new or changed feed now (a new one gets its id); returns it."""
    session.add(feed)
    session.flush()
    return feed


def rebase_schedules(
    session: Session, *, now: datetime, min_interval: float, max_interval: float
) -> int:
    """Start-up: bring every healthy feed's interval within the current bounds and its next
    poll no later than its last poll plus that interval, so changed schedule settings take
    effect at once instead of after each feed's old next-poll time. Feeds in back-off keep
    their wait. Returns how many feeds changed."""
    changed = 0
    feeds = session.exec(
        select(Feed).where(col(Feed.consecutive_failures) == 0, col(Feed.retired).is_(False))
    ).all()
    for feed in feeds:
        interval = min(max_interval, max(min_interval, float(feed.interval_seconds)))
        latest = _aware(feed.last_polled_at or now) + timedelta(seconds=interval)
        wanted_next = min(_aware(feed.next_poll_at), latest)
        if round(interval) != feed.interval_seconds or wanted_next != _aware(feed.next_poll_at):
            feed.interval_seconds = max(1, round(interval))
            feed.next_poll_at = wanted_next
            session.add(feed)
            changed += 1
    return changed


def _aware(when: datetime) -> datetime:
    """SQLite hands datetimes back naive; they are stored in UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
