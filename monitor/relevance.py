"""Relevance: turn a topic's hits into a score and a substantive/passing verdict.

A topic is substantive when any enabled rule of its ``relevance`` section (topics.toml) holds:
a hit in the title, hits spread over several paragraphs, one sentence carrying several distinct
signals, or a short piece mostly about the topic. Relationship topics (``pair``) only count where
both sides meet in one paragraph. Pure functions over hits and paragraph/sentence boundaries.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.lexicon import Topic
from monitor.models import Span, TermHit, TopicScore
from monitor.textnorm import paragraph_bounds, sentence_bounds, snippet

Kind = Literal[
    "topic",
    "context",
    "group",
    "group_context",
    "name",
    "alias",
    "short",
    "namesake",
    "role",
    "title",
    "exclude",
]


@dataclass(frozen=True)
class Hit:
    """One lexicon string found in the matched text."""

    kind: Kind
    owner: str
    term: str
    start: int  # original-text offsets
    end: int

    def contains(self, other: Hit) -> bool:
        return self.start <= other.start and other.end <= self.end


def term_hit(text: str, h: Hit) -> TermHit:
    return TermHit(term=h.term, span=Span(h.start, h.end), snippet=snippet(text, h.start, h.end))


Evidence = Sequence[tuple[Hit, frozenset[str]]]


@dataclass(frozen=True)
class Layout:
    """Paragraph and sentence boundaries of the matched text, for locating hits."""

    title_len: int
    para_starts: tuple[int, ...]
    sent_starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str, title_len: int) -> Layout:
        paras = paragraph_bounds(text)
        sents = [lo for p_lo, p_hi in paras for lo, _ in sentence_bounds(text, p_lo, p_hi)]
        return cls(title_len, tuple(lo for lo, _ in paras), tuple(sents))

    def paragraph(self, pos: int) -> int:
        return bisect_right(self.para_starts, pos) - 1

    def sentence(self, pos: int) -> int:
        return bisect_right(self.sent_starts, pos) - 1

    def in_title(self, h: Hit) -> bool:
        return h.start < self.title_len

    @property
    def body_paragraphs(self) -> int:
        return sum(1 for p in self.para_starts if p >= self.title_len)


def _weight(h: Hit, layout: Layout) -> float:
    base = 0.5 if h.kind in ("context", "group_context") else 1.0
    return base * (2.0 if layout.in_title(h) else 1.0)


def _title_rule(topic: Topic, evidence: Evidence, layout: Layout) -> bool:
    in_title = [signals for h, signals in evidence if layout.in_title(h)]
    if not in_title:
        return False
    return topic.pair is None or set(topic.pair) <= frozenset().union(*in_title)


def _sentence_rule(topic: Topic, evidence: Evidence, layout: Layout) -> bool:
    rule = topic.relevance
    signal_paras: dict[str, set[int]] = defaultdict(set)
    by_sentence: dict[int, set[str]] = defaultdict(set)
    for h, signals in evidence:
        for s in signals:
            signal_paras[s].add(layout.paragraph(h.start))
        by_sentence[layout.sentence(h.start)] |= signals
    return any(
        sum(1 for s in signals if len(signal_paras[s]) >= rule.min_paragraphs_per_signal)
        >= rule.min_signals_in_sentence
        for signals in by_sentence.values()
    )


def _dense_rule(topic: Topic, evidence: Evidence, layout: Layout, paragraphs: set[int]) -> bool:
    """A short piece mostly about the topic: enough hits over a large share of its paragraphs."""
    total = layout.body_paragraphs
    in_paras = [h for h, signals in evidence if signals and layout.paragraph(h.start) in paragraphs]
    body = {p for p in paragraphs if layout.para_starts[p] >= layout.title_len}
    rule = topic.relevance
    return total > 0 and len(in_paras) >= rule.min_hits and len(body) / total >= rule.min_share


def _verdict(topic: Topic, evidence: Evidence, layout: Layout, paragraphs: set[int]) -> bool:
    """Substantive when any enabled rule of the topic's relevance section holds."""
    rule = topic.relevance
    return (
        (rule.title and _title_rule(topic, evidence, layout))
        or (rule.min_paragraphs > 0 and len(paragraphs) >= rule.min_paragraphs)
        or (rule.min_signals_in_sentence > 0 and _sentence_rule(topic, evidence, layout))
        or (rule.min_hits > 0 and _dense_rule(topic, evidence, layout, paragraphs))
    )


def _topic_score(
    topic: Topic,
    kept: Sequence[Hit],
    evidence: Evidence,
    layout: Layout,
    paragraphs: set[int],
    text: str,
) -> TopicScore:
    return TopicScore(
        name=topic.name,
        score=round(sum(_weight(h, layout) for h in kept), 2),
        substantive=_verdict(topic, evidence, layout, paragraphs),
        hits=tuple(term_hit(text, h) for h in sorted(kept, key=lambda h: h.start)),
    )


def plain_score(
    topic: Topic, evidence: Evidence, hits: Sequence[Hit], layout: Layout, text: str
) -> TopicScore | None:
    if not evidence:
        return None
    context = [h for h in hits if h.kind == "context" and h.owner == topic.name]
    paragraphs = {layout.paragraph(h.start) for h, _ in evidence}
    kept = [h for h, _ in evidence] + context
    return _topic_score(topic, kept, evidence, layout, paragraphs, text)


def pair_score(topic: Topic, evidence: Evidence, layout: Layout, text: str) -> TopicScore | None:
    """A relationship topic only counts where both sides meet in one paragraph."""
    sides_in: dict[int, set[str]] = defaultdict(set)
    for h, signals in evidence:
        sides_in[layout.paragraph(h.start)] |= signals
    both = set(topic.pair or ())
    paragraphs = {p for p, sides in sides_in.items() if both <= sides}
    if not paragraphs:
        return None
    kept = [h for h, _ in evidence if layout.paragraph(h.start) in paragraphs]
    return _topic_score(topic, kept, evidence, layout, paragraphs, text)
