"""Lexicons: topics, groups, actors and roles, from ``topics.toml`` and ``actors.toml``.

The TOML format is documented at the top of each shipped file (config/). Loading validates
everything up front and raises :class:`~monitor.errors.ConfigError` naming the file, the key and
the reason, so a typo in a user's lexicon stops start-up instead of silently matching nothing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError
from monitor.match.textnorm import fold, fold_term

CaseCheck = tuple[int, int, str]  # (offset in key, length, "exact" | "upper_or_title")


@dataclass(frozen=True)
class Term:
    """A lexicon string and its automaton key. Words in capitals are case-sensitive acronyms."""

    text: str
    key: str
    case_checks: tuple[CaseCheck, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Term:
        folded = fold(text)
        lead = len(folded.text) - len(folded.text.lstrip())
        checks: list[CaseCheck] = []
        i = 0
        while i < len(text):
            if not text[i].isalnum():
                i += 1
                continue
            j = i
            while j < len(text) and text[j].isalnum():
                j += 1
            word = text[i:j]
            if word.isupper():
                # Two-letter acronyms (AS, US) must be capitals; longer ones may be "Nato".
                mode = "exact" if len(word) <= 2 else "upper_or_title"
                positions = [k for k, o in enumerate(folded.orig) if i <= o < j]
                if positions:
                    checks.append((positions[0] - lead, positions[-1] - positions[0] + 1, mode))
            i = j
        return cls(text=text, key=fold_term(text), case_checks=tuple(checks))


@dataclass(frozen=True)
class Relevance:
    """When a topic counts as substantive rather than a passing mention (see topics.toml)."""

    title: bool = True
    min_paragraphs: int = 2
    min_signals_in_sentence: int = 2
    min_paragraphs_per_signal: int = 1
    min_hits: int = 2
    min_share: float = 0.5


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    terms: tuple[Term, ...]
    context: tuple[Term, ...] = ()
    pair: tuple[str, str] | None = None
    relevance: Relevance = field(default_factory=Relevance)
    # Words that say the topic is being dealt with ("perundingan", "sanctions"): never a hit
    # on their own, only features of the relevance model near the topic's own evidence.
    cues: tuple[Term, ...] = ()
    # Words that say the topic is background ("akibat perang", "former", "harga"): features too.
    background: tuple[Term, ...] = ()


@dataclass(frozen=True)
class Group:
    """Entities standing for one side of a relationship topic (e.g. "us": AS, Gedung Putih)."""

    name: str
    terms: tuple[Term, ...]
    context: tuple[Term, ...] = ()


@dataclass(frozen=True)
class Actor:
    name: str
    aliases: tuple[Term, ...]
    short: tuple[Term, ...] = ()
    topics: tuple[str, ...] = ()
    side: str | None = None
    namesakes: tuple[Term, ...] = ()

    @property
    def name_term(self) -> Term:
        return Term.parse(self.name)


@dataclass(frozen=True)
class Holder:
    actor: str
    start: date | None
    until: date | None

    def holds_on(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (
            self.until is None or day < self.until
        )


@dataclass(frozen=True)
class Role:
    name: str
    terms: tuple[Term, ...]
    holders: tuple[Holder, ...]
    topics: tuple[str, ...] = ()
    titles: tuple[Term, ...] = ()

    def holder_on(self, day: date, *, former: bool = False) -> str | None:
        current = next((h.actor for h in self.holders if h.holds_on(day)), None)
        if not former:
            return current
        ended = [h for h in self.holders if h.until is not None and h.until <= day]
        ended = [h for h in ended if h.actor != current]
        return max(ended, key=lambda h: h.until or date.min).actor if ended else None


@dataclass(frozen=True)
class Lexicon:
    topics: tuple[Topic, ...]
    groups: tuple[Group, ...]
    actors: tuple[Actor, ...]
    roles: tuple[Role, ...]
    exclude: tuple[Term, ...] = ()
    clitics: tuple[str, ...] = ("nya", "lah", "kah", "pun")
    role_blockers: tuple[str, ...] = ()
    former_markers: tuple[str, ...] = ("mantan", "eks", "former", "ex")
    name_window: int = 48

    @classmethod
    def load(cls, config_dir: Path) -> Lexicon:
        """Read ``config_dir/topics.toml`` and ``config_dir/actors.toml``; ConfigError if bad."""
        topics_doc = _read(config_dir / "topics.toml")
        actors_doc = _read(config_dir / "actors.toml")
        return cls.from_documents(
            topics_doc,
            actors_doc,
            topics_file=config_dir / "topics.toml",
            actors_file=config_dir / "actors.toml",
        )

    @classmethod
    def from_documents(
        cls,
        topics_doc: dict[str, Any],
        actors_doc: dict[str, Any],
        *,
        topics_file: Path = Path("topics.toml"),
        actors_file: Path = Path("actors.toml"),
    ) -> Lexicon:
        t = _Reader(topics_file)
        a = _Reader(actors_file)
        t.only(topics_doc, "", {"exclude", "clitics", "groups", "topics"})
        a.only(
            actors_doc,
            "",
            {"exclude", "role_blockers", "former_markers", "name_window", "actors", "roles"},
        )
        groups = tuple(
            Group(
                name,
                t.terms(g, f"groups.{name}", "terms", required=True),
                t.terms(g, f"groups.{name}", "context"),
            )
            for name, g in t.table(topics_doc, "", "groups").items()
            if t.only(g, f"groups.{name}", {"label", "terms", "context"})
        )
        group_names = {g.name for g in groups}
        topics = tuple(
            _topic(t, name, spec, group_names)
            for name, spec in t.table(topics_doc, "", "topics", required=True).items()
        )
        topic_names = {tp.name for tp in topics}
        actors = tuple(
            _actor(a, i, spec, topic_names, group_names)
            for i, spec in enumerate(a.array(actors_doc, "", "actors", required=True))
        )
        _unique(a, "actors", [x.name for x in actors])
        actor_names = {x.name for x in actors}
        roles = tuple(
            _role(a, i, spec, actor_names, topic_names)
            for i, spec in enumerate(a.array(actors_doc, "", "roles"))
        )
        return cls(
            topics=topics,
            groups=groups,
            actors=actors,
            roles=roles,
            exclude=t.terms(topics_doc, "", "exclude") + a.terms(actors_doc, "", "exclude"),
            clitics=tuple(fold_term(c) for c in t.strings(topics_doc, "", "clitics"))
            or cls.clitics,
            role_blockers=tuple(fold_term(w) for w in a.strings(actors_doc, "", "role_blockers")),
            former_markers=tuple(fold_term(w) for w in a.strings(actors_doc, "", "former_markers"))
            or cls.former_markers,
            name_window=a.integer(actors_doc, "", "name_window", cls.name_window),
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: lexicon file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read lexicon: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


@dataclass(frozen=True)
class _Reader:
    """Typed access to one TOML document; every failure names file, key and reason."""

    file: Path

    def fail(self, where: str, key: str, reason: str) -> ConfigError:
        dotted = f"{where}.{key}" if where and key else where or key
        return ConfigError(f"{self.file}: {dotted}: {reason}")

    def only(self, doc: dict[str, Any], where: str, allowed: set[str]) -> bool:
        unknown = sorted(set(doc) - allowed)
        if unknown:
            raise self.fail(
                where, unknown[0], f"unknown key (expected one of: {', '.join(sorted(allowed))})"
            )
        return True

    def table(
        self, doc: dict[str, Any], where: str, key: str, *, required: bool = False
    ) -> dict[str, dict[str, Any]]:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.fail(where, key, "missing table")
            return {}
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise self.fail(where, key, "must be a table of tables")
        return value

    def array(
        self, doc: dict[str, Any], where: str, key: str, *, required: bool = False
    ) -> list[dict[str, Any]]:
        value = doc.get(key)
        if value is None:
            if required:
                raise self.fail(where, key, f"missing (write [[{key}]] entries)")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(where, key, f"must be an array of tables ([[{key}]])")
        return value

    def strings(self, doc: dict[str, Any], where: str, key: str) -> tuple[str, ...]:
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, key, "must be a list of strings")
        for v in value:
            if not fold_term(v):
                raise self.fail(where, key, f"empty or blank entry {v!r}")
        return tuple(value)

    def terms(
        self, doc: dict[str, Any], where: str, key: str, *, required: bool = False
    ) -> tuple[Term, ...]:
        values = self.strings(doc, where, key)
        if required and not values:
            raise self.fail(where, key, "needs at least one term")
        return tuple(Term.parse(v) for v in values)

    def string(self, doc: dict[str, Any], where: str, key: str, default: str | None) -> str:
        value = doc.get(key, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.fail(where, key, "must be a non-empty string")
        return value

    def share(self, doc: dict[str, Any], where: str, key: str, default: float) -> float:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self.fail(where, key, "must be a number between 0 and 1")
        return float(value)

    def integer(self, doc: dict[str, Any], where: str, key: str, default: int) -> int:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(where, key, "must be a non-negative integer")
        return value

    def boolean(self, doc: dict[str, Any], where: str, key: str, default: bool) -> bool:
        value = doc.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(where, key, "must be true or false")
        return value

    def day(self, doc: dict[str, Any], where: str, key: str) -> date | None:
        value = doc.get(key)
        if value is None:
            return None
        if not isinstance(value, date) or hasattr(value, "hour"):
            raise self.fail(where, key, "must be a date like 2024-10-01 (no quotes)")
        return value


def _topic(r: _Reader, name: str, spec: dict[str, Any], groups: set[str]) -> Topic:
    where = f"topics.{name}"
    r.only(spec, where, {"label", "terms", "context", "pair", "relevance", "cues", "background"})
    pair_names = r.strings(spec, where, "pair")
    pair: tuple[str, str] | None = None
    if pair_names:
        if len(pair_names) != 2:
            raise r.fail(where, "pair", "must name exactly two groups")
        for g in pair_names:
            if g not in groups:
                raise r.fail(where, "pair", f"unknown group {g!r} (define [groups.{g}])")
        pair = (pair_names[0], pair_names[1])
    rel = spec.get("relevance", {})
    if not isinstance(rel, dict):
        raise r.fail(where, "relevance", "must be a table")
    rwhere = f"{where}.relevance"
    r.only(
        rel,
        rwhere,
        {
            "title",
            "min_paragraphs",
            "min_signals_in_sentence",
            "min_paragraphs_per_signal",
            "min_hits",
            "min_share",
        },
    )
    default = Relevance()
    relevance = Relevance(
        title=r.boolean(rel, rwhere, "title", default.title),
        min_paragraphs=r.integer(rel, rwhere, "min_paragraphs", default.min_paragraphs),
        min_signals_in_sentence=r.integer(
            rel, rwhere, "min_signals_in_sentence", default.min_signals_in_sentence
        ),
        min_paragraphs_per_signal=r.integer(
            rel, rwhere, "min_paragraphs_per_signal", default.min_paragraphs_per_signal
        ),
        min_hits=r.integer(rel, rwhere, "min_hits", default.min_hits),
        min_share=r.share(rel, rwhere, "min_share", default.min_share),
    )
    return Topic(
        name=name,
        label=r.string(spec, where, "label", name),
        terms=r.terms(spec, where, "terms", required=pair is None),
        context=r.terms(spec, where, "context"),
        pair=pair,
        relevance=relevance,
        cues=r.terms(spec, where, "cues"),
        background=r.terms(spec, where, "background"),
    )


def _actor(r: _Reader, i: int, spec: dict[str, Any], topics: set[str], groups: set[str]) -> Actor:
    where = f"actors[{i}]"
    r.only(spec, where, {"name", "aliases", "short", "topics", "side", "namesakes"})
    name = r.string(spec, where, "name", None)
    where = f"actors[{i}] ({name})"
    for t in r.strings(spec, where, "topics"):
        if t not in topics:
            raise r.fail(where, "topics", f"unknown topic {t!r}")
    side = spec.get("side")
    if side is not None and side not in groups:
        raise r.fail(where, "side", f"unknown group {side!r} (one of: {', '.join(sorted(groups))})")
    return Actor(
        name=name,
        aliases=r.terms(spec, where, "aliases"),
        short=r.terms(spec, where, "short"),
        topics=r.strings(spec, where, "topics"),
        side=side,
        namesakes=r.terms(spec, where, "namesakes"),
    )


def _role(r: _Reader, i: int, spec: dict[str, Any], actors: set[str], topics: set[str]) -> Role:
    where = f"roles[{i}]"
    r.only(spec, where, {"name", "terms", "holders", "topics", "titles"})
    name = r.string(spec, where, "name", None)
    where = f"roles[{i}] ({name})"
    for t in r.strings(spec, where, "topics"):
        if t not in topics:
            raise r.fail(where, "topics", f"unknown topic {t!r}")
    holders: list[Holder] = []
    for j, h in enumerate(r.array(spec, where, "holders", required=True)):
        hwhere = f"{where}.holders[{j}]"
        r.only(h, hwhere, {"actor", "from", "until"})
        actor = r.string(h, hwhere, "actor", None)
        if actor not in actors:
            raise r.fail(hwhere, "actor", f"unknown actor {actor!r} (add it to [[actors]])")
        start, until = r.day(h, hwhere, "from"), r.day(h, hwhere, "until")
        if start and until and until <= start:
            raise r.fail(hwhere, "until", "must be after 'from'")
        holders.append(Holder(actor, start, until))
    holders.sort(key=lambda h: h.start or date.min)
    return Role(
        name=name,
        terms=r.terms(spec, where, "terms", required=True),
        holders=tuple(holders),
        topics=r.strings(spec, where, "topics"),
        titles=r.terms(spec, where, "titles"),
    )


def _unique(r: _Reader, key: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise r.fail(key, "name", f"duplicate entry {n!r}")
        seen.add(n)
