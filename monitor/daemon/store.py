"""Storing analysed articles: story decisions and writes, a batch per transaction.

:class:`StoryWriter` takes the articles the pipeline has analysed and matched (:class:`Ready`)
and stores them with group commit (:meth:`StoryWriter._flush` says how batches form). For each
batch, in one transaction (:func:`storage.batch.write_articles`): catch up with what other
workers stored (PostgreSQL), make every article's dedup verdict again in order on the loop, so
that article k sees articles 1..k-1 of its batch (:meth:`StoryWriter._plan`), decide each story
(:func:`monitor.daemon.story.decide_story`), write them all; then index them on the loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor import events
from monitor.alert import AlertRule
from monitor.daemon.outcome import ArticleOutcome, same_url
from monitor.daemon.story import Candidate, StorySoFar, decide_story, is_copy, story_to_read
from monitor.dedup import DedupIndex, DedupVerdict, Fingerprint, IndexedArticle
from monitor.errors import DuplicateError, StorageError
from monitor.models import FeedEntry, MatchResult
from storage import batch, repo
from storage.engine import Transaction
from storage.gate import StorageGate
from storage.locks import serialise_story_decisions

log = logging.getLogger(__name__)

MAX_BATCH = 50  # articles per transaction at most (a busy poll's worth)


class StoryWriter:
    """Decides and writes articles a batch at a time; the one writer of a pipeline."""

    def __init__(
        self,
        *,
        storage: StorageGate,
        dedup: DedupIndex,
        notifier: events.EventNotifier | None = None,
    ) -> None:
        self.storage = storage
        self.dedup = dedup  # the loop's: touched on the loop only
        self.notifier = notifier  # woken after each commit that wrote events
        self._indexed_upto = 0  # highest article id known to the in-memory dedup index
        # Articles waiting for the next batch write, and the one task writing them (_flush):
        # each article's verdict is made again there, in order, so none is decided on an
        # index another store changed meanwhile.
        self._pending: list[tuple[Ready, asyncio.Future[ArticleOutcome]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._writing = 0  # articles in the batch being written

    @property
    def queued(self) -> int:
        """Articles waiting for the batch being written, to go in the next one."""
        return len(self._pending)

    @property
    def writing(self) -> int:
        """Articles in the batch being decided and written now."""
        return self._writing

    async def store(self, ready: Ready) -> ArticleOutcome:
        """Queue the article for the next batch write and await its outcome.

        Shielded: once queued, an article is decided and written (and the index learns of it)
        even when the poll that asked for it is cancelled."""
        done: asyncio.Future[ArticleOutcome] = asyncio.get_running_loop().create_future()
        self._pending.append((ready, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="pantau-store")
        return await asyncio.shield(done)

    def _sync_index(self, rows: Sequence[repo.IndexRow]) -> int:
        """Add articles other workers stored since we last looked; returns how many. Runs on
        the loop: the index is the loop's."""
        added = 0
        for r in rows:
            self._indexed_upto = max(self._indexed_upto, r.id)
            if r.id in self.dedup or not r.signature:
                continue
            self.dedup.add(indexed_article(r))
            added += 1
        return added

    async def _flush(self) -> None:
        """Write what is queued, a batch at a time, until nothing is left (group commit).

        Why batches form this way: an article is written as soon as it is ready if the writer
        is idle (alert latency first: a slow page never holds back the others of its poll);
        while a batch is being written, whatever becomes ready meanwhile (from this poll or
        others) queues up and goes in the next transaction. So batches grow exactly when writes
        are the bottleneck, up to a whole poll (``MAX_BATCH``), and stay small when they are
        not. One writer at a time also serialises the story decisions on the loop's side."""
        while self._pending:
            group = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            self._writing = len(group)
            results: list[ArticleOutcome | BaseException]
            try:
                results = list(await self._write_group([ready for ready, _ in group]))
            except Exception as exc:  # a bug: each waiting entry fails (and is retried)
                log.exception("batch of %d articles failed", len(group))
                results = [exc] * len(group)
            finally:
                self._writing = 0
            for (_, done), result in zip(group, results, strict=True):
                if done.done():
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    async def _write_group(self, group: Sequence[Ready]) -> list[ArticleOutcome | StorageError]:
        """The group in one transaction; if that fails for good (a unique key another worker
        stored meanwhile, or any other refusal), article by article, so none is lost or
        written twice (the failed transaction wrote nothing)."""
        try:
            return list(await self._write_batch(group))
        except DuplicateError as exc:
            if len(group) == 1:
                ready = group[0]
                return [same_url(ready.entry, ready.title, ready.url, "stored concurrently")]
            log.info("batch of %d articles refused (%s): writing them one by one", len(group), exc)
        except StorageError as exc:
            # Busy or gone, the database refuses one by one too: every article waits for the
            # next poll. Anything else may be one article's fault: the others must not pay.
            if exc.transient or len(group) == 1:
                where = group[0].url if len(group) == 1 else f"{len(group)} articles"
                error = StorageError(
                    f"could not store {where}: {exc.detail}", transient=exc.transient
                )
                error.__cause__ = exc
                return [error] * len(group)
            log.warning(
                "batch of %d articles failed (%s): writing them one by one", len(group), exc
            )
        out: list[ArticleOutcome | StorageError] = []
        for ready in group:
            out.extend(await self._write_group([ready]))
        return out

    async def _write_batch(self, group: Sequence[Ready]) -> list[ArticleOutcome]:
        """Decide every article's story in order and write them all in one transaction; then,
        on the loop, index what was written."""
        first_seen = min(r.candidate.seen_at for r in group)
        since = (self._indexed_upto, first_seen - self.dedup.config.window)  # catch-up from here
        write = functools.partial(self._decide_and_write, group, since)
        plans, intents, stored = await self.storage.transaction(write)
        if stored:
            # Article writes take turns under the story-decision lock (PostgreSQL) or the
            # database's (SQLite), and this batch caught up first: nobody stored anything
            # between the catch-up and these ids, so the next catch-up starts above them
            # instead of reading this worker's own articles again.
            self._indexed_upto = max(self._indexed_upto, *(s.article_id for s in stored))
            if self.notifier is not None:
                self.notifier.notify()
        written = iter(zip(intents, stored, strict=True))
        outcomes: list[ArticleOutcome] = []
        for plan in plans:
            ready, verdict = plan.ready, plan.verdict
            if plan.position is None:
                outcomes.append(
                    same_url(ready.entry, ready.title, ready.url, plan.reason, plan.known)
                )
                continue
            intent, done = next(written)
            self.dedup.add(
                IndexedArticle(
                    article_id=done.article_id,
                    story_id=done.story_id,
                    canonical_url=ready.url,
                    body_hash=verdict.body_hash,
                    signature=verdict.signature.to_bytes(),
                    seen_at=ready.candidate.seen_at,
                )
            )
            outcomes.append(_stored(ready, intent, done))
        return outcomes

    def _decide_and_write(
        self,
        group: Sequence[Ready],
        since: tuple[int, datetime],
        session: Transaction,
    ) -> tuple[list[_Plan], list[repo.ArticleIntent], list[repo.StoredArticle]]:
        """The batch's unit of work, in a gate thread: verdicts (on the loop), story decisions
        in order, one write.

        Other workers store articles too (PostgreSQL): story decisions are serialised across
        them and this one catches up with what they stored first, once per batch; the index
        work of that catch-up is done on the loop while this thread waits, holding the lock. A
        SQLite database serves one daemon, so there is nobody to catch up with and no query
        for it."""
        rows: list[repo.IndexRow] = []
        if self.storage.dialect == "postgresql":
            serialise_story_decisions(session)
            rows = list(repo.index_rows(session, *since))
        plans = self.storage.on_loop(functools.partial(self._plan, rows, group))
        intents: list[repo.ArticleIntent] = []
        # Stories as stored (read once, when a copy's follow-up needs one), and what this
        # batch adds to them: its articles' actors; a story it opens, its first body too.
        # Keys are story ids, negative (scratch ids) for the stories the batch opens.
        stored: dict[int, StorySoFar] = {}
        added: dict[int, StorySoFar] = {}
        for plan in plans:
            if plan.position is None:
                continue
            ready, verdict = plan.ready, plan.verdict
            key = story_to_read(verdict, ready.rules)
            if key is not None and key > 0 and key not in stored:
                stored[key] = _story_so_far(session, key)
            intent = decide_story(
                ready.candidate,
                verdict=verdict,
                match=ready.match,
                rules=ready.rules,
                story=_merged(stored.get(key), added.get(key)) if key is not None else None,
            )
            story = verdict.story_id if is_copy(verdict) else _local(plan.position)
            assert story is not None
            if story < 0 and is_copy(verdict):  # joins a story this batch opens
                intent = replace(intent, story_id=None, batch_story=-story - 1)
            intents.append(intent)
            added[story] = _with_article(added.get(story), ready)
        return plans, intents, batch.write_articles(session, intents)

    async def _plan(self, rows: Sequence[repo.IndexRow], group: Sequence[Ready]) -> list[_Plan]:
        """On the loop: index what other workers stored, then each article's verdict in turn,
        against the stored articles (the index) and the batch's earlier ones (a scratch index
        of this batch, whose ids are positions: the index itself only ever holds stored
        articles, so a batch that fails leaves nothing behind in it)."""
        if rows:
            self._sync_index(rows)
        local = DedupIndex(self.dedup.config)
        plans: list[_Plan] = []
        position = 0
        for ready in group:
            c = ready.candidate
            stored = self.dedup.check(c.canonical_url, c.body, at=c.seen_at, fingerprint=ready.fp)
            if stored.kind == "same_url":
                plans.append(_Plan(ready, stored, None, "URL already stored", stored))
                continue
            ours = local.check(c.canonical_url, c.body, at=c.seen_at, fingerprint=ready.fp)
            if ours.kind == "same_url":
                plans.append(_Plan(ready, ours, None, "URL twice in one batch"))
                continue
            verdict = _nearer(stored, ours)
            story = verdict.story_id if is_copy(verdict) else _local(position)
            assert story is not None
            local.add(
                IndexedArticle(
                    article_id=_local(position),
                    story_id=story,
                    canonical_url=c.canonical_url,
                    body_hash=verdict.body_hash,
                    signature=verdict.signature.to_bytes(),
                    seen_at=c.seen_at,
                )
            )
            plans.append(_Plan(ready, verdict, position))
            position += 1
        return plans


MAX_BATCH = 50  # articles per transaction at most (a busy poll's worth)


@dataclass(frozen=True)
class Ready:
    """An article analysed and matched, for the next batch write."""

    candidate: Candidate
    match: MatchResult
    fp: Fingerprint | None  # None: computed from the body when the verdict is made
    rules: tuple[AlertRule, ...]

    @property
    def entry(self) -> FeedEntry:
        return self.candidate.entry

    @property
    def title(self) -> str:
        return self.candidate.title

    @property
    def url(self) -> str:
        return self.candidate.canonical_url


@dataclass(frozen=True)
class _Plan:
    """A queued article's verdict in its batch; ``position`` among the batch's written
    articles, None when it is not written (its URL is stored: ``reason``, ``known``)."""

    ready: Ready
    verdict: DedupVerdict
    position: int | None
    reason: str = ""
    known: DedupVerdict | None = None


def _local(position: int) -> int:
    """The scratch id of the batch's article at ``position`` (negative: never a stored id)."""
    return -position - 1


def _nearer(stored: DedupVerdict, ours: DedupVerdict) -> DedupVerdict:
    """One verdict from the stored articles' and the batch's: exact before near, stored
    before the batch, the most similar near copy."""
    if stored.kind == "exact" or ours.kind == "new":
        return stored
    if ours.kind == "exact" or stored.kind == "new":
        return ours
    return stored if (stored.similarity or 0.0) >= (ours.similarity or 0.0) else ours


def _with_article(story: StorySoFar | None, ready: Ready) -> StorySoFar:
    """What the batch adds to a story with this article: its actors (and, opening the story,
    its body as the first)."""
    actors = frozenset(a.name for a in ready.match.actors)
    if story is None:
        return StorySoFar(actor_names=actors, first_body=ready.candidate.body)
    return StorySoFar(story.actor_names | actors, story.first_body)


def _merged(stored: StorySoFar | None, added: StorySoFar | None) -> StorySoFar | None:
    """A story as the database has it, with what the batch added so far."""
    if stored is None or added is None:
        return stored or added
    return StorySoFar(stored.actor_names | added.actor_names, stored.first_body)


def _stored(ready: Ready, intent: repo.ArticleIntent, stored: repo.StoredArticle) -> ArticleOutcome:
    duplicate_kind = intent.article.duplicate_kind
    return ArticleOutcome(
        ready.entry.link,
        "stored" if duplicate_kind is None else "duplicate",
        ready.title,
        ready.url,
        "" if duplicate_kind is None else f"{duplicate_kind} copy of story {stored.story_id}",
        article_id=stored.article_id,
        story_id=stored.story_id,
        match=ready.match,
        alerted=bool(intent.alerts),
        follow_up=intent.follow_up,
        duplicate_kind=duplicate_kind,
    )


def _story_so_far(session: Transaction, story_id: int) -> StorySoFar:
    return StorySoFar(
        actor_names=frozenset(repo.story_actor_names(session, story_id)),
        first_body=repo.story_first_body(session, story_id),
    )


def indexed_article(r: repo.IndexRow) -> IndexedArticle:
    return IndexedArticle(
        article_id=r.id,
        story_id=r.story_id,
        canonical_url=r.canonical_url,
        body_hash=r.body_hash,
        signature=r.signature or b"",
        seen_at=r.seen_at,
    )
