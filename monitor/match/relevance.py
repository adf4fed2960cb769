"""Relevance: turn a topic's hits into a score and a substantive/passing verdict.

A topic is substantive when any enabled rule of its ``relevance`` section (topics.toml) holds:
a hit in the title, hits spread over several paragraphs, one sentence carrying several distinct
signals, or a short piece mostly about the topic. Relationship topics (``pair``) only count where
both sides meet in one paragraph. Pure functions over hits and paragraph/sentence boundaries.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import accumulate
from math import log1p
from typing import Literal, NamedTuple

from monitor.match.lexicon import Topic
from monitor.match.model import Judge
from monitor.match.textnorm import sentence_bounds, snippet
from monitor.models import Span, TermHit, TopicScore

Kind = Literal[
    "topic",
    "context",
    "cue",
    "background",
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


class Hit(NamedTuple):
    """One lexicon string found in the matched text."""

    kind: Kind
    owner: str
    term: str
    start: int  # original-text offsets
    end: int

    def contains(self, other: Hit) -> bool:
        return self.start <= other.start and other.end <= self.end


class Snippets:
    """The :class:`TermHit` of each hit of one text; a span's snippet is cut only once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._made: dict[tuple[str, int, int], TermHit] = {}

    def term_hit(self, h: Hit) -> TermHit:
        key = (h.term, h.start, h.end)
        made = self._made.get(key)
        if made is None:
            snip = snippet(self.text, h.start, h.end)
            made = self._made[key] = TermHit(term=h.term, span=Span(h.start, h.end), snippet=snip)
        return made


Evidence = Sequence[tuple[Hit, frozenset[str]]]

_LINE_ENDS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


class Layout:
    """Paragraph and sentence boundaries of the matched text, for locating hits.

    Paragraphs are the non-blank lines; a paragraph is split into sentences only when a rule
    asks where a hit's sentence is. ``sentence`` numbers sentences as (paragraph, index).
    """

    def __init__(self, text: str, title_len: int) -> None:
        self.text = text
        self.title_len = title_len
        lines = text.splitlines(keepends=True)
        paras = [
            (o, ln)
            for o, ln in zip(accumulate(map(len, lines), initial=0), lines, strict=False)
            if not ln.isspace()
        ]
        self.para_starts: tuple[int, ...] = tuple(o for o, _ in paras)
        self._lines = [ln for _, ln in paras]
        self._sentences: dict[int, list[int]] = {}

    def paragraph(self, pos: int) -> int:
        return bisect_right(self.para_starts, pos) - 1

    def sentence(self, pos: int) -> tuple[int, int]:
        para = self.paragraph(pos)
        if para < 0:
            return (-1, 0)
        starts = self._sentences.get(para)
        if starts is None:
            lo = self.para_starts[para]
            hi = lo + len(self._lines[para].rstrip(_LINE_ENDS))
            starts = self._sentences[para] = [a for a, _ in sentence_bounds(self.text, lo, hi)]
        return (para, bisect_right(starts, pos) - 1)

    def in_title(self, h: Hit) -> bool:
        return h.start < self.title_len

    @property
    def body_paragraphs(self) -> int:
        return len(self.para_starts) - bisect_left(self.para_starts, self.title_len)


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
    by_sentence: dict[tuple[int, int], set[str]] = defaultdict(set)
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
    snippets: Snippets,
    extra: Extra,
) -> TopicScore:
    rules = _verdict(topic, evidence, layout, paragraphs)
    substantive, confidence = rules, None
    drivers: tuple[tuple[str, float], ...] = ()
    if extra.judge is not None:
        features = topic_features(
            topic, evidence, extra.context, extra.cues, extra.background, layout, paragraphs, rules
        )
        confidence, drivers = extra.judge.judge(features, FEATURES, extra.words)
        substantive = confidence >= extra.judge.threshold
        confidence = round(confidence, 3)
    return TopicScore(
        name=topic.name,
        score=round(sum(_weight(h, layout) for h in kept), 2),
        substantive=substantive,
        hits=tuple(snippets.term_hit(h) for h in sorted(kept, key=lambda h: h.start)),
        confidence=confidence,
        drivers=drivers,
    )


class Extra(NamedTuple):
    """What a topic's verdict may use beyond its evidence: context and cue hits, the model."""

    context: Sequence[Hit] = ()
    cues: Sequence[Hit] = ()
    background: Sequence[Hit] = ()
    judge: Judge | None = None
    words: Mapping[int, str] = {}


def plain_score(
    topic: Topic, evidence: Evidence, layout: Layout, snippets: Snippets, extra: Extra
) -> TopicScore | None:
    """``extra.context``: the topic's context hits, which only add to the score."""
    if not evidence:
        return None
    paragraphs = {layout.paragraph(h.start) for h, _ in evidence}
    kept = [h for h, _ in evidence] + list(extra.context)
    return _topic_score(topic, kept, evidence, layout, paragraphs, snippets, extra)


def pair_score(
    topic: Topic, evidence: Evidence, layout: Layout, snippets: Snippets, extra: Extra
) -> TopicScore | None:
    """A relationship topic only counts where both sides meet in one paragraph."""
    sides_in: dict[int, set[str]] = defaultdict(set)
    for h, signals in evidence:
        sides_in[layout.paragraph(h.start)] |= signals
    both = set(topic.pair or ())
    paragraphs = {p for p, sides in sides_in.items() if both <= sides}
    if not paragraphs:
        return None
    kept = [h for h, _ in evidence if layout.paragraph(h.start) in paragraphs]
    return _topic_score(topic, kept, evidence, layout, paragraphs, snippets, extra)


# -- features for the relevance model -----------------------------------------------------

FEATURES: tuple[str, ...] = (
    "rules",  # the rules' verdict (above)
    "title",  # the title rule holds
    "lead",  # evidence in the first body paragraph (pair topics: both sides there)
    "hits",  # log1p of the evidence hits kept
    "paragraphs",  # log1p of the paragraphs with evidence (pair topics: where sides meet)
    "share",  # those paragraphs over the body's paragraphs
    "sentence_signals",  # most distinct signals in one sentence
    "meet_sentences",  # log1p of sentences carrying two or more signals (pair: both sides)
    "own_terms",  # log1p of hits of the topic's own terms
    "actors",  # log1p of distinct people among the evidence
    "first",  # how early the first evidence comes (1 = at the start of the text)
    "cues",  # log1p of cue words in sentences with evidence
    "cue_sentences",  # share of evidence sentences that carry a cue word
    "cues_all",  # log1p of the topic's cue words anywhere in the text
    "background",  # log1p of background words in sentences with evidence
    "background_title",  # a background word in the title ("Former NATO chief …")
    "context",  # log1p of context-term hits
    "length",  # log1p of the body's paragraphs
)


def topic_features(
    topic: Topic,
    evidence: Evidence,
    context: Sequence[Hit],
    cues: Sequence[Hit],
    background: Sequence[Hit],
    layout: Layout,
    paragraphs: set[int],
    rules: bool,
) -> tuple[float, ...]:
    """The model's view of one detected topic, in ``FEATURES`` order."""
    body = [p for p in range(len(layout.para_starts)) if layout.para_starts[p] >= layout.title_len]
    lead = body[0] if body else -1
    by_sentence: dict[tuple[int, int], set[str]] = defaultdict(set)
    for h, signals in evidence:
        by_sentence[layout.sentence(h.start)] |= signals
    need = 2 if topic.pair is None else len(topic.pair)
    meet = sum(1 for s in by_sentence.values() if len(s) >= need)
    cue_sentences = {layout.sentence(h.start) for h in cues} & set(by_sentence)
    cue_hits = sum(1 for h in cues if layout.sentence(h.start) in by_sentence)
    kept = [h for h, _ in evidence if topic.pair is None or layout.paragraph(h.start) in paragraphs]
    first = min((h.start for h in kept), default=len(layout.text))
    people = {h.owner for h, _ in evidence if h.kind in ("name", "alias", "short", "role")}
    # Counts are capped: a long article must not look like a different kind of text to a
    # model trained mostly on leads (the cap is where more of the same stops adding meaning).
    return (
        float(rules),
        float(_title_rule(topic, evidence, layout)),
        float(lead in paragraphs),
        _capped(len(kept), 12),
        _capped(len(paragraphs), 8),
        len(paragraphs & set(body)) / len(body) if body else 0.0,
        float(min(max((len(s) for s in by_sentence.values()), default=0), 4)),
        _capped(meet, 6),
        _capped(sum(1 for h, _ in evidence if h.kind == "topic"), 10),
        _capped(len(people), 5),
        1.0 - first / max(len(layout.text), 1),
        _capped(cue_hits, 10),
        len(cue_sentences) / len(by_sentence) if by_sentence else 0.0,
        _capped(len(cues), 12),
        _capped(sum(1 for h in background if layout.sentence(h.start) in by_sentence), 6),
        float(any(layout.in_title(h) for h in background)),
        _capped(len(context), 6),
        _capped(len(body), 15),
    )


def _capped(n: int, cap: int) -> float:
    return log1p(min(n, cap))
