"""The feed list: ``feeds.toml`` and keeping the database in step (OPML: ``parse.opml``).

Feeds come from two places: the feeds file (``[[feed]]`` tables, managed by the operator's
editor) and ``pantau feeds add`` (straight into the database). Syncing adds file feeds that
are new and updates name, interval, zone and enabled of the ones already known; feeds added
from the command line are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from monitor.config import Settings, read_toml
from monitor.dedup import source_of
from monitor.errors import ConfigError
from monitor.models import FeedSpec
from monitor.parse import check_feed_url
from monitor.paths import default_config_dir
from monitor.timeofday import WIB, parse_zone
from storage.engine import Transaction
from storage.feed_state import feed_by_url, save_feed
from storage.tables import Feed

_FEED_KEYS = frozenset({"url", "name", "interval", "tz", "enabled"})
_UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


# --- validation ------------------------------------------------------------------------------


def zone_for(name: str | None, where: str = "feed") -> tzinfo:
    """A feed's ``tz`` read by :func:`monitor.timeofday.parse_zone`; None means WIB."""
    if not name:
        return WIB
    try:
        return parse_zone(name)
    except ValueError as exc:
        raise ConfigError(f"{where}: tz: {exc}") from exc


def _spec(raw: Any, where: str) -> FeedSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: expected a table with url = "..."')
    unknown = set(raw) - _FEED_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
            f"(allowed: {', '.join(sorted(_FEED_KEYS))})"
        )
    if not isinstance(raw.get("url"), str):
        raise ConfigError(f"{where}: url: required, a string")
    url = check_feed_url(raw["url"], where)
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name: must be a string")
    interval = raw.get("interval")
    if interval is not None and (
        isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0
    ):
        raise ConfigError(f"{where}: interval: must be a positive number of seconds")
    tz = raw.get("tz")
    if tz is not None:
        if not isinstance(tz, str):
            raise ConfigError(f"{where}: tz: must be a string")
        zone_for(tz, where)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: enabled: must be true or false")
    return FeedSpec(
        url=url,
        name=name.strip(),
        interval=float(interval) if interval is not None else None,
        tz=tz,
        enabled=enabled,
    )


def parse_feeds_document(data: dict[str, Any], source: str) -> list[FeedSpec]:
    """``{"feed": [{...}, ...]}`` (a parsed feeds.toml) -> validated specs."""
    unknown = set(data) - {"feed"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))} "
            "(feeds are [[feed]] tables)"
        )
    raw = data.get("feed", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: feed: use [[feed]] tables, one per feed")
    specs: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        spec = _spec(item, f"{source}: feed[{i}]")
        if spec.url in seen:
            raise ConfigError(
                f"{source}: feed[{i}]: {spec.url} is already listed as feed[{seen[spec.url]}]"
            )
        seen[spec.url] = i
        specs.append(spec)
    return specs


def feeds_file_path(settings: Settings) -> Path:
    return settings.feeds_file or default_config_dir() / "feeds.toml"


def load_feeds_file(path: Path) -> list[FeedSpec]:
    """Read and validate a feeds.toml; a missing file is an error naming the path."""
    return parse_feeds_document(read_toml(path), str(path))


# --- database sync -----------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()


def add_feed(
    session: Transaction, spec: FeedSpec, *, default_interval: float, now: datetime
) -> tuple[Feed, bool]:
    """Insert a feed (due at once) or return the existing one; (feed, created)."""
    existing = feed_by_url(session, spec.url)
    if existing is not None:
        return existing, False
    feed = Feed(
        url=spec.url,
        name=spec.name or spec.url,
        source=source_of(spec.url),
        enabled=spec.enabled,
        default_tz=spec.tz,
        interval_seconds=max(1, round(spec.interval or default_interval)),
        next_poll_at=now,
        created_at=now,
    )
    return save_feed(session, feed), True


def _update(feed: Feed, spec: FeedSpec) -> bool:
    changed = False
    wanted: dict[str, Any] = {
        "name": spec.name or feed.name or spec.url,
        "default_tz": spec.tz,
        "enabled": spec.enabled,
    }
    # The feed's own interval is where its schedule starts; lowered by the operator, it applies
    # at once (the next poll is brought forward at start-up: feed_state.rebase_schedules).
    if spec.interval is not None and (feed.polls == 0 or spec.interval < feed.interval_seconds):
        wanted["interval_seconds"] = max(1, round(spec.interval))
    for key, value in wanted.items():
        if getattr(feed, key) != value:
            setattr(feed, key, value)
            changed = True
    return changed


def sync_feeds(
    session: Transaction, specs: Iterable[FeedSpec], *, default_interval: float, now: datetime
) -> SyncReport:
    """Bring the database in step with the feeds file (never deletes a feed)."""
    added: list[str] = []
    updated: list[str] = []
    for spec in specs:
        feed, created = add_feed(session, spec, default_interval=default_interval, now=now)
        if created:
            added.append(spec.url)
        elif _update(feed, spec):
            save_feed(session, feed)
            updated.append(spec.url)
    return SyncReport(tuple(added), tuple(updated))
