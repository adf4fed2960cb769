"""Poll ONE feed: conditional GET, skip what has not changed, hand new entries to the pipeline,
and store the feed's next state (schedule, validators, failures, health).

The order of work, cheapest exit first:

1. GET with the stored ETag / Last-Modified; a 304 ends the poll.
2. sha256 of the body equal to the stored one (servers that ignore conditional GET): ends it.
3. Parse; ask the database which entry ids are new; process only those, a few at a time.
4. Decide the next poll (adaptive interval or back-off) and the feed's health; write it all,
   with any health transition, in one transaction that also frees the feed's lease.

A failure never disables a feed: it backs off, up to ``backoff_max``. Only ``410 Gone`` retires
a feed, with a log line saying so. A feed whose health changes raises one operator alert (log
line, ``feed_events`` row, ``feed.unhealthy`` / ``feed.recovered`` event), not one per poll.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal, Protocol

from sqlalchemy.engine import Engine

from monitor import events
from monitor.backoff import backoff_delay
from monitor.config import ScheduleSettings
from monitor.daemon.cadence import Cadence, PublicationHistory, learned_interval
from monitor.daemon.feedjob import FeedJob, parse_job
from monitor.daemon.feeds import zone_for
from monitor.daemon.pipeline import ArticleOutcome
from monitor.daemon.schedule import (
    Health,
    Limits,
    Staleness,
    health_verdict,
    human_duration,
    jittered,
    might_be_stale,
    staleness,
    transition,
    within_server_hints,
)
from monitor.daemon.workers import WorkerPool
from monitor.errors import ConfigError, FetchError, HTTPStatusError, PantauError, ParseError
from monitor.fetch import FEED_ACCEPT, FEED_TYPES, Fetcher, parse_max_age, validators
from monitor.metrics import Metrics
from monitor.models import FeedEntry, FetchResult, ParsedFeed
from monitor.timeofday import WIB
from storage import feed_state, repo
from storage.engine import Transaction
from storage.errors import StorageError
from storage.feed_state import PollRecord, PollSuccess
from storage.gate import StorageGate
from storage.tables import Feed

log = logging.getLogger(__name__)

PollStatus = Literal["ok", "not_modified", "unchanged", "error", "retired"]
_SLOW_DOWN_STATUSES = frozenset({429, 503})


class EntryProcessor(Protocol):
    """What the poller needs of :class:`monitor.daemon.pipeline.Pipeline`."""

    async def process_entry(
        self, entry: FeedEntry, *, feed_id: int | None, alerts_enabled: bool = True
    ) -> ArticleOutcome: ...


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed did."""

    feed_id: int
    url: str
    status: PollStatus
    next_poll_at: datetime
    entries: int = 0
    new: int = 0
    stored: int = 0
    retry: int = 0
    alerts_enabled: bool = False
    error: str | None = None
    health: str | None = None  # "unhealthy" | "recovered" when it changed on this poll
    released: bool = True  # False: the lease was lost, nothing was written


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _feed_zone(feed: Feed) -> tzinfo:
    try:
        return zone_for(feed.default_tz)
    except ConfigError:
        log.warning(
            "feed %s: unknown time zone %r, reading dates as WIB", feed.url, feed.default_tz
        )
        return WIB


def _unique(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    out: list[FeedEntry] = []
    for e in entries:
        if e.entry_id not in seen:
            seen.add(e.entry_id)
            out.append(e)
    return out


class Poller:
    def __init__(
        self,
        *,
        engine: Engine,
        fetcher: Fetcher,
        processor: EntryProcessor,
        schedule: ScheduleSettings,
        owner: str,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics | None = None,
        on_event: Callable[[], None] | None = None,
        storage: StorageGate | None = None,
        workers: WorkerPool | None = None,
    ) -> None:
        self.engine = engine
        self.workers = workers  # feed parsing runs there, under schedule.parse_timeout
        # Every database call goes through the gate, off the loop (storage.gate).
        self.storage = storage or StorageGate(engine)
        self.on_event = on_event
        self.fetcher = fetcher
        self.processor = processor
        self.schedule = schedule
        self.limits = Limits.from_settings(schedule)
        self.cadence = Cadence(
            min_interval=self.limits.min_interval,
            max_interval=self.limits.max_interval,
            default_interval=schedule.default_interval,
            busy_rate=schedule.busy_rate,
        )
        # Each feed's recent publication instants, learned from its polls (loop-owned; a
        # restart starts from each feed's stored interval until its next changed poll).
        self._history: dict[int, PublicationHistory] = {}
        # Failed polls the database could not take yet: written by release_pending().
        self._pending: dict[int, tuple[Feed, PollRecord, str]] = {}
        self.owner = owner
        self.rng = rng or random.Random()
        self.clock = clock
        self.metrics = metrics

    async def poll(self, feed: Feed) -> PollOutcome:
        """Poll a feed this poller holds the lease on; never raises for the feed's own faults.

        A poll the database failed (unreachable, locked through the poll, a refused write)
        counts as a failed poll of the feed, with its back-off, like any other failure; when
        even that cannot be written, the feed is released by :meth:`release_pending` as soon as
        the database answers again, not after its lease runs out."""
        started = self.clock()
        try:
            return await self._poll(feed, started)
        except StorageError as exc:
            return await self._storage_failed(feed, started, exc)

    async def release_pending(self) -> int:
        """Write the failed polls the database could not take when they ended (releasing their
        feeds); returns how many were written. Raises StorageError while it still cannot."""
        done = 0
        for feed_id, (feed, record, message) in list(self._pending.items()):
            await self._finish(feed, record, "error", error=message)
            del self._pending[feed_id]
            done += 1
        if done:
            log.info("database back: released %d feed(s) whose polls had failed", done)
        return done

    async def _storage_failed(
        self, feed: Feed, started: datetime, exc: StorageError
    ) -> PollOutcome:
        message = f"feed {feed.url}: database trouble: {exc.message}"
        try:
            return await self._failed(feed, started, PantauError(message, transient=True))
        except StorageError:
            pass  # the database cannot take the failure either: remember it
        assert feed.id is not None
        record = self._failure_record(feed, started, message, self._delay(feed, None))
        self._pending[feed.id] = (feed, record, message)
        return PollOutcome(
            feed_id=feed.id,
            url=feed.url,
            status="error",
            next_poll_at=record.next_poll_at,
            error=message,
            released=False,
        )

    async def _poll(self, feed: Feed, started: datetime) -> PollOutcome:
        try:
            result = await self.fetcher.fetch(
                feed.url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                trusted=True,  # the operator chose this URL; links inside it are guarded
                accept=FEED_ACCEPT,
                allowed_types=FEED_TYPES,
            )
        except FetchError as exc:
            return await self._failed(feed, started, exc)
        if self.metrics:
            self.metrics.fetch_latency.labels("feed").observe(result.elapsed)
        if result.not_modified:
            return await self._unchanged(feed, started, result, "not_modified")
        digest = body_hash(result.content)
        if digest == feed.body_hash:
            return await self._unchanged(feed, started, result, "unchanged")
        job = FeedJob(
            result.content, result.final_url, result.headers.get("content-type"), _feed_zone(feed)
        )
        try:
            if self.workers is not None:  # a hostile feed costs a killable process, not the loop
                parsed = await self.workers.parse(job, self.schedule.parse_timeout)
            else:
                parsed = await asyncio.to_thread(parse_job, job)
        except ParseError as exc:
            return await self._failed(feed, started, exc)
        return await self._process(feed, started, result, digest, parsed)

    # -- success ------------------------------------------------------------------------------

    async def _unchanged(
        self, feed: Feed, started: datetime, result: FetchResult, status: PollStatus
    ) -> PollOutcome:
        assert feed.id is not None
        learned = learned_interval(
            self._history.get(feed.id, PublicationHistory()),
            self.clock(),
            self.cadence,
            fallback=float(feed.interval_seconds),
        )
        interval = within_server_hints(
            learned, self.limits, max_age=parse_max_age(result.headers.get("cache-control"))
        )
        etag, last_modified = validators(result.headers)
        return await self._succeeded(
            feed,
            started,
            interval,
            status,
            etag=etag or feed.etag,
            last_modified=last_modified or feed.last_modified,
            body_hash=feed.body_hash,  # unchanged, or not sent again (304)
            new=0,
        )

    async def _process(
        self,
        feed: Feed,
        started: datetime,
        result: FetchResult,
        digest: str,
        parsed: ParsedFeed,
    ) -> PollOutcome:
        assert feed.id is not None
        entries = _unique(parsed.entries)
        unseen = await self.storage.transaction(
            functools.partial(
                repo.unseen_entry_ids, feed_id=feed.id, entry_ids=[e.entry_id for e in entries]
            )
        )
        # Feeds list newest first; oldest first makes the original the first of its story.
        todo = [e for e in reversed(entries) if e.entry_id in unseen]
        alerts_enabled = feed.initial_poll_done or self.schedule.alert_on_first_poll
        outcomes = await self._run_entries(todo, feed.id, alerts_enabled)
        if self.metrics is not None:
            record_outcomes(self.metrics, outcomes)
        if outcomes and all(o.storage_error for o in outcomes):
            # Nothing new could be stored (a database refusing every entry must not look like
            # a healthy feed): a failed poll, backed off; the entries stay unseen.
            return await self._storage_failed(feed, started, StorageError(outcomes[0].reason))
        retries = sum(1 for o in outcomes if o.retry)
        now = self.clock()
        history = self._history.get(feed.id, PublicationHistory()).with_items(
            (e.published or now for e in entries if e.published or e.entry_id in unseen), now
        )
        self._history[feed.id] = history
        interval = within_server_hints(
            learned_interval(
                history,
                now,
                self.cadence,
                fallback=float(feed.interval_seconds),
            ),
            self.limits,
            ttl_minutes=parsed.ttl_minutes,
            max_age=parse_max_age(result.headers.get("cache-control")),
        )
        # An entry left for a retry must be seen again: forget the validators and the body
        # hash, or an unchanged feed would never be parsed again.
        etag, last_modified = validators(result.headers)
        outcome = await self._succeeded(
            feed,
            started,
            interval,
            "ok",
            etag=None if retries else etag,
            last_modified=None if retries else last_modified,
            body_hash=None if retries else digest,
            new=len(todo),
            entries=len(entries),
            stored=sum(1 for o in outcomes if o.status == "stored"),
            retry=retries,
            alerts_enabled=alerts_enabled,
        )
        if retries:
            log.info(
                "feed %s: %d of %d new entries will be retried next poll",
                feed.url,
                retries,
                len(todo),
            )
        return outcome

    async def _run_entries(
        self, entries: Sequence[FeedEntry], feed_id: int, alerts_enabled: bool
    ) -> list[ArticleOutcome]:
        gate = asyncio.Semaphore(self.schedule.article_concurrency)

        async def one(entry: FeedEntry) -> ArticleOutcome:
            async with gate:
                try:
                    return await self.processor.process_entry(
                        entry, feed_id=feed_id, alerts_enabled=alerts_enabled
                    )
                except Exception as exc:  # a bug or a database hiccup: retry next poll
                    log.exception("entry %s failed unexpectedly", entry.link)
                    return ArticleOutcome(
                        entry.link, "failed", entry.title, reason=str(exc), retry=True
                    )

        return list(await asyncio.gather(*(one(e) for e in entries)))

    async def _succeeded(
        self,
        feed: Feed,
        started: datetime,
        interval: float,
        status: PollStatus,
        *,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        new: int,
        **counts: Any,
    ) -> PollOutcome:
        now = self.clock()
        last_new = now if new else feed.last_new_item_at
        health = Health(True)
        if might_be_stale(
            last_new, now, factor=self.schedule.stale_factor, min_gap=self.schedule.min_interval
        ):
            health = health_verdict(
                0,
                None,
                await self._staleness(feed, now),
                unhealthy_after=self.schedule.unhealthy_after_failures,
            )
        next_at = now + timedelta(seconds=jittered(interval, self.schedule.jitter, self.rng))
        record = PollRecord(
            next_poll_at=next_at,
            last_polled_at=started,
            polls=feed.polls + 1,
            interval_seconds=max(1, round(interval)),
            consecutive_failures=0,
            last_error=None,
            healthy=health.healthy,
            unhealthy_reason=health.reason,
            success=PollSuccess(
                at=now,
                last_new_item_at=last_new,
                etag=etag,
                last_modified=last_modified,
                body_hash=body_hash,
            ),
        )
        return await self._finish(feed, record, status, new=new, **counts)

    async def _staleness(self, feed: Feed, now: datetime) -> Staleness:
        assert feed.id is not None
        times = await self.storage.transaction(
            functools.partial(feed_state.new_item_times, feed_id=feed.id)
        )
        return staleness(
            times, now, factor=self.schedule.stale_factor, min_gap=self.schedule.min_interval
        )

    # -- failure ------------------------------------------------------------------------------

    async def _failed(self, feed: Feed, started: datetime, exc: PantauError) -> PollOutcome:
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        if status == 410:
            return await self._retire(feed, started, self.clock(), exc)
        delay = self._delay(feed, exc.retry_after if isinstance(exc, HTTPStatusError) else None)
        failures = feed.consecutive_failures + 1
        what = exc.message if feed.url in exc.message else f"feed {feed.url}: {exc.message}"
        log.warning(
            "%s (failure %d in a row; next try in %s)", what, failures, human_duration(delay)
        )
        record = self._failure_record(
            feed, started, exc.message, delay, slow_down=status in _SLOW_DOWN_STATUSES
        )
        return await self._finish(feed, record, "error", error=exc.message)

    def _delay(self, feed: Feed, retry_after: float | None) -> float:
        return backoff_delay(
            feed.consecutive_failures + 1,
            base=self.schedule.backoff_base,
            cap=self.schedule.backoff_max,
            retry_after=retry_after,
        )

    def _failure_record(
        self, feed: Feed, started: datetime, message: str, delay: float, *, slow_down: bool = False
    ) -> PollRecord:
        now = self.clock()
        failures = feed.consecutive_failures + 1
        interval = float(feed.interval_seconds)
        if slow_down:
            interval = self.limits.clamp(interval * 2)  # asked to slow down: stay slower
        if failures >= self.schedule.unhealthy_after_failures:
            health = health_verdict(
                failures,
                message,
                Staleness(False),
                unhealthy_after=self.schedule.unhealthy_after_failures,
            )
        else:  # too early to call it: keep whatever the feed was
            health = Health(feed.healthy, feed.unhealthy_reason)
        # Jitter only lengthens a back-off: Retry-After is a lower bound.
        spread = abs(jittered(delay, self.schedule.jitter, self.rng) - delay)
        return PollRecord(
            next_poll_at=now + timedelta(seconds=delay + spread),
            last_polled_at=started,
            polls=feed.polls + 1,
            interval_seconds=max(1, round(interval)),
            consecutive_failures=failures,
            last_error=message,
            healthy=health.healthy,
            unhealthy_reason=health.reason,
        )

    async def _retire(
        self, feed: Feed, started: datetime, now: datetime, exc: PantauError
    ) -> PollOutcome:
        reason = "retired: the server answered 410 Gone (the feed was removed)"
        log.warning(
            "feed %s answered 410 Gone: retired, it will not be polled again. Remove it "
            "(pantau feeds remove) or, if it comes back, add it again.",
            feed.url,
        )
        record = PollRecord(
            next_poll_at=now,
            last_polled_at=started,
            polls=feed.polls + 1,
            interval_seconds=feed.interval_seconds,
            consecutive_failures=feed.consecutive_failures + 1,
            last_error=exc.message,
            healthy=False,
            unhealthy_reason=reason,
            retired=True,
        )
        return await self._finish(feed, record, "retired", error=exc.message, event="retired")

    # -- writing it down ----------------------------------------------------------------------

    async def _finish(
        self,
        feed: Feed,
        record: PollRecord,
        status: PollStatus,
        *,
        event: str | None = None,
        **counts: Any,
    ) -> PollOutcome:
        assert feed.id is not None
        now = self.clock()
        health = Health(record.healthy, record.unhealthy_reason)
        change = transition(feed.healthy, health.healthy)
        kind = event or change

        def write(session: Transaction) -> bool:  # in a gate thread: storage work only
            assert feed.id is not None
            released = feed_state.release(session, feed.id, self.owner, record)
            if released and kind is not None:
                failures = record.consecutive_failures
                self._record_event(session, feed, kind, health, now, failures)
            return released

        released = await self.storage.transaction(write)
        if released and kind is not None and self.on_event is not None:
            self.on_event()  # wake in-process readers of the event stream
        if not released:
            log.warning(
                "feed %s: lease lost while polling (another daemon took it over); "
                "this poll's result was dropped",
                feed.url,
            )
        elif change is not None and event is None:
            self._announce(feed, change, health)
        if self.metrics:
            self.metrics.polls.labels("error" if status == "retired" else status).inc()
            if released and change == "unhealthy":
                self.metrics.feeds_unhealthy.inc()
            elif released and change == "recovered":
                self.metrics.feeds_unhealthy.dec()
        return PollOutcome(
            feed_id=feed.id,
            url=feed.url,
            status=status,
            next_poll_at=record.next_poll_at,
            health=change,
            released=released,
            **counts,
        )

    def _record_event(
        self,
        session: Transaction,
        feed: Feed,
        kind: str,
        health: Health,
        now: datetime,
        failures: int,
    ) -> None:
        """A ``feed_events`` row, and the ``feed.unhealthy`` / ``feed.recovered`` event of
        :mod:`monitor.events` (retirement is reported as unhealthy, with its reason)."""
        assert feed.id is not None
        message = health.reason or "healthy again"
        feed_state.add_feed_event(session, feed.id, kind, message, now)
        if health.healthy:
            type_ = events.FEED_RECOVERED
            data = events.feed_recovered(feed_id=feed.id, url=feed.url, name=feed.name)
        else:
            type_ = events.FEED_UNHEALTHY
            data = events.feed_unhealthy(
                feed_id=feed.id,
                url=feed.url,
                name=feed.name,
                reason=message,
                consecutive_failures=failures,
            )
        repo.append_event(session, type_, events.encode(data), now)

    def _announce(self, feed: Feed, change: str, health: Health) -> None:
        name = feed.name or feed.url
        if change == "unhealthy":
            log.warning("OPERATOR: feed unhealthy: %s <%s>: %s", name, feed.url, health.reason)
        else:
            log.warning("OPERATOR: feed recovered: %s <%s> is healthy again", name, feed.url)


def record_outcomes(metrics: Metrics, outcomes: Iterable[ArticleOutcome]) -> None:
    """Count what the pipeline did with a poll's entries."""
    for o in outcomes:
        if o.status == "stored":
            metrics.articles_stored.inc()
        elif o.status == "duplicate":
            metrics.duplicates.labels(o.duplicate_kind or "unknown").inc()
        if o.status in ("stored", "duplicate") and o.article_id is not None:
            for topic in o.match.topics:
                metrics.matches.labels(topic.name).inc()
