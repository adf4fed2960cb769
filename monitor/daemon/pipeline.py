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
from monitor.daemon.analysis import Analysis, PageJob, analyse
from monitor.daemon.story import Candidate, StorySoFar, decide_story, story_to_read
from monitor.daemon.workers import WorkerPool
from monitor.dedup import DedupConfig, DedupIndex, DedupVerdict, IndexedArticle, canonicalize_url
from monitor.errors import (
    DuplicateError,
    PantauError,
    StorageError,
    UnavailableError,
    WorkerTimeoutError,
)
from monitor.fetch import ARTICLE_TYPES, Fetcher
from monitor.match import Matcher
from monitor.models import FeedEntry, MatchResult
from storage import repo
from storage.engine import Transaction, session_scope
from storage.gate import StorageGate
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
    """``extract_timeout``: seconds a page's pure stages may run (in-process: from submission);
    ``extract_attempts``: how many times a page that overruns is tried before it is recorded
    as skipped."""

    extract_timeout: float = 60.0
    extract_attempts: int = 3
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
        storage: StorageGate | None = None,
        workers: WorkerPool | None = None,
    ) -> None:
        self.engine = engine
        # Every database call goes through the gate, off the loop (storage.gate).
        self.storage = storage or StorageGate(engine)
        self.fetcher = fetcher
        self.matcher = matcher
        self.dedup = dedup
        self.rules = tuple(rules)
        self.executor = executor
        # Where a page's pure stages run: worker processes, else in-process via ``executor``.
        self.workers = workers
        # Overruns so far per entry ((feed id, entry id)), until its attempts are used up. Kept
        # in memory: a restart grants a page its attempts again, still a bounded number.
        self._overruns: dict[tuple[int | None, str], int] = {}
        self.public_url = public_url
        self.clock = clock
        self.options = options
        self.notifier = notifier  # woken after each commit that wrote events
        self._indexed_upto = 0  # highest article id known to the in-memory dedup index
        # Checking an article against the index and storing it were one step on the loop;
        # with the write awaited, stores take turns and count what they added to the index,
        # so a verdict made before another store finished is made again.
        self._store_turn = asyncio.Lock()
        self._index_version = 0

    @classmethod
    def load_dedup(cls, engine: Engine, config: DedupConfig, now: datetime) -> DedupIndex:
        """Rebuild the in-memory dedup index from the last ``window_days`` of articles
        (identity columns only: no article bodies are read)."""
        since = now - timedelta(days=config.window_days)
        with session_scope(engine) as session:
            records = [_indexed(r) for r in repo.index_rows(session, 0, since) if r.signature]
        return DedupIndex.rebuild(records, config)

    def _sync_index(self, rows: Sequence[repo.IndexRow]) -> int:
        """Add articles other workers stored since we last looked; returns how many. Runs on
        the loop: the index is the loop's."""
        added = 0
        for r in rows:
            self._indexed_upto = max(self._indexed_upto, r.id)
            if r.id in self.dedup or not r.signature:
                continue
            self.dedup.add(_indexed(r))
            added += 1
        if added:
            self._index_version += 1
        return added

    # -- one entry -----------------------------------------------------------------------

    async def process_entry(
        self, entry: FeedEntry, *, feed_id: int | None, alerts_enabled: bool = True
    ) -> ArticleOutcome:
        try:
            outcome = await self._process(entry, feed_id=feed_id, alerts_enabled=alerts_enabled)
        except WorkerTimeoutError as exc:
            outcome = await self._overran(entry, feed_id, exc)
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
            await self._mark_seen(feed_id, entry)
        return outcome

    async def _mark_seen(self, feed_id: int, entry: FeedEntry) -> None:
        def mark(session: Transaction) -> None:
            if repo.unseen_entry_ids(session, feed_id, [entry.entry_id]):
                repo.mark_entry_seen(session, feed_id, entry.entry_id, entry.link)

        try:
            await self.storage.transaction(mark)
        except UnavailableError as exc:
            log.warning("could not record entry %s as seen: %s", entry.link, exc)

    async def _existing(self, canonical_url: str) -> int | None:
        return await self.storage.transaction(
            functools.partial(repo.article_id_by_url, canonical_url=canonical_url)
        )

    async def _overran(
        self, entry: FeedEntry, feed_id: int | None, exc: WorkerTimeoutError
    ) -> ArticleOutcome:
        """A page whose pure stages overran: left unseen for the next poll until its attempts
        are used up, then recorded as skipped (seen, with an ``entry.skipped`` event)."""
        key = (feed_id, entry.entry_id)
        attempts = self._overruns.get(key, 0) + 1
        limit = self.options.extract_attempts
        if attempts < limit:
            self._overruns[key] = attempts
            log.warning(
                "entry %s: %s (attempt %d of %d; tried again next poll)",
                entry.link,
                exc.message,
                attempts,
                limit,
            )
            return ArticleOutcome(entry.link, "failed", entry.title, reason=exc.message, retry=True)
        reason = f"{exc.message} (attempt {attempts} of {limit}; skipped for good)"
        try:
            await self._record_skip(entry, feed_id, reason, attempts)
        except StorageError as err:  # not recorded, so not given up: the next poll tries again
            self._overruns[key] = attempts - 1
            log.warning("entry %s: could not record its skip: %s", entry.link, err)
            return ArticleOutcome(entry.link, "failed", entry.title, reason=reason, retry=True)
        self._overruns.pop(key, None)
        log.warning("OPERATOR: entry %s skipped: %s", entry.link, reason)
        return ArticleOutcome(entry.link, "skipped", entry.title, reason=reason)

    async def _record_skip(
        self, entry: FeedEntry, feed_id: int | None, reason: str, attempts: int
    ) -> None:
        """Mark the entry seen and write its ``entry.skipped`` event, in one transaction."""
        data = events.entry_skipped(
            feed_id=feed_id, url=entry.link, title=entry.title, reason=reason, attempts=attempts
        )
        now = self.clock()

        def record(session: Transaction) -> None:
            if feed_id is not None and repo.unseen_entry_ids(session, feed_id, [entry.entry_id]):
                repo.mark_entry_seen(session, feed_id, entry.entry_id, entry.link)
            repo.append_event(session, events.ENTRY_SKIPPED, events.encode(data), now)

        await self.storage.transaction(record)
        if self.notifier is not None:
            self.notifier.notify()

    async def _analyse(self, job: PageJob) -> Analysis:
        """The page's pure stages, in a worker process when there is a pool; raises
        ExtractError, or WorkerTimeoutError past ``extract_timeout``."""
        if self.workers is not None:
            return await self.workers.run(job)
        loop = asyncio.get_running_loop()
        work = functools.partial(analyse, job, self.matcher, self.dedup.config)
        try:
            async with asyncio.timeout(self.options.extract_timeout):
                return await loop.run_in_executor(self.executor, work)
        except TimeoutError as exc:
            raise WorkerTimeoutError(
                f"{job.url}: extraction took longer than {self.options.extract_timeout:g} s"
            ) from exc

    async def _process(
        self, entry: FeedEntry, *, feed_id: int | None, alerts_enabled: bool
    ) -> ArticleOutcome:
        link_canonical = canonicalize_url(self.public_url(entry.link))
        if await self._existing(link_canonical) is not None:
            return _same_url(entry, entry.title, link_canonical, "URL already stored")
        page = await self.fetcher.fetch(entry.link, allowed_types=ARTICLE_TYPES)
        done = await self._analyse(
            PageJob(
                content=page.content,
                url=page.final_url,
                content_type=page.headers.get("content-type"),
                entry_title=entry.title,
                entry_published=entry.published,
                now=self.clock(),
                public_url=self.public_url,
            )
        )
        self._overruns.pop((feed_id, entry.entry_id), None)  # it ran to the end this time
        canonical, title, body, match = done.canonical_url, done.title, done.body, done.match
        now = self.clock()
        published = entry.published or done.article.published or now
        if canonical != link_canonical and await self._existing(canonical) is not None:
            return _same_url(entry, title, canonical, "URL already stored")
        verdict = self.dedup.check(canonical, body, at=now, fingerprint=done.fingerprint)
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
        # No await between the dedup check above and _store: it notes the index it was made on.
        return await self._store(
            candidate, match=match, verdict=verdict, alerts_enabled=alerts_enabled
        )

    async def _store(
        self,
        candidate: Candidate,
        *,
        match: MatchResult,
        verdict: DedupVerdict,
        alerts_enabled: bool,
    ) -> ArticleOutcome:
        """Decide the article's story (:func:`decide_story`) and write it, in one transaction.

        Shielded: once started, a store finishes (and the index learns of it) even when the
        poll that asked for it is cancelled."""
        seen = self._index_version  # the index the verdict was made on
        return await asyncio.shield(
            self._store_in_turn(
                candidate, match=match, verdict=verdict, alerts_enabled=alerts_enabled, seen=seen
            )
        )

    async def _store_in_turn(
        self,
        candidate: Candidate,
        *,
        match: MatchResult,
        verdict: DedupVerdict,
        alerts_enabled: bool,
        seen: int,
    ) -> ArticleOutcome:
        entry, title = candidate.entry, candidate.title
        canonical, now = candidate.canonical_url, candidate.seen_at
        rules = matching_rules(self.rules, match, candidate.source) if alerts_enabled else []
        async with self._store_turn:
            if self._index_version != seen:  # another store added to the index meanwhile
                verdict = self.dedup.check(canonical, candidate.body, at=now)
                if verdict.kind == "same_url":
                    return _same_url(entry, title, canonical, "URL already stored", verdict)
            since = (self._indexed_upto, now - self.dedup.config.window)  # catch-up from here
            write = functools.partial(
                self._decide_and_write, candidate, match, verdict, rules, since
            )
            try:
                written = await self.storage.transaction(write)
            except DuplicateError:
                # Another worker stored the same canonical URL first.
                return _same_url(entry, title, canonical, "stored concurrently")
            except StorageError as exc:
                raise StorageError(
                    f"could not store {canonical}: {exc.detail}", transient=exc.transient
                ) from exc
            if written is None:
                return _same_url(entry, title, canonical, "URL stored by another worker")
            intent, stored, verdict = written
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
            self._index_version += 1
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

    def _decide_and_write(
        self,
        candidate: Candidate,
        match: MatchResult,
        verdict: DedupVerdict,
        rules: Sequence[AlertRule],
        since: tuple[int, datetime],
        session: Transaction,
    ) -> tuple[repo.ArticleIntent, repo.StoredArticle, DedupVerdict] | None:
        """The store's unit of work, in a gate thread; None when the URL turned out stored.

        Other workers store articles too (PostgreSQL): story decisions are serialised across
        them and this one catches up with what they stored first; the index work of that
        catch-up is done on the loop while this thread waits, holding the lock. A SQLite
        database serves one daemon, so there is nobody to catch up with and no query for it."""
        if self.storage.dialect == "postgresql":
            serialise_story_decisions(session)
            rows = list(repo.index_rows(session, *since))
            if rows:
                verdict = self.storage.on_loop(
                    functools.partial(self._catch_up, rows, candidate, verdict)
                )
                if verdict.kind == "same_url":
                    return None
        story_id = story_to_read(verdict, rules)
        story = _story_so_far(session, story_id) if story_id is not None else None
        intent = decide_story(candidate, verdict=verdict, match=match, rules=rules, story=story)
        return intent, repo.write_article(session, intent), verdict

    async def _catch_up(
        self, rows: Sequence[repo.IndexRow], candidate: Candidate, verdict: DedupVerdict
    ) -> DedupVerdict:
        """On the loop: index what other workers stored; the verdict, made again if that
        added anything."""
        if self._sync_index(rows):
            return self.dedup.check(candidate.canonical_url, candidate.body, at=candidate.seen_at)
        return verdict


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
