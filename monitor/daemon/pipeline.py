"""Wires the stages: feed bytes -> entries -> page -> text -> dedup -> match -> store + outbox.

Only this module and the scheduler know the order of the stages; each stage stays pure or a
thin I/O edge. One entry's failure never stops the others.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from monitor import events
from monitor.alert.outbox import alert_payload
from monitor.alert.rules import AlertRule, matching_rules
from monitor.dedup.index import (
    DedupConfig,
    DedupIndex,
    DedupVerdict,
    IndexedArticle,
    changed_substantially,
)
from monitor.dedup.urls import canonicalize_url, source_of
from monitor.errors import ExtractError, PantauError, StorageError
from monitor.extract.article import extract_article
from monitor.extract.furniture import strip_furniture
from monitor.fetch.client import ARTICLE_TYPES, Fetcher
from monitor.match.matcher import Matcher
from monitor.models import ExtractedArticle, FeedEntry, MatchResult
from storage import repo
from storage.engine import session_scope

log = logging.getLogger(__name__)

Status = Literal["stored", "duplicate", "skipped", "failed"]


def identity(url: str) -> str:
    return url


@dataclass(frozen=True)
class ArticleOutcome:
    """What happened to one feed entry; replay and the daemon report these."""

    url: str
    status: Status
    title: str = ""
    canonical_url: str = ""
    reason: str = ""
    article_id: int | None = None
    story_id: int | None = None
    match: MatchResult = field(default_factory=MatchResult)
    alerted: bool = False
    duplicate_kind: str | None = None
    retry: bool = False  # transient failure: the entry stays unseen and is tried next poll
    follow_up: bool = False  # a copy that raised a follow-up alert (new tracked actors)


@dataclass(frozen=True)
class PipelineOptions:
    extract_timeout: float = 60.0
    store_unmatched: bool = False


class Pipeline:
    def __init__(
        self,
        *,
        engine: Engine,
        fetcher: Fetcher,
        matcher: Matcher,
        dedup: DedupIndex,
        rules: Sequence[AlertRule],
        executor: Executor | None = None,
        public_url: Callable[[str], str] = identity,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        options: PipelineOptions = PipelineOptions(),
        notifier: events.EventNotifier | None = None,
    ) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.matcher = matcher
        self.dedup = dedup
        self.rules = tuple(rules)
        self.executor = executor
        self.public_url = public_url
        self.clock = clock
        self.options = options
        self.notifier = notifier  # woken after each commit that wrote events
        self._indexed_upto = 0  # highest article id known to the in-memory dedup index

    @classmethod
    def load_dedup(cls, engine: Engine, config: DedupConfig, now: datetime) -> DedupIndex:
        """Rebuild the in-memory dedup index from the last ``window_days`` of articles
        (identity columns only: no article bodies are read)."""
        since = now - timedelta(days=config.window_days)
        with session_scope(engine) as session:
            records = [_indexed(r) for r in _index_rows(session, 0, since) if r.signature]
        return DedupIndex.rebuild(records, config)

    def _sync_index(self, session: Session, now: datetime) -> int:
        """Add articles other workers stored since we last looked; returns how many."""
        added = 0
        for r in _index_rows(session, self._indexed_upto, now - self.dedup.config.window):
            self._indexed_upto = max(self._indexed_upto, r.id)
            if r.id in self.dedup or not r.signature:
                continue
            self.dedup.add(_indexed(r))
            added += 1
        return added

    # -- one entry -----------------------------------------------------------------------

    async def process_entry(
        self, entry: FeedEntry, *, feed_id: int | None, alerts_enabled: bool = True
    ) -> ArticleOutcome:
        try:
            outcome = await self._process(entry, feed_id=feed_id, alerts_enabled=alerts_enabled)
        except PantauError as exc:
            level = logging.INFO if exc.transient else logging.WARNING
            log.log(level, "entry %s skipped: %s", entry.link, exc.message)
            outcome = ArticleOutcome(
                url=entry.link,
                status="failed" if exc.transient else "skipped",
                title=entry.title,
                reason=exc.message,
                retry=exc.transient,
            )
        if feed_id is not None and not outcome.retry and outcome.status != "stored":
            self._mark_seen(feed_id, entry)
        return outcome

    def _mark_seen(self, feed_id: int, entry: FeedEntry) -> None:
        try:
            with session_scope(self.engine) as session:
                if repo.unseen_entry_ids(session, feed_id, [entry.entry_id]):
                    repo.mark_entry_seen(session, feed_id, entry.entry_id, entry.link)
        except OperationalError as exc:
            log.warning("could not record entry %s as seen: %s", entry.link, exc)

    def _existing(self, canonical_url: str) -> int | None:
        with session_scope(self.engine) as session:
            return repo.article_id_by_url(session, canonical_url)

    async def _extract(
        self, content: bytes, url: str, content_type: str | None = None, *, with_date: bool = True
    ) -> ExtractedArticle:
        loop = asyncio.get_running_loop()
        work = functools.partial(
            extract_article, content, url, content_type=content_type, with_date=with_date
        )
        try:
            async with asyncio.timeout(self.options.extract_timeout):
                return await loop.run_in_executor(self.executor, work)
        except TimeoutError as exc:
            raise ExtractError(
                f"{url}: extraction took longer than {self.options.extract_timeout:.0f} s"
            ) from exc

    async def _process(
        self, entry: FeedEntry, *, feed_id: int | None, alerts_enabled: bool
    ) -> ArticleOutcome:
        link_canonical = canonicalize_url(self.public_url(entry.link))
        if self._existing(link_canonical) is not None:
            return _same_url(entry, entry.title, link_canonical, "URL already stored")
        page = await self.fetcher.fetch(entry.link, allowed_types=ARTICLE_TYPES)
        extracted = await self._extract(
            page.content,
            page.final_url,
            page.headers.get("content-type"),
            with_date=entry.published is None,  # the page's own date only when needed
        )
        page_canonical = (
            self.public_url(extracted.canonical_url) if extracted.canonical_url else None
        )
        canonical = canonicalize_url(self.public_url(page.final_url), page_canonical=page_canonical)
        title = entry.title or extracted.title
        body = strip_furniture(extracted.body)
        now = self.clock()
        published = entry.published or extracted.published or now
        if canonical != link_canonical and self._existing(canonical) is not None:
            return _same_url(entry, title, canonical, "URL already stored")
        match = self.matcher.match(title, body, published)
        verdict = self.dedup.check(canonical, body, at=now)
        if verdict.kind == "same_url":
            return _same_url(entry, title, canonical, "URL already stored", verdict)
        if match.is_empty and not self.options.store_unmatched:
            return ArticleOutcome(
                entry.link, "skipped", title, canonical, "no tracked topic or actor", match=match
            )
        return self._store(
            entry=entry,
            feed_id=feed_id,
            canonical=canonical,
            title=title,
            body=body,
            published=published,
            now=now,
            match=match,
            verdict=verdict,
            alerts_enabled=alerts_enabled,
        )

    def _store(
        self,
        *,
        entry: FeedEntry,
        feed_id: int | None,
        canonical: str,
        title: str,
        body: str,
        published: datetime,
        now: datetime,
        match: MatchResult,
        verdict: DedupVerdict,
        alerts_enabled: bool,
    ) -> ArticleOutcome:
        source = source_of(canonical)
        rules = matching_rules(self.rules, match, source) if alerts_enabled else []
        try:
            with session_scope(self.engine) as session:
                # Other workers store articles too: serialise story decisions across them
                # (PostgreSQL) and catch up with what they stored before deciding.
                _lock_story_decisions(session)
                if self._sync_index(session, now):
                    verdict = self.dedup.check(canonical, body, at=now)
                    if verdict.kind == "same_url":
                        return _same_url(entry, title, canonical, "URL stored by another worker")
                is_copy = verdict.kind in ("exact", "near")
                article = repo.NewArticle(
                    canonical_url=canonical,
                    url=entry.link,
                    source=source,
                    title=title,
                    body=body,
                    body_hash=verdict.body_hash,
                    signature=verdict.signature.to_bytes(),
                    published_at=published,
                    seen_at=now,
                    feed_id=feed_id,
                    duplicate_kind=verdict.kind if is_copy else None,
                )
                story_id = verdict.story_id if is_copy else None
                follow_up = None
                if is_copy and story_id is not None and rules:
                    follow_up = _follow_up_text(session, story_id, body, match, source)
                alerts: list[repo.NewAlert] = []
                if not is_copy or follow_up is not None:
                    alerts = [
                        repo.NewAlert(
                            rule=rule.name,
                            channel=channel,
                            payload=json.dumps(
                                alert_payload(
                                    rule=rule.name,
                                    title=title,
                                    url=canonical,
                                    source=source,
                                    published=published,
                                    match=match,
                                    follow_up=follow_up[1] if follow_up else None,
                                )
                            ),
                            kind="follow_up" if follow_up else "alert",
                            key_suffix=f":follow_up:{follow_up[0]}" if follow_up else "",
                        )
                        for rule in rules
                        for channel in rule.channels
                    ]
                article_id, story_id = repo.save_article(
                    session, article, _match_rows(match), story_id=story_id, alerts=alerts
                )
                if feed_id is not None:
                    repo.mark_entry_seen(session, feed_id, entry.entry_id, entry.link)
                repo.append_event(
                    session,
                    "article.stored",
                    json.dumps(
                        {
                            "article_id": article_id,
                            "story_id": story_id,
                            "title": title,
                            "url": canonical,
                            "source": source,
                        }
                    ),
                    now,
                )
                self._append_match_events(
                    session,
                    article_id=article_id,
                    story_id=story_id,
                    title=title,
                    url=canonical,
                    source=source,
                    published=published,
                    now=now,
                    match=match,
                    duplicate_kind=verdict.kind if is_copy else None,
                    alerted=bool(alerts),
                )
        except IntegrityError:
            # Another worker stored the same canonical URL first.
            return _same_url(entry, title, canonical, "stored concurrently")
        except OperationalError as exc:
            raise StorageError(f"could not store {canonical}: {exc.orig}") from exc
        if self.notifier is not None:
            self.notifier.notify()
        self.dedup.add(
            IndexedArticle(
                article_id=article_id,
                story_id=story_id,
                canonical_url=canonical,
                body_hash=verdict.body_hash,
                signature=verdict.signature.to_bytes(),
                seen_at=now,
            )
        )
        return ArticleOutcome(
            entry.link,
            "duplicate" if is_copy else "stored",
            title,
            canonical,
            f"{verdict.kind} copy of story {story_id}" if is_copy else "",
            article_id=article_id,
            story_id=story_id,
            match=match,
            alerted=bool(alerts),
            follow_up=bool(alerts) and is_copy,
            duplicate_kind=verdict.kind if is_copy else None,
        )

    def _append_match_events(
        self,
        session: Session,
        *,
        article_id: int,
        story_id: int,
        title: str,
        url: str,
        source: str,
        published: datetime,
        now: datetime,
        match: MatchResult,
        duplicate_kind: str | None,
        alerted: bool,
    ) -> None:
        """The documented ``match`` and ``story.updated`` events (monitor.events)."""
        if not match.is_empty:
            payload = events.match_event(
                article_id=article_id,
                story_id=story_id,
                title=title,
                url=url,
                source=source,
                published=published,
                seen_at=now,
                match=match,
                duplicate_kind=duplicate_kind,
                alerted=alerted,
            )
            repo.append_event(session, events.MATCH, events.encode(payload), now)
        if duplicate_kind is not None:
            payload = events.story_updated(
                story_id=story_id,
                article_id=article_id,
                title=title,
                url=url,
                source=source,
                duplicate_kind=duplicate_kind,
                sources=repo.story_sources(session, story_id),
            )
            repo.append_event(session, events.STORY_UPDATED, events.encode(payload), now)


def _index_rows(session: Session, after_id: int, since: datetime) -> Iterator[repo.IndexRow]:
    """Every article above ``after_id`` seen since ``since``, page by page."""
    while True:
        rows = repo.articles_after(session, after_id, since, limit=INDEX_PAGE)
        yield from rows
        if len(rows) < INDEX_PAGE:
            return
        after_id = rows[-1].id


def _indexed(r: repo.IndexRow) -> IndexedArticle:
    return IndexedArticle(
        article_id=r.id,
        story_id=r.story_id,
        canonical_url=r.canonical_url,
        body_hash=r.body_hash,
        signature=r.signature or b"",
        seen_at=r.seen_at,
    )


def _same_url(
    entry: FeedEntry,
    title: str,
    canonical: str,
    reason: str,
    verdict: DedupVerdict | None = None,
) -> ArticleOutcome:
    """The outcome for an entry whose canonical URL is already stored."""
    return ArticleOutcome(
        entry.link,
        "duplicate",
        title,
        canonical,
        reason,
        article_id=verdict.article_id if verdict else None,
        story_id=verdict.story_id if verdict else None,
        duplicate_kind="same_url",
    )


INDEX_PAGE = 5000  # rows per query when (re)building the dedup index
STORY_LOCK_KEY = 0x50414E54  # "PANT": one advisory lock for story decisions across workers


def _lock_story_decisions(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK_KEY})


def _follow_up_text(
    session: Session, story_id: int, body: str, match: MatchResult, source: str
) -> tuple[str, str] | None:
    """(key, text) when a copy names tracked actors its story did not have; else None."""
    known = repo.story_actor_names(session, story_id)
    new_actors = sorted({a.name for a in match.actors} - known)
    if not new_actors:
        return None
    changed = changed_substantially(repo.story_first_body(session, story_id), body)
    naming = [p for p in changed if any(n.split()[-1] in p for n in new_actors)]
    where = max(naming, key=len, default="")  # the new paragraph, not a changed headline
    text = f"Updated copy from {source} newly names {', '.join(new_actors)}"
    if where:
        text += f": “{where[:280]}”"
    return "|".join(new_actors), text


def _match_rows(match: MatchResult) -> list[repo.NewMatch]:
    rows: list[repo.NewMatch] = []
    for t in match.topics:
        first = t.hits[0] if t.hits else None
        rows.append(
            repo.NewMatch(
                kind="topic",
                name=t.name,
                via="term",
                term=first.term if first else "",
                start=first.span.start if first else 0,
                end=first.span.end if first else 0,
                snippet=first.snippet if first else "",
                score=t.score,
                substantive=t.substantive,
                count=len(t.hits),
            )
        )
    for a in match.actors:
        first = a.hits[0] if a.hits else None
        rows.append(
            repo.NewMatch(
                kind="actor",
                name=a.name,
                via=a.via,
                term=first.term if first else "",
                start=first.span.start if first else 0,
                end=first.span.end if first else 0,
                snippet=first.snippet if first else "",
                count=a.count,
            )
        )
    return rows
