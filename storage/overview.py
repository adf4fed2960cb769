"""Read-only views for operators: the status screen, the dashboard and the metrics gauges.

Each function takes an open Session and returns plain frozen dataclasses, so the CLI, the web
page and the metrics endpoint show the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.tables import AlertRow, ArticleRow, Feed, MatchRow, Story

PENDING = ("pending", "sending")


@dataclass(frozen=True)
class FeedHealth:
    id: int
    name: str
    url: str
    healthy: bool
    enabled: bool
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    problem: str  # why it is unhealthy, or the last error; empty when fine


@dataclass(frozen=True)
class StatusSummary:
    feeds_total: int
    feeds_unhealthy: int
    last_poll_at: datetime | None
    matches_today: int  # articles with at least one match, seen since the start of today
    articles_today: int
    alerts_pending: int
    alerts_failed: int

    @property
    def feeds_healthy(self) -> int:
        return self.feeds_total - self.feeds_unhealthy


@dataclass(frozen=True)
class MatchedSnippet:
    text: str
    term: str


@dataclass(frozen=True)
class MatchedArticle:
    article_id: int
    title: str
    url: str
    source: str
    seen_at: datetime
    published_at: datetime | None
    topics: tuple[tuple[str, bool], ...]  # (name, substantive)
    actors: tuple[str, ...]
    terms: tuple[str, ...]
    snippets: tuple[MatchedSnippet, ...]
    # A copy of a story reported earlier: the source of that first report ("" when first).
    copy_of: str = ""
    alerts: tuple[tuple[str, str], ...] = ()  # (channel, status) of the alerts it raised


@dataclass(frozen=True)
class DailyCounts:
    """Articles per name per day, oldest day first; ``series[name][i]`` belongs to ``days[i]``."""

    days: tuple[date, ...]
    series: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def totals(self) -> list[tuple[str, int]]:
        """(name, total) by total descending, then name."""
        return sorted(((n, sum(v)) for n, v in self.series.items()), key=lambda x: (-x[1], x[0]))


@dataclass(frozen=True)
class AlertView:
    id: int
    channel: str
    rule: str
    kind: str
    status: str
    attempts: int
    title: str
    url: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str


@dataclass(frozen=True)
class ChannelHealth:
    """One channel's undelivered alerts: how many wait, since when, and why they did not go."""

    channel: str
    pending: int
    oldest_pending_at: datetime | None  # when the oldest waiting alert was written
    failed: int  # given up on, waiting for ``pantau alerts retry``
    last_error: str  # the newest undelivered alert's error; empty when none failed

    def queue_age(self, now: datetime) -> float:
        """Seconds the oldest pending alert has waited (0 with none pending)."""
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending_at).total_seconds())

    @property
    def failing(self) -> bool:
        return bool(self.last_error)


def channel_health(session: Session) -> list[ChannelHealth]:
    """Every channel with alerts not delivered yet (pending or failed), by name. Sent rows are
    not read: the answer costs the same after months of alerts."""
    waiting = (*PENDING, "failed")
    counts = session.exec(
        select(AlertRow.channel, AlertRow.status, func.count(), func.min(AlertRow.created_at))
        .where(col(AlertRow.status).in_(waiting))
        .group_by(col(AlertRow.channel), col(AlertRow.status))
    ).all()
    pending: dict[str, int] = {}
    failed: dict[str, int] = {}
    oldest: dict[str, datetime] = {}
    for channel, status, count, first in counts:
        if status == "failed":
            failed[channel] = int(count)
            continue
        pending[channel] = pending.get(channel, 0) + int(count)
        first_at = _aware(first)
        if first_at is not None and (channel not in oldest or first_at < oldest[channel]):
            oldest[channel] = first_at
    out = []
    for channel in sorted({*pending, *failed}):
        error = session.exec(
            select(AlertRow.last_error)
            .where(
                AlertRow.channel == channel,
                col(AlertRow.status).in_(waiting),
                col(AlertRow.last_error).is_not(None),
            )
            .order_by(col(AlertRow.id).desc())
            .limit(1)
        ).first()
        out.append(
            ChannelHealth(
                channel=channel,
                pending=pending.get(channel, 0),
                oldest_pending_at=oldest.get(channel),
                failed=failed.get(channel, 0),
                last_error=error or "",
            )
        )
    return out


def _count(session: Session, *where: object) -> int:
    stmt = select(func.count()).select_from(Feed)
    return int(session.exec(stmt.where(*where)).one())  # type: ignore[arg-type]


def _active() -> tuple[object, ...]:
    return (col(Feed.enabled).is_(True), col(Feed.retired).is_(False))


def feed_counts(session: Session, *, active_only: bool = True) -> tuple[int, int]:
    """(feeds watched, of which unhealthy): enabled, not retired; with ``active_only``
    False, every feed in the database."""
    where = _active() if active_only else ()
    total = _count(session, *where)
    unhealthy = _count(session, *where, col(Feed.healthy).is_(False))
    return total, unhealthy


def pending_alerts(session: Session) -> int:
    stmt = select(func.count()).select_from(AlertRow).where(col(AlertRow.status).in_(PENDING))
    return int(session.exec(stmt).one())


def failed_alert_count(session: Session) -> int:
    stmt = select(func.count()).select_from(AlertRow).where(AlertRow.status == "failed")
    return int(session.exec(stmt).one())


def status_summary(session: Session, *, day_start: datetime) -> StatusSummary:
    total, unhealthy = feed_counts(session)
    last_poll = session.exec(select(func.max(Feed.last_polled_at))).one()
    matched_today = session.exec(
        select(func.count(func.distinct(MatchRow.article_id)))
        .join(ArticleRow, col(ArticleRow.id) == col(MatchRow.article_id))
        .where(col(ArticleRow.seen_at) >= day_start)
    ).one()
    articles_today = session.exec(
        select(func.count()).select_from(ArticleRow).where(col(ArticleRow.seen_at) >= day_start)
    ).one()
    return StatusSummary(
        feeds_total=total,
        feeds_unhealthy=unhealthy,
        last_poll_at=_aware(last_poll),
        matches_today=int(matched_today),
        articles_today=int(articles_today),
        alerts_pending=pending_alerts(session),
        alerts_failed=failed_alert_count(session),
    )


def _aware(value: object) -> datetime | None:
    # max() keeps the column type, but be safe: naive values are UTC by construction.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def feed_health(session: Session) -> list[FeedHealth]:
    """Watched feeds, unhealthy first."""
    feeds = session.exec(select(Feed).where(col(Feed.retired).is_(False))).all()
    out = [
        FeedHealth(
            id=f.id or 0,
            name=f.name or f.url,
            url=f.url,
            healthy=f.healthy,
            enabled=f.enabled,
            last_polled_at=f.last_polled_at,
            last_success_at=f.last_success_at,
            last_new_item_at=f.last_new_item_at,
            next_poll_at=f.next_poll_at,
            consecutive_failures=f.consecutive_failures,
            problem=(f.unhealthy_reason or f.last_error or "") if not f.healthy else "",
        )
        for f in feeds
    ]
    return sorted(out, key=lambda f: (f.healthy, not f.enabled, f.name.lower()))


def latest_matches(session: Session, *, limit: int = 20, snippets: int = 3) -> list[MatchedArticle]:
    """The most recently seen articles that matched something, with their matches."""
    ids = session.exec(
        select(ArticleRow.id)
        .where(col(ArticleRow.id).in_(select(MatchRow.article_id).distinct()))
        .order_by(col(ArticleRow.seen_at).desc(), col(ArticleRow.id).desc())
        .limit(limit)
    ).all()
    if not ids:
        return []
    articles = {
        a.id: a for a in session.exec(select(ArticleRow).where(col(ArticleRow.id).in_(ids)))
    }
    rows: dict[int, list[MatchRow]] = {}
    for m in session.exec(
        select(MatchRow).where(col(MatchRow.article_id).in_(ids)).order_by(col(MatchRow.id))
    ):
        rows.setdefault(m.article_id, []).append(m)
    found = [
        _matched_article(articles[i], rows.get(i, []), snippets)
        for i in ids
        if i is not None and i in articles
    ]
    copies = _copy_sources(session, [a for a in articles.values() if a.duplicate_kind])
    raised: dict[int, list[tuple[str, str]]] = {}
    for article_id, channel, status in session.exec(
        select(AlertRow.article_id, AlertRow.channel, AlertRow.status)
        .where(col(AlertRow.article_id).in_(ids))
        .order_by(col(AlertRow.id))
    ):
        raised.setdefault(article_id, []).append((channel, status))
    return [
        replace(
            a,
            copy_of=copies.get(a.article_id, ""),
            alerts=tuple(raised.get(a.article_id, ())),
        )
        for a in found
    ]


def _copy_sources(session: Session, copies: Sequence[ArticleRow]) -> dict[int, str]:
    """article id -> the source of its story's first report, for articles that are copies."""
    stories = {a.story_id for a in copies if a.story_id is not None}
    if not stories:
        return {}
    first = dict(
        session.exec(
            select(Story.id, ArticleRow.source)
            .join(ArticleRow, col(ArticleRow.id) == col(Story.first_article_id))
            .where(col(Story.id).in_(stories))
        ).all()
    )
    return {a.id or 0: first.get(a.story_id) or "an earlier report" for a in copies}


def _matched_article(a: ArticleRow, matches: Sequence[MatchRow], limit: int) -> MatchedArticle:
    actors = [m for m in matches if m.kind == "actor"]
    topics = [m for m in matches if m.kind == "topic"]
    seen: dict[str, MatchedSnippet] = {}
    for m in actors + topics:  # who is mentioned says more than which topic word fired
        text = " ".join(m.snippet.split())
        if text and text not in seen:
            seen[text] = MatchedSnippet(text, m.term)
    return MatchedArticle(
        article_id=a.id or 0,
        title=a.title,
        url=a.canonical_url or a.url,
        source=a.source,
        seen_at=a.seen_at,
        published_at=a.published_at,
        topics=tuple((m.name, m.substantive) for m in topics),
        actors=tuple(dict.fromkeys(m.name for m in actors)),
        terms=tuple(dict.fromkeys(m.term for m in matches if m.term)),
        snippets=tuple(seen.values())[:limit],
    )


def daily_match_counts(
    session: Session,
    *,
    kind: str,
    days: int,
    today: date,
    tz: tzinfo,
    main_only: bool = False,
) -> DailyCounts:
    """Distinct articles per ``kind`` ("topic" or "actor") name per local day, ``days`` days
    ending with ``today`` (days in ``tz``; an article counts on the day Pantau saw it, not the
    day it says it was published). With ``main_only`` each article counts once, under its
    main name (substantive first, then the highest score): the series then add up to
    articles, not to matches, as a stacked chart needs."""
    day_list = tuple(today - timedelta(days=days - 1 - i) for i in range(days))
    since = datetime.combine(day_list[0], datetime.min.time(), tz)
    rows = session.exec(
        select(MatchRow, ArticleRow.seen_at)
        .join(ArticleRow, col(ArticleRow.id) == col(MatchRow.article_id))
        .where(MatchRow.kind == kind, col(ArticleRow.seen_at) >= since)
    ).all()
    index = {d: i for i, d in enumerate(day_list)}
    names: dict[int, dict[str, tuple[bool, float]]] = {}  # article -> name -> best rank
    day_of: dict[int, int] = {}
    for m, seen_at in rows:
        i = index.get(seen_at.astimezone(tz).date())
        if i is None:
            continue
        day_of[m.article_id] = i
        ranks = names.setdefault(m.article_id, {})
        ranks[m.name] = max(ranks.get(m.name, (False, 0.0)), (m.substantive, m.score))
    counts: dict[str, list[int]] = {}
    for article_id, ranks in names.items():
        chosen = (
            [min(ranks, key=lambda n: (not ranks[n][0], -ranks[n][1], n))]
            if main_only
            else list(ranks)
        )
        for name in chosen:
            counts.setdefault(name, [0] * days)[day_of[article_id]] += 1
    return DailyCounts(day_list, {n: tuple(v) for n, v in sorted(counts.items())})


def alerts(session: Session, *, statuses: Sequence[str] = (), limit: int = 50) -> list[AlertView]:
    """Newest first; all statuses unless ``statuses`` is given."""
    stmt = select(AlertRow)
    if statuses:
        stmt = stmt.where(col(AlertRow.status).in_(list(statuses)))
    rows = session.exec(stmt.order_by(col(AlertRow.id).desc()).limit(limit)).all()
    return [alert_view(r) for r in rows]


def alert_view(row: AlertRow) -> AlertView:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    return AlertView(
        id=row.id or 0,
        channel=row.channel,
        rule=row.rule,
        kind=row.kind,
        status=row.status,
        attempts=row.attempts,
        title=str(payload.get("title") or ""),
        url=str(payload.get("url") or ""),
        created_at=row.created_at,
        sent_at=row.sent_at,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error or "",
    )
