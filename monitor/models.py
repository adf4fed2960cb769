"""Typed values passed between pipeline stages. Plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Via = Literal["name", "alias", "role"]


@dataclass(frozen=True)
class FetchResult:
    """What the fetch stage hands on: final URL after redirects, status and body bytes."""

    url: str
    final_url: str
    status: int
    content: bytes
    headers: dict[str, str]
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class FeedEntry:
    """One usable item of a feed after parsing."""

    entry_id: str
    link: str
    title: str
    published: datetime | None
    summary: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: tuple[FeedEntry, ...]
    ttl_minutes: int | None = None
    bozo: bool = False
    diagnostics: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExtractedArticle:
    """Article text pulled out of a page by the extract stage."""

    url: str
    canonical_url: str | None
    title: str
    body: str
    published: datetime | None
    site_name: str | None = None


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class TermHit:
    """One occurrence of a lexicon term in the matched text (title + '\\n\\n' + body)."""

    term: str
    span: Span
    snippet: str


@dataclass(frozen=True)
class TopicScore:
    name: str
    score: float
    substantive: bool
    hits: tuple[TermHit, ...] = ()
    # The relevance model's probability that the topic is the article's subject (None when
    # the rules alone decided) and the features that moved it most, with their log-odds share.
    confidence: float | None = None
    drivers: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ActorMention:
    name: str
    via: Via
    count: int
    hits: tuple[TermHit, ...] = ()

    @property
    def snippets(self) -> tuple[str, ...]:
        return tuple(h.snippet for h in self.hits)


@dataclass(frozen=True)
class MatchResult:
    topics: tuple[TopicScore, ...] = ()
    actors: tuple[ActorMention, ...] = ()

    @property
    def substantive_topics(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.topics if t.substantive)

    @property
    def is_empty(self) -> bool:
        return not self.topics and not self.actors


@dataclass(frozen=True)
class FeedSpec:
    """One feed as the operator describes it."""

    url: str
    name: str = ""
    interval: float | None = None
    tz: str | None = None
    enabled: bool = True
