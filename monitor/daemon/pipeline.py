"""Wires the stages: feed bytes -> entries -> page -> text -> dedup -> match -> store + outbox.

Only this module and the scheduler know the order of the stages; each stage stays pure or a
thin I/O edge. One entry's failure never stops the others.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.engine import Engine

from monitor import events
from monitor.alert import AlertRule, matching_rules
from monitor.daemon.story import Candidate, StorySoFar, decide_story, story_to_read
from monitor.dedup import DedupConfig, DedupIndex, DedupVerdict, IndexedArticle, canonicalize_url
from monitor.errors import (
    DuplicateError,
    ExtractError,
    PantauError,
    StorageError,
    UnavailableError,
)
from monitor.extract import extract_article, strip_furniture
from monitor.fetch import ARTICLE_TYPES, Fetcher
from monitor.match import Matcher
from monitor.models import ExtractedArticle, FeedEntry, MatchResult
from storage import repo
from storage.engine import Transaction, session_scope
from storage.locks import serialise_story_decisions

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
            records = [_indexed(r) for r in repo.index_rows(session, 0, since) if r.signature]
        return DedupIndex.rebuild(records, config)

    def _sync_index(self, session: Transaction, now: datetime) -> int:
        """Add articles other workers stored since we last looked; returns how many."""
        added = 0
        for r in repo.index_rows(session, self._indexed_upto, now - self.dedup.config.window):
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
            # Whatever kept the database from answering, the entry must stay unseen.
            retry = exc.transient or isinstance(exc, StorageError)
            level = logging.INFO if retry else logging.WARNING
            log.log(level, "entry %s skipped: %s", entry.link, exc.message)
            outcome = ArticleOutcome(
                url=entry.link,
                status="failed" if retry else "skipped",
                title=entry.title,
                reason=exc.message,
                retry=retry,
            )
        if feed_id is not None and not outcome.retry and outcome.status != "stored":
            self._mark_seen(feed_id, entry)
        return outcome

    def _mark_seen(self, feed_id: int, entry: FeedEntry) -> None:
        try:
            with session_scope(self.engine) as session:
                if repo.unseen_entry_ids(session, feed_id, [entry.entry_id]):
                    repo.mark_entry_seen(session, feed_id, entry.entry_id, entry.link)
        except UnavailableError as exc:
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
        candidate = Candidate(
            entry=entry,
            feed_id=feed_id,
            canonical_url=canonical,
            title=title,
            body=body,
            published=published,
            seen_at=now,
        )
        return self._store(candidate, match=match, verdict=verdict, alerts_enabled=alerts_enabled)

    def _store(
        self,
        candidate: Candidate,
        *,
        match: MatchResult,
        verdict: DedupVerdict,
        alerts_enabled: bool,
    ) -> ArticleOutcome:
        """Decide the article's story (:func:`decide_story`) and write it, in one transaction."""
        entry, title = candidate.entry, candidate.title
        canonical, now = candidate.canonical_url, candidate.seen_at
        rules = matching_rules(self.rules, match, candidate.source) if alerts_enabled else []
        try:
            with session_scope(self.engine) as session:
                # Other workers store articles too: serialise story decisions across them
                # (PostgreSQL) and catch up with what they stored before deciding.
                serialise_story_decisions(session)
                if self._sync_index(session, now):
                    verdict = self.dedup.check(canonical, candidate.body, at=now)
                    if verdict.kind == "same_url":
                        return _same_url(entry, title, canonical, "URL stored by another worker")
                story_id = story_to_read(verdict, rules)
                story = _story_so_far(session, story_id) if story_id is not None else None
                intent = decide_story(
                    candidate, verdict=verdict, match=match, rules=rules, story=story
                )
                stored = repo.write_article(session, intent)
        except DuplicateError:
            # Another worker stored the same canonical URL first.
            return _same_url(entry, title, canonical, "stored concurrently")
        except StorageError as exc:
            raise StorageError(
                f"could not store {canonical}: {exc.detail}", transient=exc.transient
            ) from exc
        if self.notifier is not None:
            self.notifier.notify()
        self.dedup.add(
            IndexedArticle(
                article_id=stored.article_id,
                story_id=stored.story_id,
                canonical_url=canonical,
                body_hash=verdict.body_hash,
                signature=verdict.signature.to_bytes(),
                seen_at=now,
            )
        )
        duplicate_kind = intent.article.duplicate_kind
        return ArticleOutcome(
            entry.link,
            "stored" if duplicate_kind is None else "duplicate",
            title,
            canonical,
            "" if duplicate_kind is None else f"{duplicate_kind} copy of story {stored.story_id}",
            article_id=stored.article_id,
            story_id=stored.story_id,
            match=match,
            alerted=bool(intent.alerts),
            follow_up=intent.follow_up,
            duplicate_kind=duplicate_kind,
        )


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


def _story_so_far(session: Transaction, story_id: int) -> StorySoFar:
    return StorySoFar(
        actor_names=frozenset(repo.story_actor_names(session, story_id)),
        first_body=repo.story_first_body(session, story_id),
    )
