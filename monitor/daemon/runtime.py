"""Builds the runtime (engine, matcher, fetcher, dedup index, channels, outbox) from Settings.

This is the only place that turns configuration into live objects; everything below receives
what it needs explicitly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from concurrent.futures import Executor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy.engine import Engine

from monitor.alert import (
    AlertRule,
    Channel,
    DeliveryPolicy,
    DigestSchedule,
    FloodPolicy,
    Outbox,
    QuietHours,
    build_channel,
)
from monitor.config import ChannelSettings, Settings
from monitor.daemon.analysis import WorkerSpec
from monitor.daemon.pipeline import Pipeline, PipelineOptions
from monitor.daemon.workers import WorkerPool
from monitor.dedup import DedupConfig, DedupIndex
from monitor.errors import SchemaError, StorageError, UnavailableError
from monitor.events import EventNotifier
from monitor.fetch import Fetcher, FetchPolicy, HostLimiter
from monitor.match import Lexicon, Matcher, load_relevance_model
from monitor.metrics import Metrics
from monitor.secrets import resolve_secrets
from monitor.timeofday import parse_clock, parse_window, parse_zone
from storage import migrate
from storage.engine import make_engine
from storage.gate import StorageGate

_OWN_KEYS = {"name", "rate_limit", "rate_period", "give_up_after", "quiet_hours", "quiet_tz"}


def build_channels(
    channels: list[ChannelSettings],
    env: Mapping[str, str],
    *,
    stdout: TextIO | None = None,
) -> dict[str, Channel]:
    built: dict[str, Channel] = {}
    for ch in channels:
        options = {
            k: v
            for k, v in resolve_secrets(ch.options, env, channel=ch.name).items()
            if k not in _OWN_KEYS
        }
        built[ch.name] = build_channel(ch.name, options, stdout=stdout)
    return built


def quiet_hours(channel: ChannelSettings) -> QuietHours | None:
    """The channel's ``quiet_hours`` window in its ``quiet_tz``; None when it has none."""
    window = parse_window(channel.quiet_hours)
    if window is None:
        return None
    return QuietHours(*window, parse_zone(channel.quiet_tz))


def delivery_policies(settings: Settings) -> dict[str, DeliveryPolicy]:
    return {
        ch.name: DeliveryPolicy(
            flood=FloodPolicy(max_messages=ch.rate_limit, per_seconds=ch.rate_period),
            give_up_after=ch.give_up_after,
            retry_base=settings.alerts.retry_base,
            retry_max=settings.alerts.retry_max,
            quiet=quiet_hours(ch),
        )
        for ch in settings.alerts.channels
    }


def digest_schedules(settings: Settings) -> dict[str, DigestSchedule]:
    """Rule name -> when its held alerts go out, for the rules with ``digest`` set."""
    return {
        r.name: DigestSchedule(r.digest, parse_clock(r.digest_at))
        for r in settings.alerts.rules
        if r.digest
    }


def fetch_policy(settings: Settings, *, allow_private: bool | None = None) -> FetchPolicy:
    f = settings.fetch
    kwargs: dict[str, Any] = {
        "total_timeout": f.total_timeout,
        "connect_timeout": f.connect_timeout,
        "read_timeout": f.read_timeout,
        "max_bytes": f.max_bytes,
        "max_redirects": f.max_redirects,
        "allow_private": f.allow_private if allow_private is None else allow_private,
    }
    if f.user_agent:
        kwargs["user_agent"] = f.user_agent
    return FetchPolicy(**kwargs)


def dedup_config(settings: Settings) -> DedupConfig:
    return DedupConfig(threshold=settings.dedup.threshold, window_days=settings.dedup.window_days)


def open_engine(settings: Settings, *, upgrade: bool | None = None) -> Engine:
    """Connect and make sure the schema is this Pantau's: migrated to head when
    ``database.auto_upgrade`` (or ``upgrade``) is on, else checked. Raises StorageError."""
    try:
        engine = make_engine(settings.database_url)
    except OSError as exc:  # the SQLite file's directory cannot be created
        reason = (
            "is a file, not a directory"
            if isinstance(exc, FileExistsError | NotADirectoryError)
            else f"cannot be created: {exc.strerror or exc}"
        )
        raise StorageError(
            f"cannot create the database {settings.database_url}: {exc.filename or 'its folder'} "
            f"{reason}; choose another --db or database.url",
            transient=False,
        ) from exc
    run_upgrade = settings.database.auto_upgrade if upgrade is None else upgrade
    try:
        if run_upgrade:
            migrate.upgrade(engine)
        else:
            migrate.check(engine)
    except SchemaError:
        engine.dispose()
        raise
    except UnavailableError as exc:
        engine.dispose()
        raise StorageError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.detail}",
            transient=exc.transient,
        ) from exc
    return engine


def load_matcher(settings: Settings) -> Matcher:
    model = load_relevance_model(settings.matching.relevance_model)
    return Matcher(Lexicon.load(settings.lexicon_dir), model)


def open_workers(settings: Settings, stack: AsyncExitStack) -> WorkerPool | None:
    """The worker processes of ``schedule.extract_workers`` (closed by ``stack``); None for 0,
    when the pure stages run in-process."""
    s = settings.schedule
    if s.extract_workers < 1:
        return None
    spec = WorkerSpec(
        lexicon_dir=settings.lexicon_dir,
        relevance_model=settings.matching.relevance_model,
        dedup=dedup_config(settings),
    )
    pool = WorkerPool(spec, workers=s.extract_workers, timeout=s.extract_timeout)
    stack.callback(pool.close)
    return pool


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    matcher: Matcher
    fetcher: Fetcher
    dedup: DedupIndex
    pipeline: Pipeline
    outbox: Outbox
    channels: dict[str, Channel]
    storage: StorageGate  # the one async door to the database (storage.gate)


async def open_runtime(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    env: Mapping[str, str] | None = None,
    allow_private: bool | None = None,
    alert_stream: TextIO | None = None,
    public_url: Any = None,
    limiter: HostLimiter | None = None,
    executor: Executor | None = None,
    notifier: EventNotifier | None = None,
    metrics: Metrics | None = None,
    workers: WorkerPool | None = None,
) -> Runtime:
    """Everything the daemon and replay need, built once and closed by ``stack``.

    ``limiter``: per-host limits for every fetch (feeds and the article pages they link to
    alike); ``workers``: the processes a page's pure stages run in (:func:`open_workers`),
    else they run in-process, in ``executor``; ``notifier``: woken by every commit that
    writes events; ``metrics``: the daemon's counters."""
    env = os.environ if env is None else env
    engine = open_engine(settings)
    stack.callback(engine.dispose)
    storage = StorageGate(engine)
    stack.callback(storage.close)
    matcher = load_matcher(settings)
    channels = build_channels(settings.alerts.channels, env, stdout=alert_stream or sys.stderr)
    for ch in channels.values():
        stack.push_async_callback(ch.aclose)
    fetcher = await stack.enter_async_context(
        Fetcher(fetch_policy(settings, allow_private=allow_private), limiter=limiter)
    )
    dedup = await storage.run(
        Pipeline.load_dedup, engine, dedup_config(settings), datetime.now(UTC)
    )
    rules = [AlertRule.from_settings(r) for r in settings.alerts.rules]
    kwargs: dict[str, Any] = {}
    if public_url is not None:
        kwargs["public_url"] = public_url
    pipeline = Pipeline(
        engine=engine,
        fetcher=fetcher,
        matcher=matcher,
        dedup=dedup,
        rules=rules,
        executor=executor,
        workers=workers,
        options=PipelineOptions(
            extract_timeout=settings.schedule.extract_timeout,
            extract_attempts=settings.schedule.extract_attempts,
        ),
        notifier=notifier,
        storage=storage,
        **kwargs,
    )
    outbox = Outbox(
        engine,
        channels,
        policies=delivery_policies(settings),
        digests=digest_schedules(settings),
        notifier=notifier,
        metrics=metrics,
        storage=storage,
    )
    return Runtime(settings, engine, matcher, fetcher, dedup, pipeline, outbox, channels, storage)
