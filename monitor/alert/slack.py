"""Slack incoming-webhook channel: Block Kit rendering (pure) and the sender.

Slack limits honoured here: 50 blocks per message, 3000 characters per section text, 150 per
header, 10 fields of 2000. Text is escaped per Slack's rules (only ``&``, ``<``, ``>``); links are
``<url|title>`` with ``|``, ``<`` and ``>`` percent-encoded in the URL. A digest too long for one
message is posted as several ("part 2 of 3"), never by dropping items.
"""

from __future__ import annotations

from typing import Any

import httpx

from monitor.alert._http import SecretURLPoster
from monitor.alert.message import (
    AlertMessage,
    DigestMessage,
    Segment,
    actor_label,
    emphasised_snippets,
    format_wib,
    headline_actors,
    topic_label,
)

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_FALLBACK = 3000
DIGEST_TITLE_CHARS = 300

Block = dict[str, Any]
Payload = dict[str, Any]


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: &, < and > only."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_url(url: str) -> str:
    return escape(url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E"))


def link(url: str, title: str) -> str:
    return f"<{escape_url(url)}|{escape(title)}>"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn_segments(segments: tuple[Segment, ...]) -> str:
    out = []
    for seg in segments:
        text = escape(seg.text)
        out.append(f"*{text.replace('*', '')}*" if seg.emphasis and text.strip() else text)
    return "".join(out)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_SECTION)}]}


def _match_fields(message: AlertMessage) -> list[dict[str, str]]:
    fields = []
    if message.actors:
        lines = "\n".join(escape(actor_label(a, message.title)) for a in message.actors)
        fields.append({"type": "mrkdwn", "text": clip(f"*Actors*\n{lines}", MAX_FIELD)})
    if message.topics:
        lines = "\n".join(escape(topic_label(t)) for t in message.topics)
        fields.append({"type": "mrkdwn", "text": clip(f"*Topics*\n{lines}", MAX_FIELD)})
    return fields


def alert_blocks(message: AlertMessage) -> list[Block]:
    blocks: list[Block] = []
    if message.follow_up:
        blocks.append(
            _section(f":arrows_counterclockwise: *Follow-up:* {escape(message.follow_up)}")
        )
    blocks.append(_section(f"*{link(message.url, clip(message.title, 500))}*"))
    blocks.append(
        _context(
            f"{escape(message.source)} · {format_wib(message.published)}"
            f" · rule {escape(message.rule)}"
        )
    )
    fields = _match_fields(message)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    quotes = [f"> {mrkdwn_segments(s)}" for s in emphasised_snippets(message)]
    if quotes:
        blocks.append(_section("\n".join(quotes)))
    if message.also_reported_by:
        blocks.append(_context("Also reported by: " + escape(", ".join(message.also_reported_by))))
    return blocks


def fallback_text(message: AlertMessage | DigestMessage) -> str:
    if isinstance(message, DigestMessage):
        return clip(escape(f"Pantau: {message.title}"), MAX_FALLBACK)
    who = headline_actors(message)
    who = f"{who} — " if who else ""
    follow = "Follow-up: " if message.follow_up else ""
    text = (
        f"Pantau: {follow}{who}{message.title} ({message.source}, {format_wib(message.published)})"
    )
    return clip(escape(text), MAX_FALLBACK)


def digest_line(item: AlertMessage) -> str:
    who = headline_actors(item)
    tail = f" · {escape(who)}" if who else ""
    headline = link(item.url, clip(item.title, DIGEST_TITLE_CHARS))
    return f"• *{headline}* — {escape(item.source)} · {format_wib(item.published)}{tail}"


def pack_lines(lines: list[str], limit: int = MAX_SECTION) -> list[str]:
    """Join lines into as few texts as possible, each at most ``limit`` characters."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def digest_payloads(digest: DigestMessage) -> list[Payload]:
    """One Slack message per page; normally one. Every item's linked title appears once."""
    chunks = pack_lines([digest_line(item) for item in digest.items])
    per_page = MAX_BLOCKS - 2
    pages = [chunks[i : i + per_page] for i in range(0, len(chunks), per_page)] or [[]]
    window = (
        f"{format_wib(digest.window_start)} – {format_wib(digest.window_end)}"
        f" · {len(digest.items)} article{'s' if len(digest.items) != 1 else ''}"
    )
    payloads = []
    for number, page in enumerate(pages, start=1):
        part = f" (part {number} of {len(pages)})" if len(pages) > 1 else ""
        title = clip(digest.title, MAX_HEADER - len(part)) + part
        blocks: list[Block] = [
            {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
            _context(window),
            *(_section(chunk) for chunk in page),
        ]
        payloads.append({"text": clip(escape(f"Pantau: {title}"), MAX_FALLBACK), "blocks": blocks})
    return payloads


def render(message: AlertMessage | DigestMessage) -> list[Payload]:
    """The JSON documents to POST, in order."""
    if isinstance(message, DigestMessage):
        return digest_payloads(message)
    return [{"text": fallback_text(message), "blocks": alert_blocks(message)}]


class SlackChannel:
    """Posts alerts to a Slack incoming webhook. The webhook URL is a secret and stays hidden."""

    kind = "slack"

    def __init__(
        self,
        name: str,
        webhook_url: str,
        *,
        timeout: float = 10,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.name = name
        self._poster = SecretURLPoster(name, webhook_url, timeout=timeout, http=http)
        self.target = self._poster.target

    def __repr__(self) -> str:
        return f"SlackChannel(name={self.name!r}, target={self.target!r})"

    async def send(self, message: AlertMessage | DigestMessage) -> None:
        # A multi-part digest failing half-way is retried whole: a repeated part beats a lost one.
        for payload in render(message):
            await self._poster.post_json(payload)

    async def aclose(self) -> None:
        await self._poster.aclose()
