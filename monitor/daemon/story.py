"""The story decision: what storing one article writes, decided from plain values.

Given the dedup verdict, the match and the alert rules it fires, :func:`decide_story` says
whether the article opens a new story or joins one as a copy, which alerts (rule x channel) it
queues, whether a copy raises a follow-up (it newly names tracked actors), and which events
describe it. It does no I/O: the pipeline first reads what a follow-up needs of the joined story
(:func:`story_to_read`, :class:`StorySoFar`), then hands the returned
:class:`storage.repo.ArticleIntent` to :func:`storage.repo.write_article`, one call in one
transaction (lemon24/reader's update intents have the same shape).

An alert is queued once per story: a new story alerts on every rule it fires; a copy stays
silent unless it names tracked actors the story did not have, which raises one follow-up per
rule and channel (keyed by those actors, so the same news does not follow up twice).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor import events
from monitor.alert import AlertRule, alert_payload
from monitor.dedup import DedupVerdict, canonicalize_url, changed_substantially, source_of
from monitor.models import FeedEntry, MatchResult
from storage.repo import (
    ArticleIntent,
    NewAlert,
    NewArticle,
    NewMatch,
    NewSeenEntry,
    PendingEvent,
    StoredArticle,
)

_FOLLOW_UP_QUOTE = 280  # characters of the new paragraph quoted in a follow-up


@dataclass(frozen=True)
class Candidate:
    """An article ready to be stored: the feed entry it came from and what it says."""

    entry: FeedEntry
    feed_id: int | None
    canonical_url: str
    title: str
    body: str
    published: datetime
    seen_at: datetime

    @property
    def source(self) -> str:
        return source_of(self.canonical_url)


@dataclass(frozen=True)
class StorySoFar:
    """What a follow-up decision needs of the story a copy joins."""

    actor_names: frozenset[str]  # tracked actors already matched in any of its articles
    first_body: str  # the body of its first article


@dataclass(frozen=True)
class FollowUp:
    """A copy newly naming tracked actors: ``key`` tells follow-ups apart, ``text`` says why."""

    key: str
    text: str


# --- events (their payloads name ids known only once the article is written) ---------------


@dataclass(frozen=True)
class ArticleStoredEvent:
    title: str
    url: str
    source: str

    @property
    def type(self) -> str:
        return events.ARTICLE_STORED

    def payload(self, stored: StoredArticle) -> str:
        data = events.article_stored(
            article_id=stored.article_id,
            story_id=stored.story_id,
            title=self.title,
            url=self.url,
            source=self.source,
        )
        return json.dumps(data)


@dataclass(frozen=True)
class MatchEvent:
    title: str
    url: str
    source: str
    published: datetime
    seen_at: datetime
    match: MatchResult
    duplicate_kind: str | None
    alerted: bool

    @property
    def type(self) -> str:
        return events.MATCH

    def payload(self, stored: StoredArticle) -> str:
        data = events.match_event(
            article_id=stored.article_id,
            story_id=stored.story_id,
            title=self.title,
            url=self.url,
            source=self.source,
            published=self.published,
            seen_at=self.seen_at,
            match=self.match,
            duplicate_kind=self.duplicate_kind,
            alerted=self.alerted,
        )
        return events.encode(data)


@dataclass(frozen=True)
class StoryUpdatedEvent:
    title: str
    url: str
    source: str
    duplicate_kind: str

    @property
    def type(self) -> str:
        return events.STORY_UPDATED

    def payload(self, stored: StoredArticle) -> str:
        data = events.story_updated(
            story_id=stored.story_id,
            article_id=stored.article_id,
            title=self.title,
            url=self.url,
            source=self.source,
            duplicate_kind=self.duplicate_kind,
            sources=stored.story_sources,
        )
        return events.encode(data)


# --- the decision ---------------------------------------------------------------------------


def is_copy(verdict: DedupVerdict) -> bool:
    """Another URL carries the same story: the article joins it."""
    return verdict.kind in ("exact", "near")


def story_to_read(verdict: DedupVerdict, rules: Sequence[AlertRule]) -> int | None:
    """The story whose :class:`StorySoFar` :func:`decide_story` needs: a copy's, when the copy
    fires alert rules (it may raise a follow-up); None when nothing needs reading."""
    return verdict.story_id if is_copy(verdict) and rules else None


def follow_up(story: StorySoFar, body: str, match: MatchResult, source: str) -> FollowUp | None:
    """The follow-up a copy raises when it names tracked actors its story did not have."""
    new_actors = sorted({a.name for a in match.actors} - story.actor_names)
    if not new_actors:
        return None
    changed = changed_substantially(story.first_body, body)
    naming = [p for p in changed if any(n.split()[-1] in p for n in new_actors)]
    where = max(naming, key=len, default="")  # the new paragraph, not a changed headline
    text = f"Updated copy from {source} newly names {', '.join(new_actors)}"
    if where:
        text += f": “{where[:_FOLLOW_UP_QUOTE]}”"
    return FollowUp("|".join(new_actors), text)


def decide_story(
    candidate: Candidate,
    *,
    verdict: DedupVerdict,
    match: MatchResult,
    rules: Sequence[AlertRule],
    story: StorySoFar | None,
) -> ArticleIntent:
    """What storing ``candidate`` writes.

    ``verdict``: the dedup verdict (not ``same_url``: such an article is not stored);
    ``rules``: the alert rules the article fires (none when its feed does not alert yet);
    ``story``: the joined story as :func:`story_to_read` asked for, else None.
    """
    source = candidate.source
    copy = is_copy(verdict)
    duplicate_kind = verdict.kind if copy else None
    story_id = verdict.story_id if copy else None
    follow = None
    if copy and story_id is not None and rules and story is not None:
        follow = follow_up(story, candidate.body, match, source)
    alerts: tuple[NewAlert, ...] = ()
    if not copy or follow is not None:
        alerts = _alerts(candidate, match, rules, follow)
    pending: list[PendingEvent] = [
        ArticleStoredEvent(candidate.title, candidate.canonical_url, source)
    ]
    if not match.is_empty:
        pending.append(
            MatchEvent(
                candidate.title,
                candidate.canonical_url,
                source,
                candidate.published,
                candidate.seen_at,
                match,
                duplicate_kind,
                alerted=bool(alerts),
            )
        )
    if duplicate_kind is not None:
        pending.append(
            StoryUpdatedEvent(candidate.title, candidate.canonical_url, source, duplicate_kind)
        )
    entry = candidate.entry
    return ArticleIntent(
        article=NewArticle(
            canonical_url=candidate.canonical_url,
            url=entry.link,
            source=source,
            title=candidate.title,
            body=candidate.body,
            body_hash=verdict.body_hash,
            signature=verdict.signature.to_bytes(),
            published_at=candidate.published,
            seen_at=candidate.seen_at,
            feed_id=candidate.feed_id,
            duplicate_kind=duplicate_kind,
        ),
        matches=match_rows(match),
        story_id=story_id,
        alerts=alerts,
        events=tuple(pending),
        seen=(
            NewSeenEntry(candidate.feed_id, entry.entry_id, entry.link)
            if candidate.feed_id is not None
            else None
        ),
    )


def shown_url(candidate: Candidate) -> str:
    """The link an alert shows: the feed's own link, as published (``http`` stays ``http``),
    when it is the article's address; the canonical URL when the page named another one or the
    link is not public (the replay site's loopback address). Identity keeps the canonical URL.
    """
    link = candidate.entry.link
    return link if canonicalize_url(link) == candidate.canonical_url else candidate.canonical_url


def _alerts(
    candidate: Candidate,
    match: MatchResult,
    rules: Sequence[AlertRule],
    follow: FollowUp | None,
) -> tuple[NewAlert, ...]:
    """One outbox alert per rule and channel."""
    return tuple(
        NewAlert(
            rule=rule.name,
            channel=channel,
            payload=json.dumps(
                alert_payload(
                    rule=rule.name,
                    title=candidate.title,
                    url=shown_url(candidate),
                    source=candidate.source,
                    published=candidate.published,
                    match=match,
                    follow_up=follow.text if follow else None,
                )
            ),
            kind="follow_up" if follow else "alert",
            key_suffix=f":follow_up:{follow.key}" if follow else "",
        )
        for rule in rules
        for channel in rule.channels
    )


def match_rows(match: MatchResult) -> tuple[NewMatch, ...]:
    """The ``matches`` rows of an article: one per topic and per actor, first hit quoted."""
    rows: list[NewMatch] = []
    for t in match.topics:
        first = t.hits[0] if t.hits else None
        rows.append(
            NewMatch(
                kind="topic",
                name=t.name,
                via="term",
                term=first.term if first else "",
                start=first.span.start if first else 0,
                end=first.span.end if first else 0,
                snippet=first.snippet if first else "",
                score=t.score,
                substantive=t.substantive,
                count=len(t.hits),
            )
        )
    for a in match.actors:
        first = a.hits[0] if a.hits else None
        rows.append(
            NewMatch(
                kind="actor",
                name=a.name,
                via=a.via,
                term=first.term if first else "",
                start=first.span.start if first else 0,
                end=first.span.end if first else 0,
                snippet=first.snippet if first else "",
                count=a.count,
            )
        )
    return tuple(rows)
