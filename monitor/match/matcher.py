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

Every hit keeps the lexicon string that fired, its span in the matched text and a snippet (cut
when first read). Every step is linear in the text, or n log n where it sorts: a role mention is
only compared with the names within ``name_window`` of it, found by bisection, so a page dense
with offices and names costs no more per character than any other (``match_counted`` counts it).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import accumulate, chain

import ahocorasick

from monitor.extract import strip_furniture
from monitor.match.lazyhits import LazySnippets
from monitor.match.lexicon import CaseCheck, Lexicon, Term, Topic
from monitor.match.model import Judge, RelevanceModel, TextSpec
from monitor.match.nearby import Lines, Nearby
from monitor.match.relevance import Extra, Hit, Kind, Layout, Snippets, pair_score, plain_score
from monitor.match.textnorm import (
    FoldMap,
    camel_end,
    camel_start,
    fold_char,
    fold_map,
    folded_words,
)
from monitor.models import ActorMention, MatchResult, TopicScore, Via

__all__ = ["Lexicon", "MatchWork", "Matcher", "matched_text", "strip_furniture"]

_VIA_RANK: dict[Via, int] = {"name": 0, "alias": 1, "role": 2}


@dataclass(frozen=True)
class _Entry:
    kind: Kind
    owner: str  # topic, group, actor or role name
    term: Term


@dataclass(frozen=True)
class MatchWork:
    """How much work one ``match`` did, in steps rather than seconds.

    Every count grows at most linearly with the text: ``role_candidates`` (people looked at
    beside role mentions) and ``exclusion_checks`` are what used to grow as mentions × mentions.
    """

    found: int  # lexicon hits at word boundaries, in the right case
    hits: int  # hits kept after exclusions and overlaps
    role_mentions: int  # role and bare-title hits considered
    role_candidates: int  # people hits compared with a role mention
    exclusion_checks: int  # exclusion spans compared with a hit


@dataclass(frozen=True)
class _People:
    """Who the article mentions: one hit per mention, and the offices the text gives them."""

    hits: tuple[Hit, ...]
    attached: dict[str, frozenset[str]]
    role_mentions: int = 0
    role_candidates: int = 0


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
        self._holders = {r.name: {x.actor for x in r.holders} for r in lexicon.roles}
        self._actors = {a.name: a for a in lexicon.actors}
        entries = list(_entries(lexicon))
        main = [e for e in entries if e.kind not in _MODEL_KINDS]
        self._automaton = _build_automaton(main)
        self._capitals = _Capitals.build(main, self._automaton)
        # Cue and background words only feed the relevance model: they are looked for in a
        # second pass, and only in articles where a judged topic has evidence at all.
        model_entries = [e for e in entries if e.kind in _MODEL_KINDS]
        self._model_automaton = _build_automaton(model_entries) if model_entries else None

    def match(self, title: str, body: str, published: datetime | None) -> MatchResult:
        """Topics and actors of one article; ``published`` (None = now) resolves roles."""
        return self.match_counted(title, body, published)[0]

    def match_counted(
        self, title: str, body: str, published: datetime | None
    ) -> tuple[MatchResult, MatchWork]:
        """``match``, and how much work it took (see :class:`MatchWork`)."""
        text = matched_text(title, body)
        folded = fold_map(text)
        found = self._scan(text, folded, self._automaton, self._capitals)
        hits, exclusion_checks = _resolve_overlaps(found)
        day = _day(published)
        people = self._people(text, hits, day)
        # Snippets are cut when a hit's snippet is first read (or the result is pickled).
        snippets = LazySnippets(text)
        result = MatchResult(
            topics=self._topics_for(
                _Article(text, len(title), folded), hits, people, day, snippets
            ),
            actors=_mentions(snippets, people.hits),
        )
        work = MatchWork(
            found=len(found),
            hits=len(hits),
            role_mentions=people.role_mentions,
            role_candidates=people.role_candidates,
            exclusion_checks=exclusion_checks,
        )
        return result, work

    def _model_inputs(
        self, article: _Article
    ) -> tuple[dict[tuple[str, str], list[Hit]], Mapping[int, str]]:
        """Cue and background hits by (kind, topic), and the hashed words of title and lead."""
        by: dict[tuple[str, str], list[Hit]] = defaultdict(list)
        if self._model_automaton is not None:
            found = self._scan(article.text, article.folded, self._model_automaton)
            for h in _resolve_overlaps(found)[0]:
                by[(h.kind, h.owner)].append(h)
        title = article.text[: article.title_len]
        words = self._text.words(title, article.text[article.title_len :]) if self._text else {}
        return by, words

    # -- scanning -------------------------------------------------------------------------

    def _scan(
        self,
        text: str,
        folded: FoldMap,
        automaton: ahocorasick.Automaton,
        capitals: _Capitals | None = None,
    ) -> list[Hit]:
        """Hits of ``automaton``'s keys at word boundaries (or seams), in the right case; in no
        particular order. ``capitals``, when given, holds ``automaton`` without its
        capitals-only keys, and finds those apart (see :class:`_Capitals`)."""
        ftext, size = folded.text, len(folded.text)
        starts, deltas = folded.starts, folded.deltas
        seams = len(starts)
        clitics = self.lexicon.clitics
        raw: Iterable[tuple[int, _Value]] = ()
        if capitals is not None:
            written = capitals.written(text, folded)
            if written is not None:
                raw = chain(capitals.rest.iter(ftext), written)
        raw = raw or automaton.iter(ftext)
        found: list[Hit] = []
        for last, (length, word_first, word_last, entries) in raw:
            start, end = last - length + 1, last + 1
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
                and not _right_ok(text, folded, end, clitics)
            ):
                continue
            j = bisect_right(starts, start) - 1
            delta = deltas[j]
            lo = start + delta
            if j + 1 < seams and starts[j + 1] <= last:  # a seam inside the hit
                delta = deltas[bisect_right(starts, last) - 1]
            hi = end + delta
            checked: tuple[CaseCheck, ...] = ()
            passed = True
            for kind, owner, term, checks in entries:
                if checks and checks != checked:  # entries of a key mostly share their checks
                    checked = checks
                    passed = _case_ok(text, folded, start, checks, (length, lo, hi))
                if not checks or passed:
                    found.append(_new_hit(Hit, (kind, owner, term, lo, hi)))
        return found

    # -- actors ---------------------------------------------------------------------------

    def _people(self, text: str, hits: Sequence[Hit], day: date) -> _People:
        """Names, aliases, short forms of people named in full, and resolved roles."""
        mentioned = [h for h in hits if h.kind in _PEOPLE_KINDS]
        shadowed = {h.owner for h in mentioned if h.kind == "namesake"}
        full = {h.owner for h in mentioned if h.kind in ("name", "alias") and " " in h.term.strip()}

        def names_actor(h: Hit) -> bool:
            # With a namesake around ("Daniil Medvedev"), a bare surname is not enough.
            if h.kind == "name":
                return True
            return h.kind == "alias" and (h.owner not in shadowed or h.owner in full)

        naming = [names_actor(h) for h in mentioned]
        named = {h.owner for h, yes in zip(mentioned, naming, strict=True) if yes}
        people = [
            h
            for h, yes in zip(mentioned, naming, strict=True)
            if yes or (h.kind == "short" and h.owner in named)
        ]
        resolved = list(people)
        anchors: dict[tuple[str, bool], str] = {}
        elsewhere: set[str] = set()
        attached: dict[str, set[str]] = defaultdict(set)
        nearby = Nearby(people)
        lines = Lines(text)
        mentions = 0
        for h in hits:
            if h.kind not in ("role", "title"):
                continue
            mentions += 1
            role = self._roles[h.owner]
            prev = _word_before(text, h.start)
            if prev in self.lexicon.role_blockers:
                continue  # "pemilihan presiden AS": the office, not its holder
            former = prev in self.lexicon.former_markers
            holders = self._holders[role.name]
            beside = nearby.holder_beside(text, h, holders, self.lexicon.name_window)
            if beside is not None:
                # A name wins over the role; the text says this person holds the office.
                if not former:
                    attached[beside].add(role.name)
                anchors[(role.name, former)] = beside
                continue
            if h.kind == "title":
                continue  # a bare "Sekjen" only matters next to a name
            if role.name in elsewhere or _other_name_follows(text, h.end, lines):
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
        return _People(
            tuple(resolved),
            {k: frozenset(v) for k, v in attached.items()},
            mentions,
            nearby.compared,
        )

    def _links(self, people: _People, day: date) -> dict[str, frozenset[str]]:
        """Topics each mentioned person speaks for: their own, or an office held or given."""
        links: dict[str, frozenset[str]] = {}
        names = {h.owner for h in people.hits}
        held = [(r, r.holder_on(day)) for r in self.lexicon.roles if r.topics] if names else []
        for name in names:
            topics = set(self._actors[name].topics)
            given = people.attached.get(name, frozenset())
            for role, holder in held:
                if role.name in given or holder == name:
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
        # Only hits owned by the topic or one of its sides can speak for it; in text order.
        owned = [signals.by_owner.get(o, ()) for o in sides | {topic.name}]
        for _, h, titled in sorted(chain.from_iterable(owned), key=_first):
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
# ``Hit(...)`` goes through a Python-level ``__new__``; the tuple's own is a third faster, and
# the scan makes one per hit kept.
_new_hit = tuple.__new__
_PEOPLE_KINDS = frozenset({"name", "alias", "short", "namesake"})


@dataclass(frozen=True)
class _Signals:
    """Topic and group hits by owner, each with its rank in the text and whether it sits
    inside an office title."""

    by_owner: dict[str, list[tuple[int, Hit, bool]]]
    core_groups: frozenset[str]


def _first(ranked: tuple[int, Hit, bool]) -> int:
    return ranked[0]


def _signal_hits(hits: Sequence[Hit]) -> _Signals:
    """``hits`` in text order. Role hits never overlap each other (longest wins), so only the
    last one starting at or before a hit can contain it: one sweep finds it for every hit."""
    roles = [h for h in hits if h.kind == "role"]
    passed = 0  # roles starting at or before the current hit
    by_owner: dict[str, list[tuple[int, Hit, bool]]] = defaultdict(list)
    for i, h in enumerate(hits):
        if h.kind in ("topic", "group", "group_context"):
            while passed < len(roles) and roles[passed].start <= h.start:
                passed += 1
            by_owner[h.owner].append((i, h, passed > 0 and roles[passed - 1].end >= h.end))
    return _Signals(by_owner, frozenset(h.owner for h in hits if h.kind == "group"))


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

_Value = tuple[int, bool, bool, tuple[tuple[Kind, str, str, tuple[CaseCheck, ...]], ...]]


@dataclass(frozen=True)
class _Capitals:
    """Keys that only count written in capitals ("AS", "US"), found apart from the others.

    As lower-case automaton keys they fire inside most words ("pasukan", "khusus"), three raw
    hits in four, each rejected one by one. Where the text's capitals are all plain A-Z (see
    ``written``), those keys are looked for as written ("AS") in the original text instead,
    and ``rest`` (the automaton without them) finds the others: the same hits, far fewer
    rejected.
    """

    rest: ahocorasick.Automaton
    keys: tuple[tuple[bytes, str, _Value], ...]  # (as written, key, automaton value)

    @classmethod
    def build(cls, entries: Sequence[_Entry], automaton: ahocorasick.Automaton) -> _Capitals | None:
        by_key: dict[str, list[_Entry]] = defaultdict(list)
        for e in entries:
            by_key[e.term.key].append(e)
        capitals = {
            key
            for key, group in by_key.items()
            if key.isascii()
            and key.isalpha()
            and all(e.term.case_checks == ((0, len(key), "exact"),) for e in group)
        }
        if not capitals:
            return None
        return cls(
            _build_automaton(e for e in entries if e.term.key not in capitals),
            tuple(
                (key.upper().encode("ascii"), key, automaton.get(key)) for key in sorted(capitals)
            ),
        )

    def written(self, text: str, folded: FoldMap) -> list[tuple[int, _Value]] | None:
        """The raw hits of the capitals-only keys, as the full automaton would report those of
        them written in capitals; None when the text has other capitals (or letters folding
        to nothing) that could fold into a key, and the full automaton must run."""
        # One byte per character, every non-ASCII one a "?": searched like the text, faster.
        raw = text.encode("ascii", "replace")
        if not text.isascii():
            at = raw.find(b"?")
            while at != -1:
                if text[at] != "?" and not _plain_non_ascii(text[at]):
                    return None
                at = raw.find(b"?", at + 1)
        bases = [s + d for s, d in zip(folded.starts, folded.deltas, strict=True)]
        ftext = folded.text
        out: list[tuple[int, _Value]] = []
        for written, key, value in self.keys:
            o = raw.find(written)
            while o != -1:
                start = o - folded.deltas[bisect_right(bases, o) - 1]
                if folded.orig(start) != o or not ftext.startswith(key, start):
                    return None  # (not expected: every character here folds to itself)
                out.append((start + len(key) - 1, value))
                o = raw.find(written, o + 1)
        return out


@lru_cache(maxsize=4096)
def _plain_non_ascii(ch: str) -> bool:
    """A character no capitals-only key can hide in: it folds to at least one character and,
    if that holds a letter, is itself a lower-case letter (which the case check refuses)."""
    folded = fold_char(ch)
    return bool(folded) and (
        (ch.isalpha() and ch.islower()) or not any(c.isalpha() for c in folded)
    )


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


def _case_ok(
    text: str,
    folded: FoldMap,
    start: int,
    checks: Sequence[CaseCheck],
    whole: tuple[int, int, int],  # the key's length, and the hit's span in the text
) -> bool:
    for offset, length, mode in checks:
        if offset == 0 and length == whole[0]:  # the whole key ("NATO"): its span is known
            lo, hi = whole[1], whole[2]
        else:
            lo = folded.orig(start + offset)
            hi = folded.orig(start + offset + length - 1) + 1
        word = text[lo:hi]
        if word.isascii() and word.isalpha():  # the usual "AS": every character a letter
            title = word[0].isupper() and (len(word) == 1 or word[1:].islower())
            if not (word.isupper() or (mode == "upper_or_title" and title)):
                return False
            continue
        letters = [c for c in word if c.isalpha()]
        if not letters:
            return False
        upper = all(c.isupper() for c in letters)
        title = letters[0].isupper() and all(c.islower() for c in letters[1:])
        if not (upper or (mode == "upper_or_title" and title)):
            return False
    return True


def _resolve_overlaps(hits: list[Hit]) -> tuple[list[Hit], int]:
    """Drop hits inside exclusions, then keep the longest hit among overlapping ones of a kind.

    Also returns the exclusion checks made: one per hit tested, whatever the exclusions' count.
    """
    excluded = sorted((h.start, h.end) for h in hits if h.kind == "exclude")
    checks = 0
    if excluded:
        # An exclusion contains a hit when it starts at or before the hit and ends at or after
        # it: the furthest end among exclusions starting by the hit's start says it at once.
        x_starts = [s for s, _ in excluded]
        reach = list(accumulate((e for _, e in excluded), max))
        kept = []
        for h in hits:
            if h.kind == "exclude":
                continue
            if h.kind != "namesake":
                checks += 1
                i = bisect_right(x_starts, h.start)
                if i and reach[i - 1] >= h.end:
                    continue
            kept.append(h)
    else:
        kept = [h for h in hits if h.kind != "exclude"]
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
    return out, checks


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


def _other_name_follows(text: str, end: int, lines: Lines) -> bool:
    """Whether the office at ``text[:end]`` is followed by a name (the caller already knows
    it is not a holder's): "Menteri Sekretaris Negara Pratikno", "Secretary of State for
    Northern Ireland". Acronyms and the words in ``_NOT_A_NAME`` are not names."""
    m = _FOLLOWING_NAME.match(text, end)
    if m is None or lines.title_case(end):
        return False
    word = m.group(1).rstrip(".")
    if word.isupper() or word.lower() in _NOT_A_NAME:
        return False
    return len(word) > 1


def _word_before(text: str, pos: int) -> str:
    words = folded_words(text[max(0, pos - 24) : pos])
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
