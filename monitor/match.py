"""Match stage: which tracked topics and actors an article is about, and why.

One Aho-Corasick automaton holds every lexicon string (topic terms, group entities, actor names,
roles, exclusions), built once per :class:`Lexicon`. Matching runs it once over the folded text
(``title + "\\n\\n" + strip_furniture(body)``), then applies, in order:

1. word boundaries (also camel-case seams in hashtags, and Indonesian clitics such as ``-nya``),
   and case for acronyms (``AS`` only in capitals);
2. exclusions: a hit inside an excluded phrase ("Washington Post", "AS Roma") is dropped;
3. longest match wins within one kind ("Joe Biden" over "Biden");
4. actors: short forms only count once the actor is named in full; roles resolve by the
   publication date unless a holder is named next to the role ("a name wins over a role");
5. topics: a score and a substantive/passing verdict from the topic's relevance rule.

Every hit keeps the lexicon string that fired, its span in the matched text and a snippet.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

import ahocorasick

from monitor.furniture import strip_furniture
from monitor.lexicon import Lexicon, Role, Term, Topic
from monitor.models import ActorMention, MatchResult, Span, TermHit, TopicScore, Via
from monitor.textnorm import Folded, camel_end, camel_start, fold, is_word, paragraph_bounds
from monitor.textnorm import sentence_bounds, snippet

__all__ = ["Lexicon", "Matcher", "matched_text", "strip_furniture"]

Kind = Literal["topic", "context", "group", "name", "alias", "short", "role", "exclude"]
_ACTOR_KINDS = ("name", "alias", "short")
_VIA_RANK: dict[Via, int] = {"name": 0, "alias": 1, "role": 2}
_SENTENCE_BREAK = re.compile(r"[.!?]\s|\n")


@dataclass(frozen=True)
class _Entry:
    kind: Kind
    owner: str  # topic, group, actor or role name
    term: Term


@dataclass(frozen=True)
class _Hit:
    kind: Kind
    owner: str
    term: str
    start: int  # original-text offsets
    end: int

    def contains(self, other: _Hit) -> bool:
        return self.start <= other.start and other.end <= self.end


def matched_text(title: str, body: str) -> str:
    """The exact text spans refer to: title, blank line, body without furniture."""
    return f"{title}\n\n{strip_furniture(body)}"


class Matcher:
    """Finds topics and actors in articles. Build once per lexicon; ``match`` is pure."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._topics = {t.name: t for t in lexicon.topics}
        self._roles = {r.name: r for r in lexicon.roles}
        self._actor_topics = {a.name: a.topics for a in lexicon.actors}
        self._actor_side = {a.name: a.side for a in lexicon.actors if a.side}
        self._automaton = _build_automaton(_entries(lexicon))

    def match(self, title: str, body: str, published: datetime | None) -> MatchResult:
        text = matched_text(title, body)
        folded = fold(text)
        hits = _resolve_overlaps(self._scan(text, folded))
        day = _day(published)
        actors = self._actors(text, hits, day)
        topics = self._topics_for(text, len(title), hits)
        return MatchResult(topics=topics, actors=actors)

    # -- scanning -------------------------------------------------------------------------

    def _scan(self, text: str, folded: Folded) -> list[_Hit]:
        found: list[_Hit] = []
        ftext = folded.text
        for last, entries in self._automaton.iter(ftext):
            key_len = len(entries[0].term.key)
            start, end = last - key_len + 1, last + 1
            if not _left_ok(text, folded, start, entries[0].term.key):
                continue
            if not _right_ok(text, folded, end, entries[0].term.key, self.lexicon.clitics):
                continue
            span = (folded.orig[start], folded.orig[end - 1] + 1)
            for entry in entries:
                if _case_ok(text, folded, start, entry.term):
                    found.append(_Hit(entry.kind, entry.owner, entry.term.text, *span))
        return found

    # -- actors ---------------------------------------------------------------------------

    def _actors(self, text: str, hits: Sequence[_Hit], day: date) -> tuple[ActorMention, ...]:
        named = {h.owner for h in hits if h.kind in ("name", "alias")}
        people = [h for h in hits if h.kind in ("name", "alias") or
                  (h.kind == "short" and h.owner in named)]
        resolved = list(people)
        anchors: dict[str, str] = {}
        for h in sorted((h for h in hits if h.kind == "role"), key=lambda h: h.start):
            who = self._resolve_role(text, h, self._roles[h.owner], people, day, anchors)
            if who:
                resolved.append(_Hit("role", who, h.term, h.start, h.end))
        by_actor: dict[str, list[_Hit]] = defaultdict(list)
        for h in sorted(resolved, key=lambda h: h.start):
            by_actor[h.owner].append(h)
        return tuple(
            ActorMention(
                name=name,
                via=min((_via(h) for h in hs), key=_VIA_RANK.__getitem__),
                count=len(hs),
                hits=tuple(_term_hit(text, h) for h in hs),
            )
            for name, hs in by_actor.items()
        )

    def _resolve_role(
        self,
        text: str,
        hit: _Hit,
        role: Role,
        people: Sequence[_Hit],
        day: date,
        anchors: dict[str, str],
    ) -> str | None:
        before = fold(text[max(0, hit.start - 24) : hit.start]).text.split()
        prev = before[-1] if before else ""
        if prev in self.lexicon.role_blockers:
            return None  # "pemilihan presiden AS": the office, not its holder
        holders = {h.actor for h in role.holders}
        former = prev in self.lexicon.former_markers
        named = _named_beside(text, hit, people, holders, self.lexicon.name_window)
        if named is not None:
            if not former:
                anchors[role.name] = named  # later bare mentions mean this person
            return None  # the name next to the role already counts
        if not former and role.name in anchors:
            return None  # "Sekjen NATO Jens Stoltenberg ... Sekjen NATO itu": same person
        return role.holder_on(day, former=former)

    # -- topics ---------------------------------------------------------------------------

    def _topics_for(
        self, text: str, title_len: int, hits: Sequence[_Hit]
    ) -> tuple[TopicScore, ...]:
        layout = _Layout.of(text, title_len)
        named = {h.owner for h in hits if h.kind in ("name", "alias")}
        actor_hits = [h for h in hits if h.kind in ("name", "alias") or
                      (h.kind == "short" and h.owner in named)]
        scores: list[TopicScore] = []
        for topic in self.lexicon.topics:
            evidence = self._evidence(topic, hits, actor_hits)
            score = (
                _pair_score(topic, evidence, layout, text)
                if topic.pair
                else _plain_score(topic, evidence, hits, layout, text)
            )
            if score is not None:
                scores.append(score)
        return tuple(scores)

    def _evidence(
        self, topic: Topic, hits: Sequence[_Hit], actor_hits: Sequence[_Hit]
    ) -> list[tuple[_Hit, frozenset[str]]]:
        """Hits that speak for ``topic``, each with the signals it carries."""
        out: list[tuple[_Hit, frozenset[str]]] = []
        both = frozenset(topic.pair or ())
        for h in hits:
            if h.kind == "topic" and h.owner == topic.name:
                out.append((h, both or frozenset({"terms"})))
            elif topic.pair and h.kind == "group" and h.owner in both:
                out.append((h, frozenset({h.owner})))
        for h in actor_hits:
            if topic.pair:
                side = self._actor_side.get(h.owner)
                if side in both:
                    out.append((h, frozenset({side})))
            elif topic.name in self._actor_topics.get(h.owner, ()):
                out.append((h, frozenset({h.owner})))
        out.sort(key=lambda e: e[0].start)
        return out


# -- building -----------------------------------------------------------------------------


def _entries(lex: Lexicon) -> Iterable[_Entry]:
    for topic in lex.topics:
        yield from (_Entry("topic", topic.name, t) for t in topic.terms)
        yield from (_Entry("context", topic.name, t) for t in topic.context)
    for group in lex.groups:
        yield from (_Entry("group", group.name, t) for t in group.terms)
    for actor in lex.actors:
        name = actor.name_term
        yield _Entry("name", actor.name, name)
        yield from (_Entry("alias", actor.name, t) for t in actor.aliases if t.key != name.key)
        yield from (_Entry("short", actor.name, t) for t in actor.short)
    for role in lex.roles:
        yield from (_Entry("role", role.name, t) for t in role.terms)
    yield from (_Entry("exclude", "", t) for t in lex.exclude)


def _build_automaton(entries: Iterable[_Entry]) -> ahocorasick.Automaton:
    by_key: dict[str, list[_Entry]] = defaultdict(list)
    for e in entries:
        if e not in by_key[e.term.key]:
            by_key[e.term.key].append(e)
    automaton = ahocorasick.Automaton()
    for key, group in by_key.items():
        automaton.add_word(key, tuple(group))
    automaton.make_automaton()
    return automaton


# -- scanning helpers ---------------------------------------------------------------------


def _left_ok(text: str, folded: Folded, start: int, key: str) -> bool:
    if start == 0 or not is_word(key[0]) or not is_word(folded.text[start - 1]):
        return True
    o_prev, o_cur = folded.orig[start - 1], folded.orig[start]
    return o_prev != o_cur and camel_start(text, o_cur)


def _right_ok(
    text: str, folded: Folded, end: int, key: str, clitics: Sequence[str]
) -> bool:
    ftext = folded.text
    if end >= len(ftext) or not is_word(key[-1]) or not is_word(ftext[end]):
        return True
    if folded.orig[end] != folded.orig[end - 1] and camel_end(text, folded.orig[end]):
        return True
    for clitic in clitics:  # Indonesian "Rusianya", "NATOlah"
        stop = end + len(clitic)
        if ftext.startswith(clitic, end) and (stop >= len(ftext) or not is_word(ftext[stop])):
            return True
    return False


def _case_ok(text: str, folded: Folded, start: int, term: Term) -> bool:
    for offset, length, mode in term.case_checks:
        lo = folded.orig[start + offset]
        hi = folded.orig[start + offset + length - 1] + 1
        letters = [c for c in text[lo:hi] if c.isalpha()]
        if not letters:
            return False
        upper = all(c.isupper() for c in letters)
        title = letters[0].isupper() and all(c.islower() for c in letters[1:])
        if not (upper or (mode == "upper_or_title" and title)):
            return False
    return True


def _resolve_overlaps(hits: list[_Hit]) -> list[_Hit]:
    """Drop hits inside exclusions, then keep the longest hit among overlapping ones of a kind."""
    excluded = [h for h in hits if h.kind == "exclude"]
    kept = [h for h in hits if h.kind != "exclude" and not any(x.contains(h) for x in excluded)]
    out: list[_Hit] = []
    for family in _families(kept).values():
        family.sort(key=lambda h: (h.start, -(h.end - h.start)))
        chosen: list[_Hit] = []
        for h in family:
            if chosen and h.start < chosen[-1].end:
                if h.end - h.start > chosen[-1].end - chosen[-1].start:
                    chosen[-1] = h
                continue
            chosen.append(h)
        out.extend(chosen)
    out.sort(key=lambda h: (h.start, h.end))
    return out


def _families(hits: Iterable[_Hit]) -> dict[tuple[str, str], list[_Hit]]:
    # Overlaps compete only within a family: one topic's terms, one group, all people, roles.
    fam: dict[tuple[str, str], list[_Hit]] = defaultdict(list)
    for h in hits:
        if h.kind in ("topic", "context"):
            fam[("topic", h.owner)].append(h)
        elif h.kind in _ACTOR_KINDS:
            fam[("actor", "")].append(h)
        else:
            fam[(h.kind, h.owner if h.kind == "group" else "")].append(h)
    return fam


def _named_beside(
    text: str, role_hit: _Hit, people: Sequence[_Hit], holders: set[str], window: int
) -> str | None:
    """The nearest holder of the role named within ``window`` characters, same sentence."""
    best: tuple[int, str] | None = None
    for p in people:
        if p.owner not in holders:
            continue
        lo, hi = (p.end, role_hit.start) if p.end <= role_hit.start else (role_hit.end, p.start)
        if hi < lo or hi - lo > window or _SENTENCE_BREAK.search(text, lo, hi):
            continue
        if best is None or hi - lo < best[0]:
            best = (hi - lo, p.owner)
    return best[1] if best else None


def _via(h: _Hit) -> Via:
    if h.kind == "role":
        return "role"
    return "name" if h.kind == "name" else "alias"


def _term_hit(text: str, h: _Hit) -> TermHit:
    return TermHit(term=h.term, span=Span(h.start, h.end), snippet=snippet(text, h.start, h.end))


def _day(published: datetime | None) -> date:
    if published is None:
        return datetime.now(UTC).date()
    if published.tzinfo is not None:
        return published.astimezone(UTC).date()
    return published.date()


# -- relevance ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Paragraph and sentence boundaries of the matched text, for locating hits."""

    title_len: int
    para_starts: tuple[int, ...]
    sent_starts: tuple[int, ...]
    sent_para: tuple[int, ...]

    @classmethod
    def of(cls, text: str, title_len: int) -> _Layout:
        paras = paragraph_bounds(text)
        sent_starts: list[int] = []
        sent_para: list[int] = []
        for i, (lo, hi) in enumerate(paras):
            for s_lo, _ in sentence_bounds(text, lo, hi):
                sent_starts.append(s_lo)
                sent_para.append(i)
        return cls(title_len, tuple(lo for lo, _ in paras), tuple(sent_starts), tuple(sent_para))

    def paragraph(self, pos: int) -> int:
        return bisect_right(self.para_starts, pos) - 1

    def sentence(self, pos: int) -> int:
        return bisect_right(self.sent_starts, pos) - 1

    def in_title(self, h: _Hit) -> bool:
        return h.start < self.title_len


def _weight(h: _Hit, layout: _Layout) -> float:
    base = 0.5 if h.kind == "context" else 1.0
    return base * (2.0 if layout.in_title(h) else 1.0)


def _verdict(
    topic: Topic,
    evidence: Sequence[tuple[_Hit, frozenset[str]]],
    layout: _Layout,
    paragraphs: set[int],
) -> bool:
    rule = topic.relevance
    need = frozenset(topic.pair) if topic.pair else None
    title_signals: set[str] = set()
    for h, signals in evidence:
        if layout.in_title(h):
            title_signals |= signals
    if rule.title and title_signals and (need is None or need <= title_signals):
        return True
    if rule.min_paragraphs and len(paragraphs) >= rule.min_paragraphs:
        return True
    if not rule.min_signals_in_sentence:
        return False
    signal_paras: dict[str, set[int]] = defaultdict(set)
    by_sentence: dict[int, set[str]] = defaultdict(set)
    for h, signals in evidence:
        for s in signals:
            signal_paras[s].add(layout.paragraph(h.start))
        by_sentence[layout.sentence(h.start)] |= signals
    for signals in by_sentence.values():
        strong = [s for s in signals if len(signal_paras[s]) >= rule.min_paragraphs_per_signal]
        if len(strong) >= rule.min_signals_in_sentence:
            return True
    return False


def _topic_score(
    topic: Topic,
    kept: Sequence[_Hit],
    evidence: Sequence[tuple[_Hit, frozenset[str]]],
    layout: _Layout,
    paragraphs: set[int],
    text: str,
) -> TopicScore:
    return TopicScore(
        name=topic.name,
        score=round(sum(_weight(h, layout) for h in kept), 2),
        substantive=_verdict(topic, evidence, layout, paragraphs),
        hits=tuple(_term_hit(text, h) for h in sorted(kept, key=lambda h: h.start)),
    )


def _plain_score(
    topic: Topic,
    evidence: Sequence[tuple[_Hit, frozenset[str]]],
    hits: Sequence[_Hit],
    layout: _Layout,
    text: str,
) -> TopicScore | None:
    if not evidence:
        return None
    context = [h for h in hits if h.kind == "context" and h.owner == topic.name]
    paragraphs = {layout.paragraph(h.start) for h, _ in evidence}
    kept = [h for h, _ in evidence] + context
    return _topic_score(topic, kept, evidence, layout, paragraphs, text)


def _pair_score(
    topic: Topic,
    evidence: Sequence[tuple[_Hit, frozenset[str]]],
    layout: _Layout,
    text: str,
) -> TopicScore | None:
    """A relationship topic only counts where both sides meet in one paragraph."""
    assert topic.pair is not None
    sides_in: dict[int, set[str]] = defaultdict(set)
    for h, signals in evidence:
        sides_in[layout.paragraph(h.start)] |= signals
    both = set(topic.pair)
    paragraphs = {p for p, sides in sides_in.items() if both <= sides}
    if not paragraphs:
        return None
    kept = [h for h, _ in evidence if layout.paragraph(h.start) in paragraphs]
    return _topic_score(topic, kept, evidence, layout, paragraphs, text)
