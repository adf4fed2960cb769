"""The pipeline's event stream: what happened, in order, resumable by id.

Every event is a row of the ``events`` table, written in the same transaction as the change it
describes, so an event exists exactly when its change was committed. Ids increase
monotonically: a consumer remembers the last id it saw and asks for what came after
(``read_page``), whether it sits in this process (``GET /events``, woken by an
:class:`EventNotifier`) or in another one (``pantau tail``, polling by id).

Every consumer sees an event as one envelope::

    {"id": 42, "type": "match", "created_at": "2026-02-02T03:15:09+00:00", "data": {...}}

``data`` depends on ``type`` (times are ISO 8601 with offset, UTC when Pantau chose them):

``article.stored`` — an article was stored (new story or a copy of one)
    article_id: int, story_id: int, title: str, url: str (canonical), source: str (host)

``match`` — a stored article mentions tracked topics or actors
    article_id, story_id, title, url, source (as above),
    published: str | null, seen_at: str, duplicate_kind: null | "exact" | "near",
    alerted: bool (the article queued at least one alert),
    topics: [{name: str, score: float, substantive: bool, snippets: [str]}],
    actors: [{name: str, via: "name" | "alias" | "role", count: int, snippets: [str]}]
    (at most three snippets each)

``story.updated`` — another outlet's copy joined an existing story
    story_id, article_id, title, url, source (of the copy), duplicate_kind: "exact" | "near",
    sources: [str] (every outlet of the story, earliest first)

``alert.sent`` — an outbox alert reached its channel
    alert_id: int, channel: str, rule: str, kind: "alert" | "follow_up", story_id: int,
    article_id: int, title: str, url: str, status: "sent" | "digested", attempts: int

``alert.failed`` — a delivery attempt failed
    alert_id, channel, rule, kind, story_id, article_id, title, url, attempts (as above),
    error: str, final: bool (false: retried at next_attempt_at), next_attempt_at: str | null

``feed.unhealthy`` — a feed keeps failing or went stale
    feed_id: int, url: str, name: str, reason: str, consecutive_failures: int

``feed.recovered`` — an unhealthy feed works again
    feed_id: int, url: str, name: str

``entry.skipped`` — a feed entry given up on after its attempts (its page overran the
extraction deadline each time); it is marked seen and not tried again
    feed_id: int | null, url: str (the entry's link), title: str, reason: str, attempts: int

Consumers must ignore ``data`` keys they do not know: keys may be added, never renamed.

Ids and concurrent writers: SQLite has one writer at a time and reuses no id, so ids become
visible in order. PostgreSQL hands out ids before commit, so id 11 can become visible before
id 10; a reader that skipped ahead would lose 10 for good. ``read_page`` therefore stops at a
hole in the ids and waits up to ``gap_grace`` seconds for it to fill (a rolled-back
transaction leaves a hole that never fills) before moving past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.models import MatchResult
from storage import event_log
from storage.engine import Transaction
from storage.tables import Event

ARTICLE_STORED = "article.stored"
MATCH = "match"
STORY_UPDATED = "story.updated"
ALERT_SENT = "alert.sent"
ALERT_FAILED = "alert.failed"
FEED_UNHEALTHY = "feed.unhealthy"
FEED_RECOVERED = "feed.recovered"
ENTRY_SKIPPED = "entry.skipped"
EVENT_TYPES = (
    ARTICLE_STORED,
    MATCH,
    STORY_UPDATED,
    ALERT_SENT,
    ALERT_FAILED,
    FEED_UNHEALTHY,
    FEED_RECOVERED,
    ENTRY_SKIPPED,
)

MAX_SNIPPETS = 3
GAP_GRACE = 5.0  # seconds a hole in the ids may stay open before readers move past it


# --- payloads (pure) ---------------------------------------------------------------------------


def encode(data: Mapping[str, Any]) -> str:
    """The text stored in ``events.payload``: compact JSON, UTF-8 kept readable."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def article_stored(
    *, article_id: int, story_id: int, title: str, url: str, source: str
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "story_id": story_id,
        "title": title,
        "url": url,
        "source": source,
    }


def match_event(
    *,
    article_id: int,
    story_id: int,
    title: str,
    url: str,
    source: str,
    published: datetime | None,
    seen_at: datetime,
    match: MatchResult,
    duplicate_kind: str | None = None,
    alerted: bool = False,
) -> dict[str, Any]:
    return {
        **article_stored(
            article_id=article_id, story_id=story_id, title=title, url=url, source=source
        ),
        "published": _iso(published),
        "seen_at": _iso(seen_at),
        "duplicate_kind": duplicate_kind,
        "alerted": alerted,
        "topics": [
            {
                "name": t.name,
                "score": round(t.score, 4),
                "substantive": t.substantive,
                "snippets": _snippets(h.snippet for h in t.hits),
            }
            for t in match.topics
        ],
        "actors": [
            {
                "name": a.name,
                "via": a.via,
                "count": a.count,
                "snippets": _snippets(h.snippet for h in a.hits),
            }
            for a in match.actors
        ],
    }


def _snippets(texts: Iterable[str]) -> list[str]:
    found: dict[str, None] = {}
    for text in texts:
        clean = " ".join(text.split())
        if clean:
            found.setdefault(clean)
    return list(found)[:MAX_SNIPPETS]


def story_updated(
    *,
    story_id: int,
    article_id: int,
    title: str,
    url: str,
    source: str,
    duplicate_kind: str,
    sources: Sequence[str],
) -> dict[str, Any]:
    return {
        "story_id": story_id,
        "article_id": article_id,
        "title": title,
        "url": url,
        "source": source,
        "duplicate_kind": duplicate_kind,
        "sources": list(sources),
    }


def alert_sent(
    *,
    alert_id: int,
    channel: str,
    rule: str,
    kind: str,
    story_id: int,
    article_id: int,
    title: str,
    url: str,
    status: str,
    attempts: int,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "channel": channel,
        "rule": rule,
        "kind": kind,
        "story_id": story_id,
        "article_id": article_id,
        "title": title,
        "url": url,
        "status": status,
        "attempts": attempts,
    }


def alert_failed(
    *,
    alert_id: int,
    channel: str,
    rule: str,
    kind: str,
    story_id: int,
    article_id: int,
    title: str,
    url: str,
    attempts: int,
    error: str,
    final: bool,
    next_attempt_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "channel": channel,
        "rule": rule,
        "kind": kind,
        "story_id": story_id,
        "article_id": article_id,
        "title": title,
        "url": url,
        "attempts": attempts,
        "error": error,
        "final": final,
        "next_attempt_at": _iso(next_attempt_at),
    }


def feed_unhealthy(
    *, feed_id: int, url: str, name: str, reason: str, consecutive_failures: int
) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "url": url,
        "name": name,
        "reason": reason,
        "consecutive_failures": consecutive_failures,
    }


def feed_recovered(*, feed_id: int, url: str, name: str) -> dict[str, Any]:
    return {"feed_id": feed_id, "url": url, "name": name}


def entry_skipped(
    *, feed_id: int | None, url: str, title: str, reason: str, attempts: int
) -> dict[str, Any]:
    return {"feed_id": feed_id, "url": url, "title": title, "reason": reason, "attempts": attempts}


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    id: int
    type: str
    data: Mapping[str, Any]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Event) -> StoredEvent:
        assert row.id is not None
        try:
            data = json.loads(row.payload)
        except ValueError:
            data = {"raw": row.payload}
        return cls(
            row.id, row.type, data if isinstance(data, dict) else {"value": data}, row.created_at
        )

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "data": dict(self.data),
        }


def _names(data: Mapping[str, Any], key: str) -> set[str]:
    items = data.get(key)
    if not isinstance(items, list):
        return set()
    return {str(i.get("name", "")).casefold() for i in items if isinstance(i, dict)}


@dataclass(frozen=True)
class EventFilter:
    """Which events a consumer wants. Empty means any; several values of one kind are
    alternatives; kinds combine (topic AND actor AND type). Names compare case-insensitively;
    an event without topics (actors) never passes a topic (actor) filter."""

    topics: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        topics: Iterable[str] = (),
        actors: Iterable[str] = (),
        types: Iterable[str] = (),
    ) -> EventFilter:
        return cls(
            frozenset(t.strip().casefold() for t in topics if t.strip()),
            frozenset(a.strip().casefold() for a in actors if a.strip()),
            frozenset(t.strip() for t in types if t.strip()),
        )

    def matches(self, event: StoredEvent) -> bool:
        if self.types and event.type not in self.types:
            return False
        if self.topics and not self.topics & _names(event.data, "topics"):
            return False
        return not self.actors or bool(self.actors & _names(event.data, "actors"))


ANY = EventFilter()


@dataclass(frozen=True)
class Cursor:
    """A reader's place in the stream: everything up to ``after_id`` was handled.

    ``hole_since`` is the reader's monotonic time at which it first saw a hole right after
    ``after_id`` (ids that may still be committing); None while there is none."""

    after_id: int
    hole_since: float | None = None


def advance(
    cursor: Cursor, ids: Sequence[int], *, now: float, gap_grace: float = GAP_GRACE
) -> tuple[int, Cursor]:
    """How many of ``ids`` (ascending, all after the cursor) may be handed out now, and the
    cursor after them. Stops before a hole younger than ``gap_grace`` seconds."""
    last, hole_since, taken = cursor.after_id, cursor.hole_since, 0
    for event_id in ids:
        if event_id != last + 1:
            hole_since = now if hole_since is None else hole_since
            if now - hole_since < gap_grace:
                return taken, Cursor(last, hole_since)
        last, hole_since, taken = event_id, None, taken + 1
    return taken, Cursor(last, hole_since)


@dataclass(frozen=True)
class EventPage:
    events: list[StoredEvent]  # the ones passing the filter, in id order
    cursor: Cursor  # where to read on from
    more: bool  # a full page was consumed: read again before waiting


def read_page(
    session: Transaction,
    cursor: Cursor,
    *,
    limit: int = 200,
    filter: EventFilter = ANY,
    now: float,
    gap_grace: float = GAP_GRACE,
) -> EventPage:
    """The next events after ``cursor`` for a reader that keeps polling (SSE, tail)."""
    rows = event_log.events_after(session, cursor.after_id, limit=limit)
    ids = [r.id for r in rows if r.id is not None]
    taken, next_cursor = advance(cursor, ids, now=now, gap_grace=gap_grace)
    events = [e for e in (StoredEvent.from_row(r) for r in rows[:taken]) if filter.matches(e)]
    return EventPage(events, next_cursor, more=taken == limit)


def read_events(
    session: Transaction,
    after_id: int,
    *,
    limit: int = 200,
    filter: EventFilter = ANY,
) -> list[StoredEvent]:
    """Up to ``limit`` committed events after ``after_id`` that pass ``filter``, oldest first.

    A one-off read: it does not wait for holes in the ids (see the module docstring)."""
    found: list[StoredEvent] = []
    while len(found) < limit:
        rows = event_log.events_after(session, after_id, limit=500)
        for row in rows:
            event = StoredEvent.from_row(row)
            after_id = event.id
            if filter.matches(event):
                found.append(event)
                if len(found) == limit:
                    break
        if len(rows) < 500:
            break
    return found


def recent_events(
    session: Transaction, *, limit: int, filter: EventFilter = ANY, up_to: int | None = None
) -> list[StoredEvent]:
    """The last ``limit`` events passing ``filter`` (with ids up to ``up_to``), oldest first:
    ``pantau tail``'s backlog."""
    found: list[StoredEvent] = []
    before: int | None = None if up_to is None else up_to + 1
    while len(found) < limit:
        rows = event_log.events_before(session, before, limit=500)
        for row in rows:
            event = StoredEvent.from_row(row)
            before = event.id
            if filter.matches(event):
                found.append(event)
                if len(found) == limit:
                    break
        if len(rows) < 500:
            break
    return found[::-1]


def skipped_entries(session: Transaction, *, limit: int) -> list[StoredEvent]:
    """The last ``limit`` ``entry.skipped`` events, newest first: ``pantau status``'s list."""
    return [
        StoredEvent.from_row(r)
        for r in event_log.events_of_type(session, ENTRY_SKIPPED, limit=limit)
    ]


def head_id(session: Transaction) -> int:
    """The newest event id (0 for an empty stream): where a reader starting now begins."""
    return event_log.last_event_id(session)


def id_before(session: Transaction, when: datetime) -> int:
    """The last event id created before ``when``: a reader starting there sees ``when`` on."""
    return event_log.last_event_id_before(session, when)


def prune_events(session: Transaction, older_than: datetime) -> int:
    """Retention: delete events created before ``older_than``; returns how many went.

    The newest event is always kept so ids never restart (SQLite reuses the highest free id)."""
    return event_log.prune_events(session, older_than)


# --- waking in-process readers -----------------------------------------------------------------


class EventNotifier:
    """Wakes in-process readers after events were committed, so they need not poll.

    The writer calls :meth:`notify` after its transaction committed (from the event loop or
    any thread). A reader notes :attr:`generation`, reads the database, then
    ``await wait(generation, max_wait)``: a commit between its read and its wait is never
    missed. Readers in other processes cannot be woken and poll by id instead.
    :meth:`close` wakes every reader for good (shutdown)."""

    def __init__(self) -> None:
        self._generation = 0
        self._closed = False
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def closed(self) -> bool:
        return self._closed

    def notify(self) -> None:
        loop = self._loop
        if loop is None or _running_loop() is loop:
            self._wake()
            return
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is left to wake
            loop.call_soon_threadsafe(self._wake)

    def close(self) -> None:
        self._closed = True
        self.notify()

    def _wake(self) -> None:
        self._generation += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, generation: int, max_wait: float) -> bool:
        """True when woken (or closed) since ``generation``; False after ``max_wait`` s."""
        self._loop = asyncio.get_running_loop()
        if self._generation != generation or self._closed:
            return True
        event = self._event
        try:
            async with asyncio.timeout(max_wait):
                await event.wait()
        except TimeoutError:
            return False
        return True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
