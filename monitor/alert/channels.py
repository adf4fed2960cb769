"""The ``Channel`` protocol, building channels from config tables, and ``test_channel``.

A config table (one ``[alerts.channels.NAME]`` in TOML, after the settings layer has resolved
environment references) looks like::

    type = "slack";   webhook_url = "https://hooks.slack.com/services/..."; timeout = 10
    type = "email";   host = "smtp.example.org"; port = 587; sender = "Pantau <p@example.org>"
                      recipients = ["desk@example.org"]; username = "..."; password = "..."
                      security = "starttls"  # or "tls" / "none"; tls_verify = true; cafile = "..."
                      list_unsubscribe = "mailto:desk-admin@example.org"; timeout = 20
    type = "webhook"; url = "https://..."; headers = {Authorization = "Bearer ..."}; timeout = 10
    type = "console"; json = false
    type = "jsonl";   path = "/var/log/pantau/alerts.jsonl"; max_bytes = 10485760; backups = 5

Unknown keys are rejected (typos otherwise silently disable an option).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from monitor.alert.apprise import AppriseChannel
from monitor.alert.console import ConsoleChannel
from monitor.alert.email import EmailChannel, Security
from monitor.alert.jsonl import JsonlChannel
from monitor.alert.message import AlertMessage, DigestMessage
from monitor.alert.sinks import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, RotationPolicy
from monitor.alert.slack import SlackChannel
from monitor.alert.webhook import WebhookChannel
from monitor.errors import ConfigError
from monitor.models import ActorMention, Span, TermHit, TopicScore


@runtime_checkable
class Channel(Protocol):
    """Somewhere alerts go. ``send`` raises ``AlertDeliveryError`` (with ``transient``)."""

    name: str

    async def send(self, message: AlertMessage | DigestMessage) -> None: ...

    async def aclose(self) -> None: ...


_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # type: (required keys, optional keys)
    "slack": ({"webhook_url"}, {"timeout"}),
    "webhook": ({"url"}, {"headers", "timeout"}),
    "email": (
        {"host", "sender", "recipients"},
        {"port", "username", "password", "security", "timeout", "list_unsubscribe"}
        | {"tls_verify", "cafile"},
    ),
    "console": (set(), {"json"}),
    "jsonl": ({"path"}, {"max_bytes", "backups"}),
    "apprise": ({"urls"}, set()),
}
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class _Table:
    """Typed reads from one channel's config table, with errors naming channel and key."""

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        self.name = name
        self.options = options

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"alert channel {self.name!r}: {key}: {reason}", transient=False)

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.options.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, "must be a non-empty string")
        return value

    def required_string(self, key: str) -> str:
        value = self.string(key)
        if value is None:
            raise self.fail(key, "is required")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(key, "must be a positive number")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.options.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.options.get(key)
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list | tuple) or not values:
            raise self.fail(key, "must be a non-empty list of strings")
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise self.fail(key, "must be a non-empty list of strings")
        return tuple(str(v) for v in values)

    def mapping(self, key: str) -> dict[str, str]:
        value = self.options.get(key, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.fail(key, "must be a table of string values")
        return dict(value)


def _check_keys(table: _Table, kind: str) -> None:
    required, optional = _KEYS[kind]
    present = set(table.options) - {"type"}
    missing = sorted(required - present)
    if missing:
        raise table.fail(missing[0], "is required")
    unknown = sorted(present - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise table.fail(unknown[0], f"unknown key (allowed: {allowed})")


def _email(table: _Table) -> EmailChannel:
    choices: dict[str | None, Security] = {"starttls": "starttls", "tls": "tls", "none": "none"}
    security = choices.get(table.string("security", "starttls"))
    if security is None:
        raise table.fail("security", "must be one of starttls, tls, none")
    port = table.options.get("port", _DEFAULT_PORTS[security])
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise table.fail("port", "must be a port number (1-65535)")
    return EmailChannel(
        table.name,
        host=table.required_string("host"),
        port=port,
        sender=table.required_string("sender"),
        recipients=table.strings("recipients"),
        username=table.string("username"),
        password=table.string("password"),
        security=security,
        timeout=table.number("timeout", 20),
        list_unsubscribe=table.string("list_unsubscribe"),
        tls_verify=table.flag("tls_verify", True),
        cafile=table.string("cafile"),
    )


def _jsonl(table: _Table) -> JsonlChannel:
    max_bytes = table.options.get("max_bytes", DEFAULT_MAX_BYTES)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise table.fail("max_bytes", "must be a positive whole number of bytes")
    backups = table.options.get("backups", DEFAULT_BACKUPS)
    if isinstance(backups, bool) or not isinstance(backups, int) or backups < 0:
        raise table.fail("backups", "must be a whole number, 0 or more")
    path = Path(table.required_string("path")).expanduser()
    return JsonlChannel(table.name, path, RotationPolicy(max_bytes=max_bytes, backups=backups))


def _url_list(table: _Table) -> list[str]:
    """``urls``: a list, or one string of URLs separated by spaces/commas (as an env var)."""
    value = table.options.get("urls")
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(u, str) for u in items):
        raise table.fail("urls", "must be one or more Apprise URLs")
    return [str(u) for u in items]


def build_channel(
    name: str, options: Mapping[str, object], *, stdout: TextIO | None = None
) -> Channel:
    """A channel from its config table; ``ConfigError`` naming the key on any problem."""
    table = _Table(name, options)
    kind = options.get("type")
    if kind not in _KEYS:
        raise table.fail("type", f"must be one of {', '.join(sorted(_KEYS))}, not {kind!r}")
    assert isinstance(kind, str)
    _check_keys(table, kind)
    try:
        if kind == "slack":
            return SlackChannel(
                name, table.required_string("webhook_url"), timeout=table.number("timeout", 10)
            )
        if kind == "webhook":
            return WebhookChannel(
                name,
                table.required_string("url"),
                headers=table.mapping("headers"),
                timeout=table.number("timeout", 10),
            )
        if kind == "email":
            return _email(table)
        if kind == "jsonl":
            return _jsonl(table)
        if kind == "apprise":
            return AppriseChannel(name, _url_list(table))
        return ConsoleChannel(name, stdout or sys.stdout, json=table.flag("json", False))
    except ValueError as exc:
        key = {"slack": "webhook_url", "webhook": "url", "apprise": "urls"}.get(kind, "type")
        raise table.fail(key, str(exc)) from None


def test_message(now: datetime | None = None) -> AlertMessage:
    """A clearly-labelled alert for checking a channel end to end."""
    snippet = "This is a test from Pantau: if you can read this, alerts reach you."
    start = snippet.index("Pantau")
    hit = TermHit("Pantau", Span(start, start + len("Pantau")), snippet)
    return AlertMessage(
        story_id=0,
        article_id=0,
        rule="test",
        title="Pantau test message — please ignore",
        url="https://example.org/pantau-test",
        source="Pantau",
        published=now or datetime.now(UTC),
        topics=(TopicScore("channel test", 1.0, True, (hit,)),),
        actors=(ActorMention("Pantau", "name", 1, (hit,)),),
    )


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


async def test_channel(channel: Channel) -> str:
    """Send the test message; a plain-words success line, or ``AlertDeliveryError`` raised."""
    await channel.send(test_message())
    target = getattr(channel, "target", "")
    where = f" ({target})" if target else ""
    return f"Test message delivered to channel {channel.name!r}{where}."


test_channel.__test__ = False  # type: ignore[attr-defined]
