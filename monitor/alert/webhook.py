"""Generic JSON webhook channel, and the JSON payload shared with the console/JSONL sink.

Each alert is POSTed as ``application/json; charset=utf-8``::

    {
      "type": "alert",
      "story_id": 17,                     # stable per story; follow-ups repeat it
      "article_id": 42,
      "rule": "putin-nato",               # the alert rule that fired
      "title": "Putin ...",
      "url": "https://...",
      "source": "Kompas",
      "published": "2026-11-21T10:00:00Z",  # ISO 8601 UTC, or null when unknown
      "topics": [{"name": "Ukraine war", "score": 0.82, "substantive": true}],
      "actors": [{"name": "Vladimir Putin", "via": "alias", "count": 3,
                  "snippets": ["... Presiden Rusia Vladimir Putin ..."]}],
      "also_reported_by": ["Detik", "Tempo"],
      "follow_up": null                   # or what changed, for a follow-up alert
    }

A digest (flood control, quiet-hours summary) is one POST::

    {"type": "digest", "title": "12 new articles mention Vladimir Putin in the last 10 minutes",
     "window_start": "...Z", "window_end": "...Z", "items": [<alert objects as above>]}

Responses: any 2xx is success. 429 and 5xx are transient (429 honours Retry-After); other 4xx
are permanent and the response body is quoted in the error. The URL and headers (which may hold a
token) never appear in errors or ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from monitor.alert._http import SecretURLPoster
from monitor.alert.message import AlertMessage, DigestMessage


def iso_utc(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_payload(message: AlertMessage) -> dict[str, Any]:
    return {
        "type": "alert",
        "story_id": message.story_id,
        "article_id": message.article_id,
        "rule": message.rule,
        "title": message.title,
        "url": message.url,
        "source": message.source,
        "published": iso_utc(message.published),
        "topics": [
            {"name": t.name, "score": t.score, "substantive": t.substantive} for t in message.topics
        ],
        "actors": [
            {"name": a.name, "via": a.via, "count": a.count, "snippets": list(a.snippets)}
            for a in message.actors
        ],
        "also_reported_by": list(message.also_reported_by),
        "follow_up": message.follow_up,
    }


def to_payload(message: AlertMessage | DigestMessage) -> dict[str, Any]:
    """The documented JSON object for an alert or a digest."""
    if isinstance(message, AlertMessage):
        return alert_payload(message)
    return {
        "type": "digest",
        "title": message.title,
        "window_start": iso_utc(message.window_start),
        "window_end": iso_utc(message.window_end),
        "items": [alert_payload(item) for item in message.items],
    }


class WebhookChannel:
    """POSTs the JSON payload to a URL with optional extra headers (e.g. Authorization)."""

    kind = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self._poster = SecretURLPoster(name, url, timeout=timeout, headers=headers, http=http)
        self.target = self._poster.target

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r}, target={self.target!r})"

    async def send(self, message: AlertMessage | DigestMessage) -> None:
        await self._poster.post_json(to_payload(message))

    async def aclose(self) -> None:
        await self._poster.aclose()
