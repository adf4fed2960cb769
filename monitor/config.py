"""Configuration: one TOML file plus environment overrides, validated once at start-up.

Precedence (highest first): environment variables ``PANTAU_<SECTION>__<KEY>`` (e.g.
``PANTAU_DATABASE__URL``; ``PANTAU_DATABASE_URL`` is accepted as a shortcut), the TOML file
named by ``--config`` or ``PANTAU_CONFIG``, the packaged ``config/pantau.toml`` defaults.
Secrets never live in the file: channels name an environment variable or a systemd
credential that holds them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from monitor.errors import ConfigError
from monitor.paths import default_config_dir, default_data_dir
from monitor.timeofday import parse_clock, parse_window, parse_zone

ENV_PREFIX = "PANTAU_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = ""  # empty: SQLite file under the data directory
    auto_upgrade: bool = True


class FetchSettings(_Section):
    total_timeout: float = Field(30.0, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)
    max_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0)
    allow_private: bool = False
    user_agent: str = ""


class ScheduleSettings(_Section):
    default_interval: float = Field(600.0, gt=0)
    min_interval: float = Field(120.0, gt=0)
    max_interval: float = Field(7200.0, gt=0)
    jitter: float = Field(0.1, ge=0, le=1)
    global_concurrency: int = Field(16, gt=0)
    per_host_concurrency: int = Field(2, gt=0)
    per_host_delay: float = Field(1.0, ge=0)
    backoff_base: float = Field(60.0, gt=0)
    backoff_max: float = Field(6 * 3600.0, gt=0)
    unhealthy_after_failures: int = Field(3, gt=0)
    stale_factor: float = Field(8.0, gt=1)
    alert_on_first_poll: bool = False
    grace_period: float = Field(20.0, ge=0)
    tick: float = Field(5.0, gt=0)
    # Seconds a daemon holds a claimed feed; a crashed daemon's feeds wait this long. None:
    # max(600, 10 x fetch.total_timeout). Shorter only if every poll surely finishes sooner.
    lease: float | None = Field(None, gt=0)
    article_concurrency: int = Field(4, gt=0)
    # Worker processes for a page's pure stages (extract, match, dedup fingerprint); 0 runs
    # them in the daemon's own process. Default: one per core.
    extract_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0)
    extract_timeout: float = Field(60.0, gt=0)  # seconds of work per page, from its start
    extract_attempts: int = Field(3, gt=0)  # overruns before an entry is recorded as skipped


class DedupSettings(_Section):
    threshold: float = Field(0.5, gt=0, le=1)
    window_days: int = Field(14, gt=0)


class RetentionSettings(_Section):
    events_days: int = Field(30, gt=0)  # the /events stream and `pantau tail` replay window
    body_days: int = Field(0, ge=0)  # 0 keeps article bodies; N prunes bodies older than N days
    interval: float = Field(3600.0, gt=0)  # seconds between maintenance runs of the daemon


class MatchingSettings(_Section):
    lexicon_dir: Path | None = None
    # "bundled": the relevance model shipped with Pantau; "rules": topics.toml's rules alone;
    # or the path of a model built by `pantau relevance train --output PATH`.
    relevance_model: str = "bundled"


class RuleSettings(_Section):
    name: str
    actors: list[str] = []  # canonical names; empty = any tracked actor
    topics: list[str] = ["nato", "ukraine", "us_russia"]
    require_actor: bool = True
    require_substantive: bool = True
    # With the relevance model: alert only on topics it judges at least this likely (0-1).
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    sources: list[str] = []
    channels: list[str] = ["console"]
    # Hold this rule's alerts and send them as one digest every hour on the hour, or daily at
    # digest_at (WIB). Empty: alert at once.
    digest: Literal["", "hourly", "daily"] = ""
    digest_at: str = "07:00"

    @field_validator("digest_at")
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value


class ChannelSettings(BaseModel):
    """One alert channel. Channel-specific keys (host, port, recipients, ...) pass through to
    the channel builder, which validates them. Secrets are never written here: a key ending in
    ``_env`` names an environment variable (``webhook_url_env = "PANTAU_SLACK_WEBHOOK_URL"``),
    one ending in ``_credential`` names a systemd credential (``LoadCredential=``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    type: Literal["console", "slack", "email", "webhook", "jsonl", "apprise"]
    rate_limit: int = Field(20, gt=0)
    rate_period: float = Field(600.0, gt=0)
    give_up_after: float = Field(6 * 3600.0, gt=0)
    # "22:00-06:00": hold alerts in this daily window (in quiet_tz) and send them as one morning
    # summary when it ends. Empty: no quiet hours.
    quiet_tz: str = "Asia/Jakarta"  # WIB, WITA, WIT or an IANA name
    quiet_hours: str = ""

    @field_validator("quiet_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        parse_zone(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @property
    def options(self) -> dict[str, Any]:
        """The channel-specific keys (including the ``_env``/``_credential`` references)."""
        extra = dict(self.model_extra or {})
        extra["type"] = self.type
        return extra


class AlertSettings(_Section):
    rules: list[RuleSettings] = [RuleSettings(name="default")]
    channels: list[ChannelSettings] = [ChannelSettings(name="console", type="console")]
    retry_base: float = Field(30.0, gt=0)
    retry_max: float = Field(1800.0, gt=0)

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, value: list[ChannelSettings]) -> list[ChannelSettings]:
        names = [c.name for c in value]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"channel names must be unique, repeated: {', '.join(sorted(dupes))}")
        return value


class StatusSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)


class Settings(_Section):
    data_dir: Path = Field(default_factory=default_data_dir)
    feeds_file: Path | None = None
    database: DatabaseSettings = DatabaseSettings()
    fetch: FetchSettings = FetchSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    dedup: DedupSettings = DedupSettings()
    matching: MatchingSettings = MatchingSettings()
    retention: RetentionSettings = RetentionSettings()
    alerts: AlertSettings = AlertSettings()
    status: StatusSettings = StatusSettings()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'pantau.db'}"

    @property
    def lexicon_dir(self) -> Path:
        return self.matching.lexicon_dir or default_config_dir()


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """PANTAU_SECTION__KEY=value -> {"section": {"key": value}} (values stay strings)."""
    out: dict[str, Any] = {}
    if env.get("PANTAU_DATABASE_URL"):
        out.setdefault("database", {})["url"] = env["PANTAU_DATABASE_URL"]
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(merged.get(k), dict):
            merged[k] = _merge(merged[k], v)
        else:
            merged[k] = v
    return merged


def _env_sources(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Settings path -> the environment variable that set it (to name it in errors)."""
    out: dict[tuple[str, ...], str] = {}
    if env.get("PANTAU_DATABASE_URL"):
        out[("database", "url")] = "PANTAU_DATABASE_URL"
    for key in env:
        if key.startswith(ENV_PREFIX) and "__" in key:
            out[tuple(key[len(ENV_PREFIX) :].lower().split("__"))] = key
    return out


def _format_validation(
    source: str, exc: ValidationError, env_sources: Mapping[tuple[str, ...], str] | None = None
) -> str:
    lines = []
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        where = source
        for env_path, var in (env_sources or {}).items():
            if path[: len(env_path)] == env_path or env_path[: len(path)] == path:
                where = f"environment variable {var}"
        lines.append(f"{where}: {'.'.join(path)}: {err['msg']}")
    return "\n".join(lines)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def load_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the one Settings object. Raises ConfigError naming file, key and reason."""
    env = os.environ if env is None else env
    if path is None and env.get("PANTAU_CONFIG"):
        path = Path(env["PANTAU_CONFIG"])
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        data = read_toml(path)
        source = str(path)
    data = _merge(data, _env_overrides(env))
    if overrides:
        data = _merge(data, overrides)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc, _env_sources(env))) from exc
    _check_references(settings, source)
    return settings


def _check_references(settings: Settings, source: str) -> None:
    names = {c.name for c in settings.alerts.channels}
    for i, rule in enumerate(settings.alerts.rules):
        for ch in rule.channels:
            if ch not in names:
                raise ConfigError(
                    f"{source}: alerts.rules.{i}.channels: unknown channel {ch!r} "
                    f"(defined: {', '.join(sorted(names)) or 'none'})"
                )
