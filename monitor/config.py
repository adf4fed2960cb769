"""Configuration: one TOML file plus environment overrides, validated once at start-up.

Precedence (highest first): environment variables ``PANTAU_<SECTION>__<KEY>`` (e.g.
``PANTAU_DATABASE__URL``; ``PANTAU_DATABASE_URL`` is accepted as a shortcut), the TOML file
named by ``--config`` or ``PANTAU_CONFIG``, the packaged ``config/pantau.toml`` defaults.
Secrets never live in the file: channels name an environment variable or a systemd
credential that holds them. One written there anyway still works, with a warning at load that
names the key and says where to move it; ``repr`` and ``str`` of the settings never show a
secret (database passwords, webhook URLs and tokens, SMTP passwords, Authorization headers).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

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
from storage.urls import hide_password

ENV_PREFIX = "PANTAU_"
MASK = "***"

_log = logging.getLogger(__name__)

# A key (or header name) holding one of these words holds a secret; ``*_env``/``*_credential``
# keys only name where a secret is kept and are shown as they are.
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "authorization")
_SECRET_HEADERS = ("authorization", "cookie", "token", "secret", "key")
# Channel keys whose whole value is a credential (Slack's webhook path is the token; an
# Apprise URL carries the service's token) or may carry one (a webhook URL's query).
_SECRET_URL_KEYS = ("webhook_url", "url", "urls")


def _is_reference(key: str) -> bool:
    return key.endswith(("_env", "_credential"))


def _is_secret_key(key: str) -> bool:
    low = key.lower()
    return not _is_reference(low) and any(word in low for word in _SECRET_WORDS)


def _is_secret_header(name: str) -> bool:
    low = name.lower()
    return not _is_reference(low) and any(word in low for word in _SECRET_HEADERS)


def _redacted(key: str, value: Any) -> Any:
    """What ``repr`` shows for a channel option."""
    if _is_reference(key):
        return value
    if _is_secret_key(key) and value:
        return MASK
    if key in _SECRET_URL_KEYS and value:
        return MASK if isinstance(value, str) else [MASK for _ in value]
    if key == "headers" and isinstance(value, Mapping):
        return {k: MASK if _is_secret_header(str(k)) else v for k, v in value.items()}
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = ""  # empty: SQLite file under the data directory
    auto_upgrade: bool = True

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():
            yield key, hide_password(value) if key == "url" else value


class FetchSettings(_Section):
    total_timeout: float = Field(30.0, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)
    max_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0)
    allow_private: bool = False
    user_agent: str = ""


class ScheduleSettings(_Section):
    # Learned per feed from its publication history (monitor.daemon.cadence); these defaults
    # are what benchmarks/bench_timeliness.py measured against fixed intervals.
    default_interval: float = Field(300.0, gt=0)  # until a feed has a history
    min_interval: float = Field(80.0, gt=0)
    max_interval: float = Field(1800.0, gt=0)
    # Items per hour from which a feed counts as busy and is polled every min_interval; a
    # quieter feed waits min_interval * busy_rate / its rate.
    busy_rate: float = Field(6.0, gt=0)
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
    parse_timeout: float = Field(20.0, gt=0)  # seconds of work per feed body, from its start


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

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():
            yield key, value if key is None else _redacted(key, value)

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
    # Host names served besides localhost, 127.0.0.1, [::1] and `host` (DNS-rebinding guard).
    allowed_hosts: list[str] = []
    max_connections: int = Field(64, ge=1)  # open connections; the idlest is closed beyond
    idle_timeout: float = Field(15.0, gt=0)  # seconds without a request in progress
    stream_clients: int = Field(32, ge=1)  # open GET /events streams; more get 503
    stream_queue_bytes: int = Field(1024 * 1024, ge=4096)  # per stream, then it is dropped


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


def _env_name(*parts: str) -> str:
    """A variable name to suggest: ``PANTAU_DESK_PASSWORD``."""
    words = "_".join(parts).upper()
    return "PANTAU_" + "".join(c if c.isalnum() else "_" for c in words)


def _move_secret(where: str, key: str, channel: str, table: str = "the channel") -> str:
    var = _env_name(channel, key)
    cred = var.removeprefix("PANTAU_").lower()
    return (
        f"{where}: a secret written in the configuration file (anyone who can read the file "
        f'has it): in {table}, replace it by {key}_env = "{var}" and set {var} in the '
        f'service\'s environment, or by {key}_credential = "{cred}" with '
        f"LoadCredential={cred}:/etc/pantau/credentials/{cred} in the systemd unit"
    )


def _holds_secret(key: str, value: Any) -> bool:
    if _is_secret_key(key) or key in ("webhook_url", "urls"):
        return True
    # A webhook URL is a secret when it carries a password or a token in its query.
    return key == "url" and isinstance(value, str) and _url_holds_secret(value)


def _url_holds_secret(url: str) -> bool:
    query = urlsplit(url).query.lower()
    return hide_password(url) != url or any(
        f"{word}=" in query for word in ("token", "key", "secret", "sig", "password")
    )


def _channel_secrets(index: int, table: Mapping[str, Any], source: str) -> Iterator[str]:
    name = str(table.get("name") or index)
    for key, value in table.items():
        where = f"{source}: alerts.channels.{index}.{key} (channel {name!r})"
        if key == "headers" and isinstance(value, Mapping):
            for header in value:
                if _is_secret_header(str(header)):
                    at = f"{source}: alerts.channels.{index}.headers.{header} (channel {name!r})"
                    yield _move_secret(at, str(header), name, "the headers table")
        elif value and not _is_reference(key) and _holds_secret(key, value):
            yield _move_secret(where, key, name)


def secrets_in_file(data: Mapping[str, Any], source: str) -> list[str]:
    """Warnings for secrets written literally in a configuration file's ``data``: each names
    the key and says how to move the secret to the environment or a systemd credential."""
    found: list[str] = []
    database = data.get("database")
    url = database.get("url") if isinstance(database, Mapping) else None
    if isinstance(url, str) and hide_password(url) != url:
        found.append(
            f"{source}: database.url: the database password is written in the configuration "
            "file (anyone who can read the file has it): remove it from the URL and set the "
            "whole URL in the environment variable PANTAU_DATABASE_URL (systemd: "
            "EnvironmentFile= readable by the service only), or keep it in the PostgreSQL "
            "password file ~/.pgpass of the service user"
        )
    alerts = data.get("alerts")
    channels = alerts.get("channels") if isinstance(alerts, Mapping) else None
    for i, table in enumerate(channels if isinstance(channels, list) else []):
        if isinstance(table, Mapping):
            found.extend(_channel_secrets(i, table, source))
    return found


def load_settings(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Build the one Settings object. Raises ConfigError naming file, key and reason.

    A secret written in the file is reported through ``warn`` (default: a logged warning)."""
    env = os.environ if env is None else env
    if path is None and env.get("PANTAU_CONFIG"):
        path = Path(env["PANTAU_CONFIG"])
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        data = read_toml(path)
        source = str(path)
        for warning in secrets_in_file(data, source):
            (warn or _log.warning)(warning)
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
