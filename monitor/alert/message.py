"""What an alert says, independent of where it goes.

``AlertMessage`` (one article) and ``DigestMessage`` (many, collapsed) are the only things the
channels render. The helpers here are pure: WIB time formatting, picking snippets and splitting
them into emphasised / plain segments, the subject line and the plain-text rendering shared by
email, console and the Slack fallback. Channel modules add their own escaping on top.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.models import ActorMention, TermHit, TopicScore
from monitor.timeofday import WIB

MAX_SNIPPETS = 3


@dataclass(frozen=True)
class AlertMessage:
    """One matched article (a story's representative) to tell analysts about."""

    story_id: int
    article_id: int
    rule: str
    title: str
    url: str
    source: str
    published: datetime | None
    topics: tuple[TopicScore, ...]
    actors: tuple[ActorMention, ...]
    also_reported_by: tuple[str, ...] = ()
    follow_up: str | None = None


@dataclass(frozen=True)
class DigestMessage:
    """Several alerts collapsed into one message (flood control, quiet-hours summary)."""

    title: str
    items: tuple[AlertMessage, ...]
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class Segment:
    """A piece of snippet text; ``emphasis`` marks a matched term."""

    text: str
    emphasis: bool = False


def format_wib(when: datetime | None) -> str:
    """'21 Nov 2026 17:00 WIB'; naive datetimes are taken as UTC."""
    if when is None:
        return "time unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(WIB).strftime("%d %b %Y %H:%M WIB")


_HEADLINE_CONTEXT = 12  # characters around a term that must read as in the headline


def _plain(text: str) -> str:
    return " ".join(text.split())


def is_headline_snippet(snippet: str, term: str, title: str) -> bool:
    """Whether a snippet quotes the headline around ``term`` rather than the body.

    Pages often repeat the headline as the body's first line, so the matched text (title, then
    body) holds it twice: a snippet there tells the reader nothing the title does not.
    """
    # Case counts: a repeated headline keeps the title's capitals, a body sentence that
    # paraphrases it ("chat Sekjen NATO bocor ke publik setelah ...") does not.
    text, head = _plain(snippet.strip("…")), _plain(title)
    needle = _plain(term).lower()
    if not needle or needle not in head.lower():
        return False
    for at in _occurrences(text.lower(), needle):
        for p in _occurrences(head.lower(), needle):
            end, p_end = at + len(needle), p + len(needle)
            left = min(p, at, _HEADLINE_CONTEXT)
            right = min(len(head) - p_end, len(text) - end, _HEADLINE_CONTEXT)
            enough = min(_HEADLINE_CONTEXT, len(head) - len(needle))
            if (
                left + right >= enough
                and text[at - left : end + right] == head[p - left : p_end + right]
            ):
                return True
    return False


def _occurrences(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def from_headline(hit: TermHit, title: str) -> bool:
    """The hit is in the title, or in the body's repetition of it."""
    return hit.span.start < len(title) or is_headline_snippet(hit.snippet, hit.term, title)


def mention_count(actor: ActorMention, title: str = "") -> int:
    """How often the article names the actor, the headline counted once (not again where the
    body repeats it)."""
    headline = sum(1 for h in actor.hits if from_headline(h, title)) if title else 0
    return max(1, actor.count - max(0, headline - 1))


def actor_label(actor: ActorMention, title: str = "") -> str:
    """'Vladimir Putin (via alias, 3×)'; ``title``: the headline is counted once."""
    count = mention_count(actor, title)
    times = f", {count}×" if count > 1 else ""
    return f"{actor.name} (via {actor.via}{times})"


def topic_label(topic: TopicScore) -> str:
    kind = "substantive" if topic.substantive else "passing"
    return f"{topic.name} ({kind}, {topic.score:.2f})"


def headline_actors(message: AlertMessage) -> str:
    """Names for a subject line: actors, else substantive topics, else all topics."""
    names = [a.name for a in message.actors]
    if not names:
        names = [t.name for t in message.topics if t.substantive] or [
            t.name for t in message.topics
        ]
    return ", ".join(dict.fromkeys(names))


def subject(message: AlertMessage | DigestMessage) -> str:
    """Email subject: '[Pantau] Vladimir Putin, NATO — <title>' or '[Pantau] <digest title>'."""
    if isinstance(message, DigestMessage):
        return f"[Pantau] {message.title}"
    who = headline_actors(message)
    prefix = "[Pantau] Follow-up: " if message.follow_up else "[Pantau] "
    return f"{prefix}{who} — {message.title}" if who else f"{prefix}{message.title}"


def matched_terms(message: AlertMessage) -> tuple[str, ...]:
    """Every lexicon term that matched, longest first (so 'NATO summit' wins over 'NATO')."""
    terms = {h.term for a in message.actors for h in a.hits}
    terms |= {h.term for t in message.topics for h in t.hits}
    return tuple(sorted((t for t in terms if t.strip()), key=lambda t: (-len(t), t.lower())))


def snippets(message: AlertMessage, limit: int = MAX_SNIPPETS) -> tuple[str, ...]:
    """Distinct snippets from the body, actors' first (in actor order), then topics'; at most
    ``limit``. The headline is shown above them: its snippets only when the body has none."""
    body: dict[str, None] = {}
    headline: dict[str, None] = {}
    for hits in [a.hits for a in message.actors] + [t.hits for t in message.topics]:
        for hit in hits:
            text = _plain(hit.snippet)
            if text:
                (headline if from_headline(hit, message.title) else body).setdefault(text)
    return tuple(body or headline)[:limit]


def emphasise(text: str, terms: Iterable[str]) -> tuple[Segment, ...]:
    """Split ``text`` into segments, marking whole-word, case-insensitive term occurrences."""
    ordered = sorted({t for t in terms if t.strip()}, key=lambda t: -len(t))
    if not ordered:
        return (Segment(text),) if text else ()
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(t) for t in ordered) + r")(?!\w)", re.IGNORECASE
    )
    segments: list[Segment] = []
    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            segments.append(Segment(text[pos : m.start()]))
        segments.append(Segment(m.group(0), emphasis=True))
        pos = m.end()
    if pos < len(text):
        segments.append(Segment(text[pos:]))
    return tuple(segments)


def emphasised_snippets(message: AlertMessage) -> tuple[tuple[Segment, ...], ...]:
    terms = matched_terms(message)
    return tuple(emphasise(s, terms) for s in snippets(message))


def render_segments(segments: Iterable[Segment], *, mark: str = "*") -> str:
    """Plain rendering with ``mark`` around emphasised words ('*Putin*')."""
    return "".join(f"{mark}{s.text}{mark}" if s.emphasis else s.text for s in segments)


def source_line(message: AlertMessage) -> str:
    return f"{message.source} · {format_wib(message.published)}"


def alert_text(message: AlertMessage) -> str:
    """The plain-text body of one alert (email text part, console, Slack fallback)."""
    lines = []
    if message.follow_up:
        lines += [f"Follow-up: {message.follow_up}", ""]
    lines += [message.title, message.url, source_line(message), ""]
    if message.actors:
        lines.append("Actors: " + "; ".join(actor_label(a, message.title) for a in message.actors))
    if message.topics:
        lines.append("Topics: " + "; ".join(topic_label(t) for t in message.topics))
    for segments in emphasised_snippets(message):
        lines += ["", f"  “{render_segments(segments)}”"]
    if message.also_reported_by:
        lines += ["", "Also reported by: " + ", ".join(message.also_reported_by)]
    lines += ["", f"Rule: {message.rule} · story {message.story_id}"]
    return "\n".join(lines)


def digest_item_line(item: AlertMessage) -> str:
    who = headline_actors(item)
    tail = f" · {who}" if who else ""
    return f"{item.title} — {source_line(item)}{tail}"


def digest_text(digest: DigestMessage) -> str:
    lines = [
        digest.title,
        f"{format_wib(digest.window_start)} – {format_wib(digest.window_end)}",
        "",
    ]
    for item in digest.items:
        lines += [f"- {digest_item_line(item)}", f"  {item.url}"]
    return "\n".join(lines)


def plain_text(message: AlertMessage | DigestMessage) -> str:
    if isinstance(message, DigestMessage):
        return digest_text(message)
    return alert_text(message)
