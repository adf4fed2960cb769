"""The daemon's lifecycle: ``pantau run``.

An APScheduler 3.x ``AsyncIOScheduler`` runs three jobs on one event loop: every ``tick`` seconds
(with jitter) claim the feeds whose ``next_poll_at`` has come and start polling them, under a
global cap and the per-host limiter; deliver the alert outbox; and :func:`maintain`, which keeps
memory and the database flat. Every job is a coroutine, so none runs in a thread where it could
touch loop-owned state such as the dedup index. Each feed's schedule lives in the database, so
a restart resumes where the last run stopped, and a feed polled just before a restart is not
polled again until it is due.

SIGTERM/SIGINT: stop scheduling, give in-flight polls ``grace_period`` seconds, cancel the rest
(their open transactions roll back, their entries stay unseen), free the leases, return.
SIGHUP: re-read the feeds file. Under systemd (``Type=notify``) it reports READY and STOPPING
through :mod:`monitor.daemon.notify` and pets the watchdog while the tick job keeps beating; with
``[status] enabled`` it serves the status app (:mod:`monitor.web`) on the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import signal
import socket
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Settings
from monitor.daemon.feeds import feeds_file_path, load_feeds_file, sync_feeds
from monitor.daemon.notify import Notifier, keep_watchdog
from monitor.daemon.poller import Poller, PollOutcome
from monitor.daemon.runtime import Runtime, open_runtime, open_workers
from monitor.errors import ConfigError, DuplicateError, StorageError, UnavailableError
from monitor.events import EventNotifier, prune_events
from monitor.fetch import HostLimiter
from monitor.health import DEFAULT_LIMITS, HealthProbe
from monitor.metrics import Metrics
from monitor.web import ServerLimits, StatusServer, create_app, sse_routes
from storage import feed_state, overview
from storage.engine import Transaction, session_scope
from storage.locks import one_daemon
from storage.retention import prune_bodies
from storage.tables import Feed

log = logging.getLogger(__name__)

MIN_LEASE_SECONDS = 600.0
MIN_OUTBOX_INTERVAL = 1.0
SYNC_ATTEMPTS = 3  # feeds-file syncs racing other workers that start at the same time


@dataclass
class DaemonReport:
    """What a run did; ``outcomes`` is kept only in ``--once`` mode (a daemon runs for months)."""

    polls: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    outcomes: list[PollOutcome] = field(default_factory=list)
    cancelled: int = 0
    worker_cpu_seconds: float = 0.0  # CPU the worker processes reported (benchmarks, status)


CLAIM_AHEAD = 4  # feeds claimed per free poll slot, so claiming is batched
LAG_INTERVAL = 0.25  # seconds between two measurements of the event loop's lag


async def watch_loop_lag(metrics: Metrics, interval: float = LAG_INTERVAL) -> None:
    """Observe, until cancelled, how late ``asyncio.sleep(interval)`` wakes: whatever holds
    the loop (a blocking call, a long computation) shows up in ``pantau_event_loop_lag_seconds``."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(interval)
        metrics.loop_lag.observe(max(0.0, loop.time() - start - interval))


def daemon_owner() -> str:
    """A lease owner name unique to this process run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds(settings: Settings) -> float:
    """Long enough for a feed and its new articles; a crashed daemon's feeds wait this long.
    ``schedule.lease`` overrides it (a test, or an operator who knows polls finish sooner)."""
    if settings.schedule.lease is not None:
        return settings.schedule.lease
    return max(MIN_LEASE_SECONDS, 10 * settings.fetch.total_timeout)


def sync_feeds_file(settings: Settings, runtime: Runtime, *, required: bool) -> None:
    """Bring the database in step with the feeds file; a missing default file is fine.
    Storage work: the daemon runs it in a gate thread (``runtime.storage``)."""
    path = feeds_file_path(settings)
    if not path.is_file() and not required and settings.feeds_file is None:
        log.info("no feeds file at %s; polling the feeds in the database only", path)
        return
    specs = load_feeds_file(path)
    for attempt in range(1, SYNC_ATTEMPTS + 1):
        try:
            with session_scope(runtime.engine) as session:
                report = sync_feeds(
                    session,
                    specs,
                    default_interval=settings.schedule.default_interval,
                    now=datetime.now(UTC),
                )
                # Schedule settings changed since the last run apply now, not after each
                # feed's old next-poll time.
                feed_state.rebase_schedules(
                    session,
                    now=datetime.now(UTC),
                    min_interval=settings.schedule.min_interval,
                    max_interval=settings.schedule.max_interval,
                )
            break
        except DuplicateError:
            # Workers started together add the same feeds; the one that lost the race finds
            # them committed on its next attempt.
            if attempt == SYNC_ATTEMPTS:
                raise
            log.info("feeds file: another worker added the same feeds; syncing again")
    if report.added or report.updated:
        log.info(
            "feeds file %s: %d added, %d updated", path, len(report.added), len(report.updated)
        )


class Daemon:
    """Claims due feeds and polls them; the scheduler (or ``run_once``) drives it."""

    def __init__(
        self,
        runtime: Runtime,
        poller: Poller,
        *,
        owner: str,
        lease: float,
        keep_outcomes: bool = False,
        probe: HealthProbe | None = None,
        on_reload: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.poller = poller
        self.owner = owner
        self.lease = lease
        self.schedule = runtime.settings.schedule
        self.gate = asyncio.Semaphore(self.schedule.global_concurrency)
        self.report = DaemonReport()
        self.keep_outcomes = keep_outcomes
        self.probe = probe or HealthProbe()
        self.on_reload = on_reload
        self.reload_requested = False
        self.stopping = False
        self._polls: dict[int, asyncio.Task[None]] = {}
        self._jobs: set[asyncio.Task[object]] = set()
        self._db_trouble = False
        self._claiming: asyncio.Task[None] | None = None  # the tick's claim, while it waits

    # -- claiming and polling -----------------------------------------------------------------

    async def claim(self, *, exclude: set[int] | None = None) -> list[Feed]:
        # Claim ahead of the concurrency gate: one claim transaction feeds several rounds of
        # polls (the semaphore still bounds what runs at once; leases outlast the wait).
        free = self.schedule.global_concurrency * CLAIM_AHEAD - len(self._polls)
        if free <= 0 or self.stopping:
            return []
        claim = functools.partial(
            feed_state.claim_due_feeds,
            owner=self.owner,
            now=datetime.now(UTC),
            limit=free,
            lease_seconds=self.lease,
            exclude=set(self._polls) | (exclude or set()),
        )
        try:
            feeds = await self.runtime.storage.transaction(claim)
        except StorageError as exc:
            if not self._db_trouble:  # once per outage, not once per tick
                log.error("cannot claim due feeds (database trouble, will keep trying): %s", exc)
            self._db_trouble = True
            return []
        if self._db_trouble:
            log.warning("database reachable again; polling resumes")
            self._db_trouble = False
        return feeds

    def start_polls(self, feeds: list[Feed]) -> None:
        for feed in feeds:
            assert feed.id is not None
            task = asyncio.create_task(self._poll(feed), name=f"poll {feed.url}")
            self._polls[feed.id] = task
            task.add_done_callback(self._forget(feed.id))

    def _forget(self, feed_id: int) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._polls.pop(feed_id, None)

        return done

    async def _poll(self, feed: Feed) -> None:
        async with self.gate:
            try:
                outcome = await self.poller.poll(feed)
            except Exception:
                log.exception("poll of %s failed unexpectedly; its lease will expire", feed.url)
                self.report.by_status["crashed"] += 1
                return
        self.report.polls += 1
        self.report.by_status[outcome.status] += 1
        if outcome.new:
            log.info("feed %s: %d new item(s), %d stored", outcome.url, outcome.new, outcome.stored)
        if self.keep_outcomes:
            self.report.outcomes.append(outcome)

    async def tick(self) -> None:
        """The scheduler job: start polls of every due feed there is room for.

        The claim runs as a task of its own, one at a time: a database that makes it wait
        must not stop the tick, whose heartbeat tells /healthz and the watchdog the
        scheduler is alive."""
        self._track_job()
        self.probe.heartbeat("scheduler")
        if self._claiming is not None and not self._claiming.done():
            return  # the last claim is still waiting for the database
        self._claiming = asyncio.create_task(self._reload_and_claim(), name="claim due feeds")
        self._jobs.add(self._claiming)
        self._claiming.add_done_callback(self._jobs.discard)

    async def _reload_and_claim(self) -> None:
        if self.reload_requested and self.on_reload is not None:
            self.reload_requested = False
            try:
                await self.runtime.storage.run(self.on_reload)  # storage work: a gate thread
            except ConfigError as exc:
                log.error("feeds file not reloaded: %s", exc.message)
        # Polls that failed while the database was away free their feeds first; while it is
        # still away, claim() below says so once.
        with contextlib.suppress(StorageError):
            await self.poller.release_pending()
        feeds = await self.claim()
        if not self.stopping:  # drain began meanwhile: it frees the leases just taken
            self.start_polls(feeds)

    async def deliver(self) -> None:
        """The scheduler job: send due alerts from the outbox."""
        self._track_job()
        if self.stopping:
            return
        try:
            await self.runtime.outbox.deliver_due()
        except StorageError as exc:
            log.warning("alert delivery postponed (database trouble): %s", exc)

    async def maintain(self) -> None:
        """The scheduler job: expire the dedup window and prune old rows (:func:`maintain`)."""
        self._track_job()
        if self.stopping:
            return
        await maintain(self.runtime)

    def _track_job(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)

    async def run_once(self, stop: asyncio.Event) -> DaemonReport:
        """Poll every feed that is due now, once each, then deliver the outbox."""
        polled: set[int] = set()
        while not stop.is_set():
            feeds = await self.claim(exclude=polled)
            polled.update(f.id for f in feeds if f.id is not None)
            self.start_polls(feeds)
            if not self._polls:
                break
            stopper = asyncio.create_task(stop.wait())
            low_water = self.schedule.global_concurrency
            while True:  # claim again once the claimed-ahead queue has drained to one round
                await asyncio.wait(
                    [*self._polls.values(), stopper], return_when=asyncio.FIRST_COMPLETED
                )
                if len(self._polls) <= low_water or stop.is_set():
                    break
            stopper.cancel()
        await self.drain()
        if not stop.is_set():
            await self.runtime.outbox.deliver_due()
        return self.report

    # -- shutdown -----------------------------------------------------------------------------

    async def drain(self) -> None:
        """Let running polls and jobs finish within the grace period; cancel the rest."""
        self.stopping = True
        me = asyncio.current_task()
        pending: set[asyncio.Task[object]] = {
            *self._polls.values(),
            *(t for t in self._jobs if t is not me),
        }
        if pending:
            log.info(
                "waiting up to %.0f s for %d running poll(s)",
                self.schedule.grace_period,
                len(pending),
            )
            _, pending = await asyncio.wait(pending, timeout=self.schedule.grace_period)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            self.report.cancelled += len(pending)
            log.warning(
                "cancelled %d poll(s) still running after the grace period; they "
                "are picked up again on the next start",
                len(pending),
            )
        try:
            await self.runtime.storage.transaction(
                functools.partial(feed_state.release_leases, owner=self.owner)
            )
        except StorageError as exc:
            log.warning(
                "could not free this daemon's feed leases (they expire on their own): %s", exc
            )


async def _init_gauges(runtime: Runtime, metrics: Metrics) -> None:
    total, unhealthy = await runtime.storage.transaction(
        functools.partial(overview.feed_counts, active_only=False)
    )
    metrics.feeds_total.set(total)
    metrics.feeds_unhealthy.set(unhealthy)


async def run_daemon(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    once: bool = False,
    allow_private: bool | None = None,
    env: dict[str, str] | None = None,
    alert_stream: TextIO | None = None,
    handle_signals: bool = True,
    notifier: Notifier | None = None,
    metrics: Metrics | None = None,
    rng: random.Random | None = None,
) -> DaemonReport:
    """Run the polling daemon until ``stop`` is set or a SIGTERM/SIGINT arrives (or, with
    ``once``, until every due feed was polled once). Returns what it did."""
    stop = stop or asyncio.Event()
    metrics = metrics or Metrics.create()
    notifier = notifier or Notifier()
    s = settings.schedule
    async with AsyncExitStack() as stack:
        workers = open_workers(settings, stack)  # worker processes for the pure stages
        stream = EventNotifier()
        runtime = await open_runtime(
            settings,
            stack,
            env=env,
            allow_private=allow_private,
            alert_stream=alert_stream,
            limiter=HostLimiter(s.per_host_concurrency, s.per_host_delay),
            workers=workers,
            notifier=stream,
            metrics=metrics,
        )
        # One daemon per SQLite file: a second would poll the same feeds and alert twice.
        stack.enter_context(one_daemon(runtime.engine))
        await runtime.storage.run(sync_feeds_file, settings, runtime, required=False)
        await _init_gauges(runtime, metrics)
        owner = daemon_owner()
        poller = Poller(
            engine=runtime.engine,
            storage=runtime.storage,
            fetcher=runtime.fetcher,
            processor=runtime.pipeline,
            schedule=s,
            owner=owner,
            rng=rng,
            metrics=metrics,
            on_event=stream.notify,
            workers=workers,
        )
        probe = HealthProbe({"scheduler": max(DEFAULT_LIMITS["scheduler"], 10 * s.tick)})
        daemon = Daemon(
            runtime,
            poller,
            owner=owner,
            lease=lease_seconds(settings),
            keep_outcomes=once,
            probe=probe,
            on_reload=lambda: sync_feeds_file(settings, runtime, required=True),
        )
        loop = asyncio.get_running_loop()
        if handle_signals:
            _install_signals(loop, stop, daemon)
            stack.callback(_remove_signals, loop)
        if once:
            report = await daemon.run_once(stop)
        else:
            report = await _serve(settings, runtime, daemon, stop, notifier, metrics, stream)
    report.worker_cpu_seconds = workers.cpu_seconds if workers is not None else 0.0
    return report


async def deliver_on_commit(daemon: Daemon, stream: EventNotifier, *, every: float) -> None:
    """Send alerts as soon as they are committed: woken by every commit that writes events (an
    article and its alerts are one transaction), and at least every ``every`` seconds for
    retries and digests that came due. Runs until the daemon stops."""
    while not daemon.stopping:
        generation = stream.generation
        await daemon.deliver()
        await stream.wait(generation, every)


async def maintain(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Keep memory and the database flat over months: expire the dedup window, prune old
    events and (when configured) old article bodies. Returns what was removed.

    A coroutine, so the scheduler runs it on the loop: the dedup index is the loop's and is
    expired here, between two stores; only the pruning of rows goes to a gate thread."""
    now = now or datetime.now(UTC)
    r = runtime.settings.retention
    done = {"dedup": runtime.dedup.prune(now - runtime.dedup.config.window)}
    prune = functools.partial(
        _prune_rows,
        events_before=now - timedelta(days=r.events_days),
        bodies_before=now - timedelta(days=r.body_days) if r.body_days else None,
    )
    try:
        done.update(await runtime.storage.transaction(prune))
    except UnavailableError as exc:
        log.warning("maintenance skipped, database unavailable: %s", exc.detail)
    if any(done.values()):
        log.info("maintenance: %s", ", ".join(f"{k} {v}" for k, v in done.items()))
    return done


def _prune_rows(
    session: Transaction, *, events_before: datetime, bodies_before: datetime | None
) -> dict[str, int]:
    """Maintenance's storage work (in a gate thread: it must not touch the dedup index)."""
    return {
        "events": prune_events(session, events_before),
        "bodies": prune_bodies(session, bodies_before) if bodies_before is not None else 0,
    }


async def _serve(
    settings: Settings,
    runtime: Runtime,
    daemon: Daemon,
    stop: asyncio.Event,
    notifier: Notifier,
    metrics: Metrics,
    stream: EventNotifier,
) -> DaemonReport:
    s = settings.schedule
    loop = asyncio.get_running_loop()
    scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
    scheduler.add_job(
        daemon.tick,
        "interval",
        seconds=s.tick,
        jitter=s.tick * s.jitter,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        id="poll",
    )
    scheduler.add_job(
        daemon.maintain,
        "interval",
        seconds=settings.retention.interval,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        id="maintenance",
    )
    status: StatusServer | None = None
    if settings.status.enabled:
        app = create_app(
            engine=runtime.engine,
            metrics=metrics,
            health=daemon.probe,
            extra_routes=sse_routes(
                runtime.engine,
                stream,
                max_clients=settings.status.stream_clients,
                max_queue_bytes=settings.status.stream_queue_bytes,
            ),
            dashboard_scripts=["/events/live.js"],
        )
        status = StatusServer(
            app,
            host=settings.status.host,
            port=settings.status.port,
            limits=ServerLimits.from_settings(settings.status),
        )
        await status.start()
    scheduler.start()
    delivery = asyncio.create_task(
        deliver_on_commit(daemon, stream, every=max(s.tick, MIN_OUTBOX_INTERVAL)),
        name="alert delivery",
    )
    lag = asyncio.create_task(watch_loop_lag(metrics), name="event loop lag")
    watchdog: asyncio.Task[None] | None = None
    interval = notifier.watchdog_interval()
    if interval is not None:
        watchdog = asyncio.create_task(
            keep_watchdog(notifier, daemon.probe.check, interval=interval)
        )
    daemon.probe.set_ready(True)
    notifier.ready(f"watching feeds as {daemon.owner}")
    log.info("pantau daemon %s started (database %s)", daemon.owner, settings.database_url)
    try:
        await stop.wait()
    finally:
        daemon.probe.set_ready(False)
        notifier.stopping("draining in-flight polls")
        log.info("stopping: no new polls; draining")
        scheduler.remove_all_jobs()
        await daemon.drain()
        scheduler.shutdown(wait=False)
        stream.close()
        delivery.cancel()
        await asyncio.gather(delivery, return_exceptions=True)
        if status is not None:
            await status.stop()
        lag.cancel()
        if watchdog is not None:
            watchdog.cancel()
        await asyncio.gather(lag, *([watchdog] if watchdog else []), return_exceptions=True)
    log.info("pantau daemon stopped after %d poll(s)", daemon.report.polls)
    return daemon.report


_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, daemon: Daemon) -> None:
    def request_reload() -> None:
        log.info("SIGHUP: the feeds file will be re-read")
        daemon.reload_requested = True

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, request_reload)


def _remove_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in _SIGNALS:
        loop.remove_signal_handler(sig)
