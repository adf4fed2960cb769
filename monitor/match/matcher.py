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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import ahocorasick

from monitor.extract import strip_furniture
from monitor.match.lexicon import CaseCheck, Lexicon, Term, Topic
from monitor.match.model import Judge, RelevanceModel, TextSpec
from monitor.match.relevance import Extra, Hit, Kind, Layout, Snippets, pair_score, plain_score
from monitor.match.textnorm import FoldMap, camel_end, camel_start, fold_map
from monitor.models import ActorMention, MatchResult, TopicScore, Via

__all__ = ["Lexicon", "Matcher", "matched_text", "strip_furniture"]

_VIA_RANK: dict[Via, int] = {"name": 0, "alias": 1, "role": 2}
_SENTENCE_BREAK = re.compile(r"[.!?]\s|\n")


@dataclass(frozen=True)
class _Entry:
    kind: Kind
    owner: str  # topic, group, actor or role name
    term: Term


@dataclass(frozen=True)
class _People:
    """Who the article mentions: one hit per mention, and the offices the text gives them."""

    hits: tuple[Hit, ...]
    attached: dict[str, frozenset[str]]


def matched_text(title: str, body: str) -> str:
    """The exact text spans refer to: title, blank line, body without furniture."""
    return f"{title}\n\n{strip_furniture(body)}"


class Matcher:
    """Finds topics and actors in articles. Build once per lexicon; ``match`` is pure."""

    def __init__(
        self,
        lexicon: Lexicon,
        model: RelevanceModel | None = None,
        *,
        judges: Mapping[str, Judge] | None = None,
        text: TextSpec | None = None,
    ) -> None:
        """``model`` decides substantive vs passing where it has a topic (else the rules);
        ``judges`` replaces it per topic (training collects features this way)."""
        self.lexicon = lexicon
        self.model = model
        self._judges: Mapping[str, Judge] = (
            judges if judges is not None else dict(model.topics) if model is not None else {}
        )
        self._text = model.text if model is not None else text
        self._roles = {r.name: r for r in lexicon.roles}
        self._actors = {a.name: a for a in lexicon.actors}
        entries = list(_entries(lexicon))
        self._automaton = _build_automaton(e for e in entries if e.kind not in _MODEL_KINDS)
        # Cue and background words only feed the relevance model: they are looked for in a
        # second pass, and only in articles where a judged topic has evidence at all.
        model_entries = [e for e in entries if e.kind in _MODEL_KINDS]
        self._model_automaton = _build_automaton(model_entries) if model_entries else None

    def match(self, title: str, body: str, published: datetime | None) -> MatchResult:
        """Topics and actors of one article; ``published`` (None = now) resolves roles."""
        text = matched_text(title, body)
        folded = fold_map(text)
        hits = _resolve_overlaps(self._scan(text, folded, self._automaton))
        day = _day(published)
        people = self._people(text, hits, day)
        snippets = Snippets(text)
        return MatchResult(
            topics=self._topics_for(
                _Article(text, len(title), folded), hits, people, day, snippets
            ),
            actors=_mentions(snippets, people.hits),
        )

    def _model_inputs(
        self, article: _Article
    ) -> tuple[dict[tuple[str, str], list[Hit]], Mapping[int, str]]:
        """Cue and background hits by (kind, topic), and the hashed words of title and lead."""
        by: dict[tuple[str, str], list[Hit]] = defaultdict(list)
        if self._model_automaton is not None:
            found = self._scan(article.text, article.folded, self._model_automaton)
            for h in _resolve_overlaps(found):
                by[(h.kind, h.owner)].append(h)
        title = article.text[: article.title_len]
        words = self._text.words(title, article.text[article.title_len :]) if self._text else {}
        return by, words

    # -- scanning -------------------------------------------------------------------------

    def _scan(self, text: str, folded: FoldMap, automaton: ahocorasick.Automaton) -> list[Hit]:
        ftext, size = folded.text, len(folded.text)
        starts, deltas = folded.starts, folded.deltas
        found: list[Hit] = []
        for last, (length, word_first, word_last, entries) in automaton.iter(ftext):
            start, end = last - length + 1, last + 1
            # Most raw hits sit inside a longer word ("as" in "pasukan"): reject those cheaply.
            if word_first and start and ftext[start - 1].isalnum():
                o = start + deltas[bisect_right(starts, start) - 1]
                cur = text[o]
                if not (cur.isupper() or cur.isalpha() != text[o - 1].isalpha()):
                    continue  # no camel-case seam here
                if not _left_ok(text, folded, start):
                    continue
            if (
                word_last
                and end < size
                and ftext[end].isalnum()
                and not _right_ok(text, folded, end, self.lexicon.clitics)
            ):
                continue
            lo = start + deltas[bisect_right(starts, start) - 1]
            hi = end + deltas[bisect_right(starts, end - 1) - 1]
            for kind, owner, term, checks in entries:
                if not checks or _case_ok(text, folded, start, checks):
                    found.append(Hit(kind, owner, term, lo, hi))
        return found

    # -- actors ---------------------------------------------------------------------------

    def _people(self, text: str, hits: Sequence[Hit], day: date) -> _People:
        """Names, aliases, short forms of people named in full, and resolved roles."""
        shadowed = {h.owner for h in hits if h.kind == "namesake"}
        full = {h.owner for h in hits if h.kind in ("name", "alias") and " " in h.term.strip()}

        def names_actor(h: Hit) -> bool:
            # With a namesake around ("Daniil Medvedev"), a bare surname is not enough.
            if h.kind == "name":
                return True
            return h.kind == "alias" and (h.owner not in shadowed or h.owner in full)

        named = {h.owner for h in hits if names_actor(h)}
        people = [h for h in hits if names_actor(h) or (h.kind == "short" and h.owner in named)]
        resolved = list(people)
        anchors: dict[tuple[str, bool], str] = {}
        elsewhere: set[str] = set()
        attached: dict[str, set[str]] = defaultdict(set)
        for h in hits:
            if h.kind not in ("role", "title"):
                continue
            role = self._roles[h.owner]
            prev = _word_before(text, h.start)
            if prev in self.lexicon.role_blockers:
                continue  # "pemilihan presiden AS": the office, not its holder
            former = prev in self.lexicon.former_markers
            holders = {x.actor for x in role.holders}
            beside = _named_beside(text, h, people, holders, self.lexicon.name_window)
            if beside is not None:
                # A name wins over the role; the text says this person holds the office.
                if not former:
                    attached[beside].add(role.name)
                anchors[(role.name, former)] = beside
                continue
            if h.kind == "title":
                continue  # a bare "Sekjen" only matters next to a name
            if role.name in elsewhere or _other_name_follows(text, h.end):
                # "Secretary of State Pratikno", "Defence Secretary John Healey", "Secretary
                # of State for Northern Ireland": another country's office, and so are the
                # article's later bare mentions of it.
                elsewhere.add(role.name)
                continue
            # A later "sang mantan Sekjen" refers back to the person introduced with it.
            who = anchors.get((role.name, former)) or role.holder_on(day, former=former)
            if who:
                resolved.append(Hit("role", who, h.term, h.start, h.end))
        resolved.sort(key=lambda h: (h.start, h.end))
        return _People(tuple(resolved), {k: frozenset(v) for k, v in attached.items()})

    def _links(self, people: _People, day: date) -> dict[str, frozenset[str]]:
        """Topics each mentioned person speaks for: their own, or an office held or given."""
        links: dict[str, frozenset[str]] = {}
        for name in {h.owner for h in people.hits}:
            topics = set(self._actors[name].topics)
            given = people.attached.get(name, frozenset())
            for role in self.lexicon.roles:
                if role.topics and (role.name in given or role.holder_on(day) == name):
                    topics.update(role.topics)
            links[name] = frozenset(topics)
        return links

    # -- topics ---------------------------------------------------------------------------

    def _topics_for(
        self,
        article: _Article,
        hits: Sequence[Hit],
        people: _People,
        day: date,
        snippets: Snippets,
    ) -> tuple[TopicScore, ...]:
        layout = Layout(article.text, article.title_len)
        links = self._links(people, day)
        signals = _signal_hits(hits)
        context: dict[str, list[Hit]] = defaultdict(list)
        for h in hits:
            if h.kind == "context":
                context[h.owner].append(h)
        found = [
            (topic, self._evidence(topic, signals, people.hits, links))
            for topic in self.lexicon.topics
        ]
        model_hits: dict[tuple[str, str], list[Hit]] = {}
        words: Mapping[int, str] = {}
        if any(evidence and topic.name in self._judges for topic, evidence in found):
            model_hits, words = self._model_inputs(article)
        scores: list[TopicScore] = []
        for topic, evidence in found:
            extra = Extra(
                context[topic.name],
                model_hits.get(("cue", topic.name), ()),
                model_hits.get(("background", topic.name), ()),
                self._judges.get(topic.name),
                words,
            )
            score = (
                pair_score(topic, evidence, layout, snippets, extra)
                if topic.pair
                else plain_score(topic, evidence, layout, snippets, extra)
            )
            if score is not None:
                scores.append(score)
        return tuple(scores)

    def _evidence(
        self,
        topic: Topic,
        signals: _Signals,
        people: Sequence[Hit],
        links: dict[str, frozenset[str]],
    ) -> list[tuple[Hit, frozenset[str]]]:
        """Hits that speak for ``topic``, each with the signals it carries.

        A term inside an office title ("NATO" in "Sekjen NATO Mark Rutte") is part of a person's
        title, not a second signal: it counts as a hit but the person carries the signal.
        """
        out: list[tuple[Hit, frozenset[str]]] = []
        sides = frozenset(topic.pair or ())
        for h, titled in signals.hits:
            own: frozenset[str] | None = None
            if h.kind == "topic" and h.owner == topic.name:
                own = sides or frozenset({"terms"})
            elif h.owner in sides and (
                h.kind == "group" or (h.kind == "group_context" and h.owner in signals.core_groups)
            ):
                own = frozenset({h.owner})
            if own is not None:
                out.append((h, frozenset() if titled else own))
        for h in people:
            side = self._actors[h.owner].side
            if topic.pair and side in sides:
                out.append((h, frozenset({side})))
            elif not topic.pair and topic.name in links[h.owner]:
                out.append((h, frozenset({h.owner})))
        out.sort(key=lambda e: e[0].start)
        return out


@dataclass(frozen=True)
class _Article:
    """The matched text (title, blank line, body) with its folding, for second passes."""

    text: str
    title_len: int
    folded: FoldMap


_MODEL_KINDS = frozenset({"cue", "background"})


@dataclass(frozen=True)
class _Signals:
    """Topic and group hits, each with whether it sits inside an office title."""

    hits: tuple[tuple[Hit, bool], ...]
    core_groups: frozenset[str]


def _signal_hits(hits: Sequence[Hit]) -> _Signals:
    # Role hits never overlap each other (longest wins), so only the last one starting at or
    # before a hit can contain it.
    roles = [h for h in hits if h.kind == "role"]
    role_starts = [r.start for r in roles]

    def titled(h: Hit) -> bool:
        i = bisect_right(role_starts, h.start) - 1
        return i >= 0 and roles[i].end >= h.end

    return _Signals(
        tuple(
            (h, bool(roles) and titled(h))
            for h in hits
            if h.kind in ("topic", "group", "group_context")
        ),
        frozenset(h.owner for h in hits if h.kind == "group"),
    )


# -- building -----------------------------------------------------------------------------


def _entries(lex: Lexicon) -> Iterable[_Entry]:
    for topic in lex.topics:
        yield from (_Entry("topic", topic.name, t) for t in topic.terms)
        yield from (_Entry("context", topic.name, t) for t in topic.context)
        yield from (_Entry("cue", topic.name, t) for t in topic.cues)
        yield from (_Entry("background", topic.name, t) for t in topic.background)
    for group in lex.groups:
        yield from (_Entry("group", group.name, t) for t in group.terms)
        yield from (_Entry("group_context", group.name, t) for t in group.context)
    for actor in lex.actors:
        name = actor.name_term
        yield _Entry("name", actor.name, name)
        yield from (_Entry("alias", actor.name, t) for t in actor.aliases if t.key != name.key)
        yield from (_Entry("short", actor.name, t) for t in actor.short)
        for t in actor.namesakes:  # the namesake's own name hides the hits inside it
            yield _Entry("namesake", actor.name, t)
            yield _Entry("exclude", "", t)
    for role in lex.roles:
        yield from (_Entry("role", role.name, t) for t in role.terms)
        yield from (_Entry("title", role.name, t) for t in role.titles)
    yield from (_Entry("exclude", "", t) for t in lex.exclude)


def _build_automaton(entries: Iterable[_Entry]) -> ahocorasick.Automaton:
    """One automaton over every key; a key's value says what its hits are (see ``_scan``)."""
    by_key: dict[str, list[_Entry]] = defaultdict(list)
    for e in entries:
        if e not in by_key[e.term.key]:
            by_key[e.term.key].append(e)
    automaton = ahocorasick.Automaton()
    for key, group in by_key.items():
        found = tuple((e.kind, e.owner, e.term.text, e.term.case_checks) for e in group)
        automaton.add_word(key, (len(key), key[0].isalnum(), key[-1].isalnum(), found))
    automaton.make_automaton()
    return automaton


# -- scanning helpers ---------------------------------------------------------------------


def _left_ok(text: str, folded: FoldMap, start: int) -> bool:
    """A hit starting inside a word: only at a camel-case seam of a glued token."""
    o_prev, o_cur = folded.orig(start - 1), folded.orig(start)
    return o_prev != o_cur and camel_start(text, o_cur)


def _right_ok(text: str, folded: FoldMap, end: int, clitics: Sequence[str]) -> bool:
    """A hit ending inside a word: at a camel-case seam, or before a clitic ending the word."""
    ftext = folded.text
    o_end = folded.orig(end)
    if o_end != folded.orig(end - 1) and camel_end(text, o_end):
        return True
    for clitic in clitics:  # Indonesian "Rusianya", "NATOlah"
        stop = end + len(clitic)
        if ftext.startswith(clitic, end) and (stop >= len(ftext) or not ftext[stop].isalnum()):
            return True
    return False


def _case_ok(text: str, folded: FoldMap, start: int, checks: Sequence[CaseCheck]) -> bool:
    for offset, length, mode in checks:
        lo = folded.orig(start + offset)
        hi = folded.orig(start + offset + length - 1) + 1
        letters = [c for c in text[lo:hi] if c.isalpha()]
        if not letters:
            return False
        upper = all(c.isupper() for c in letters)
        title = letters[0].isupper() and all(c.islower() for c in letters[1:])
        if not (upper or (mode == "upper_or_title" and title)):
            return False
    return True


def _resolve_overlaps(hits: list[Hit]) -> list[Hit]:
    """Drop hits inside exclusions, then keep the longest hit among overlapping ones of a kind."""
    excluded = [h for h in hits if h.kind == "exclude"]
    kept = [
        h
        for h in hits
        if h.kind != "exclude"
        and (not excluded or h.kind == "namesake" or not any(x.contains(h) for x in excluded))
    ]
    out: list[Hit] = []
    for family in _families(kept).values():
        family.sort(key=lambda h: (h.start, -(h.end - h.start)))
        chosen: list[Hit] = []
        for h in family:
            if chosen and h.start < chosen[-1].end:
                if h.end - h.start > chosen[-1].end - chosen[-1].start:
                    chosen[-1] = h
                continue
            chosen.append(h)
        out.extend(chosen)
    out.sort(key=lambda h: (h.start, h.end))
    return out


def _families(hits: Iterable[Hit]) -> dict[tuple[str, str], list[Hit]]:
    # Overlaps compete only within a family: one topic's terms, one group, all people, roles.
    fam: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    for h in hits:
        if h.kind in ("topic", "context"):
            fam[("topic", h.owner)].append(h)
        elif h.kind in ("group", "group_context"):
            fam[("group", h.owner)].append(h)
        elif h.kind in ("name", "alias", "short"):
            fam[("actor", "")].append(h)
        else:
            fam[(h.kind, "")].append(h)
    return fam


def _named_beside(
    text: str, role_hit: Hit, people: Sequence[Hit], holders: set[str], window: int
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


def _mentions(snippets: Snippets, people: Sequence[Hit]) -> tuple[ActorMention, ...]:
    by_actor: dict[str, list[Hit]] = defaultdict(list)
    for h in people:
        by_actor[h.owner].append(h)
    return tuple(
        ActorMention(
            name=name,
            via=min((_via(h) for h in hs), key=_VIA_RANK.__getitem__),
            count=len(hs),
            hits=tuple(snippets.term_hit(h) for h in hs),
        )
        for name, hs in by_actor.items()
    )


# Capitalised words after an office that are not a person's name: days and months (Indonesian
# copy writes "Sekjen NATO Senin (2/2) mengatakan"), and words that start a clause.
_NOT_A_NAME = frozenset(
    """senin selasa rabu kamis jumat jum'at sabtu minggu monday tuesday wednesday thursday
    friday saturday sunday januari februari maret april mei juni juli agustus september
    oktober november desember january february march june july august october december the
    this that he she it his her they in on at and but said says menurut kata ujar mengatakan
    dalam pada di ke dari yang itu ini saat ketika sebelumnya kemudian namun also""".split()  # noqa: SIM905
)
_FOLLOWING_NAME = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:for|untuk|of)[ \t]+)?([A-Z][\w'’.-]*)(?:[ \t]+[A-Z][\w'’.-]*)?"
)


def _other_name_follows(text: str, end: int) -> bool:
    """Whether the office at ``text[:end]`` is followed by a name (the caller already knows
    it is not a holder's): "Menteri Sekretaris Negara Pratikno", "Secretary of State for
    Northern Ireland". Acronyms and the words in ``_NOT_A_NAME`` are not names."""
    m = _FOLLOWING_NAME.match(text, end)
    if m is None or _title_case_line(text, end):
        return False
    word = m.group(1).rstrip(".")
    if word.isupper() or word.lower() in _NOT_A_NAME:
        return False
    return len(word) > 1


def _title_case_line(text: str, pos: int) -> bool:
    """Headlines and subheadings capitalise (nearly) every word: no name can be told there."""
    lo = text.rfind("\n", 0, pos) + 1
    hi = text.find("\n", pos)
    words = [w for w in text[lo : hi if hi >= 0 else len(text)].split() if w[:1].isalpha()]
    capital = sum(1 for w in words if w[0].isupper())
    return len(words) >= 3 and capital >= 0.6 * len(words)


def _word_before(text: str, pos: int) -> str:
    words = fold_map(text[max(0, pos - 24) : pos]).text.split()
    return words[-1] if words else ""


def _via(h: Hit) -> Via:
    if h.kind == "role":
        return "role"
    return "name" if h.kind == "name" else "alias"


def _day(published: datetime | None) -> date:
    if published is None:
        return datetime.now(UTC).date()
    if published.tzinfo is not None:
        return published.astimezone(UTC).date()
    return published.date()
