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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from monitor import events
from monitor.alert import AlertRule, matching_rules
from monitor.daemon.analysis import Analysis, PageJob, analyse
from monitor.daemon.outcome import ArticleOutcome as ArticleOutcome
from monitor.daemon.outcome import same_url
from monitor.daemon.store import Ready, StoryWriter, indexed_article
from monitor.daemon.story import Candidate
from monitor.daemon.workers import WorkerPool
from monitor.dedup import DedupConfig, DedupIndex, DedupVerdict, Fingerprint, canonicalize_url
from monitor.errors import PantauError, StorageError, UnavailableError, WorkerTimeoutError
from monitor.fetch import ARTICLE_TYPES, Fetcher
from monitor.match import Matcher
from monitor.models import FeedEntry, MatchResult
from storage import repo
from storage.engine import Transaction, session_scope
from storage.gate import StorageGate

log = logging.getLogger(__name__)


def identity(url: str) -> str:
    return url


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
        # Stores go through one writer: story decisions and batch writes (store.py).
        self.writer = StoryWriter(storage=self.storage, dedup=dedup, notifier=notifier)

    @property
    def queued(self) -> int:
        """Articles waiting for the batch being written, to go in the next one."""
        return self.writer.queued

    @property
    def writing(self) -> int:
        """Articles in the batch being decided and written now."""
        return self.writer.writing

    @classmethod
    def load_dedup(cls, engine: Engine, config: DedupConfig, now: datetime) -> DedupIndex:
        """Rebuild the in-memory dedup index from the last ``window_days`` of articles
        (identity columns only: no article bodies are read)."""
        since = now - timedelta(days=config.window_days)
        with session_scope(engine) as session:
            records = [
                indexed_article(r) for r in repo.index_rows(session, 0, since) if r.signature
            ]
        return DedupIndex.rebuild(records, config)

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
                storage_error=isinstance(exc, StorageError),
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
            return ArticleOutcome(
                entry.link, "failed", entry.title, reason=reason, retry=True, storage_error=True
            )
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
            return same_url(entry, entry.title, link_canonical, "URL already stored")
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
            return same_url(entry, title, canonical, "URL already stored")
        verdict = self.dedup.check(canonical, body, at=now, fingerprint=done.fingerprint)
        if verdict.kind == "same_url":
            return same_url(entry, title, canonical, "URL already stored", verdict)
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
        return await self._store(
            candidate, match=match, fingerprint=done.fingerprint, alerts_enabled=alerts_enabled
        )

    async def _store(
        self,
        candidate: Candidate,
        *,
        match: MatchResult,
        alerts_enabled: bool,
        fingerprint: Fingerprint | None = None,
        verdict: DedupVerdict | None = None,
    ) -> ArticleOutcome:
        """Store the article: its story decided and written with the articles ready with it
        (:class:`monitor.daemon.store.StoryWriter`).

        ``fingerprint``: the body's, when a worker computed it (else the writer computes it);
        ``verdict``: a check made earlier, not used: the writer makes each article's verdict
        again, in order, on the index as it is then."""
        del verdict
        rules = matching_rules(self.rules, match, candidate.source) if alerts_enabled else []
        return await self.writer.store(Ready(candidate, match, fingerprint, tuple(rules)))
