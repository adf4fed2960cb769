"""Builds the runtime (engine, matcher, fetcher, dedup index, channels, outbox) from Settings.

This is the only place that turns configuration into live objects; everything below receives
what it needs explicitly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from monitor.alert.channels import Channel, build_channel
from monitor.alert.digest import DigestSchedule, parse_clock, parse_quiet_hours
from monitor.alert.flood import FloodPolicy
from monitor.alert.outbox import DeliveryPolicy, Outbox
from monitor.alert.rules import AlertRule
from monitor.config import ChannelSettings, Settings
from monitor.daemon.pipeline import Pipeline
from monitor.dedup.index import DedupConfig, DedupIndex
from monitor.errors import ConfigError, StorageError
from monitor.fetch.client import Fetcher, FetchPolicy
from monitor.match.matcher import Lexicon, Matcher
from storage import migrate
from storage.engine import make_engine
from storage.errors import SchemaError

_OWN_KEYS = {"name", "rate_limit", "rate_period", "give_up_after", "quiet_hours", "quiet_tz"}


def resolve_secrets(
    options: Mapping[str, Any], env: Mapping[str, str], *, channel: str
) -> dict[str, Any]:
    """Replace ``X_env`` / ``X_credential`` references by the secret values they name."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key.endswith("_env"):
            real = key[: -len("_env")]
            secret = env.get(str(value))
            if not secret:
                raise ConfigError(
                    f"alert channel {channel!r}: {key}: environment variable {value} is not set"
                )
            out[real] = secret
        elif key.endswith("_credential"):
            real = key[: -len("_credential")]
            cred_dir = env.get("CREDENTIALS_DIRECTORY")
            if not cred_dir:
                raise ConfigError(
                    f"alert channel {channel!r}: {key}: no $CREDENTIALS_DIRECTORY "
                    "(set LoadCredential= in the systemd unit)"
                )
            try:
                out[real] = (Path(cred_dir) / str(value)).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"alert channel {channel!r}: {key}: cannot read credential {value}: "
                    f"{exc.strerror}"
                ) from exc
        else:
            out[key] = value
    return out


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


def delivery_policies(settings: Settings) -> dict[str, DeliveryPolicy]:
    return {
        ch.name: DeliveryPolicy(
            flood=FloodPolicy(max_messages=ch.rate_limit, per_seconds=ch.rate_period),
            give_up_after=ch.give_up_after,
            retry_base=settings.alerts.retry_base,
            retry_max=settings.alerts.retry_max,
            quiet=parse_quiet_hours(ch.quiet_hours, ch.quiet_tz),
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
    except SchemaError as exc:
        engine.dispose()
        raise StorageError(exc.message, transient=False) from exc
    except OperationalError as exc:
        engine.dispose()
        raise StorageError(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}"
        ) from exc
    return engine


def load_matcher(settings: Settings) -> Matcher:
    return Matcher(Lexicon.load(settings.lexicon_dir))


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


async def open_runtime(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    env: Mapping[str, str] | None = None,
    allow_private: bool | None = None,
    alert_stream: TextIO | None = None,
    public_url: Any = None,
) -> Runtime:
    """Everything the daemon and replay need, closed by ``stack``."""
    env = os.environ if env is None else env
    engine = open_engine(settings)
    stack.callback(engine.dispose)
    matcher = load_matcher(settings)
    channels = build_channels(settings.alerts.channels, env, stdout=alert_stream or sys.stderr)
    for ch in channels.values():
        stack.push_async_callback(ch.aclose)
    fetcher = await stack.enter_async_context(
        Fetcher(fetch_policy(settings, allow_private=allow_private))
    )
    dedup = Pipeline.load_dedup(engine, dedup_config(settings), datetime.now(UTC))
    rules = [AlertRule.from_settings(r) for r in settings.alerts.rules]
    kwargs: dict[str, Any] = {}
    if public_url is not None:
        kwargs["public_url"] = public_url
    pipeline = Pipeline(
        engine=engine, fetcher=fetcher, matcher=matcher, dedup=dedup, rules=rules, **kwargs
    )
    outbox = Outbox(
        engine,
        channels,
        policies=delivery_policies(settings),
        digests=digest_schedules(settings),
    )
    return Runtime(settings, engine, matcher, fetcher, dedup, pipeline, outbox, channels)
