"""Scoring the matcher against a hand-labelled corpus (tests/data/relevance/).

Each labelled article says, per topic, ``substantive``, ``passing`` or ``none``, which tracked
people it refers to, and how each role mention resolves (GUIDE.md beside the corpus). Articles
fall into fixed splits by a hash of their URL key, so adding articles never moves old ones:
``train`` (60 %) and ``dev`` (20 %) may be read while changing rules or a model; ``test``
(20 %) is scored only at the end of a change and never used for tuning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from monitor.match.matcher import Matcher

TOPICS = ("nato", "ukraine", "us_russia")
Verdict = Literal["substantive", "passing", "none"]
Split = Literal["train", "dev", "test"]


def url_key(url: str) -> str:
    """Host without www./m./amp./mobile. plus path without trailing slash (the key of the
    outside-evaluation exclusion list)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "amp.", "mobile."):
        if host.startswith(prefix):
            host = host[len(prefix) :]
            break
    return host + parts.path.rstrip("/")


def split_of(url: str) -> Split:
    bucket = int(hashlib.sha256(url_key(url).encode()).hexdigest(), 16) % 10
    return "train" if bucket < 6 else "dev" if bucket < 8 else "test"


@dataclass(frozen=True)
class RoleLabel:
    term: str
    actor: str | None


@dataclass(frozen=True)
class LabelledArticle:
    url: str
    title: str
    published: date
    lang: str
    text: str
    topics: dict[str, Verdict]
    actors: frozenset[str]
    roles: tuple[RoleLabel, ...] = ()
    tags: tuple[str, ...] = ()
    fixture: bool = False  # a seed article: always in train (full-length text to learn from)

    @property
    def split(self) -> Split:
        return "train" if self.fixture else split_of(self.url)


def load_corpus(paths: Iterable[Path]) -> list[LabelledArticle]:
    out: list[LabelledArticle] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            out.append(
                LabelledArticle(
                    url=row["url"],
                    title=row["title"],
                    published=date.fromisoformat(row["published"]),
                    lang=row["lang"],
                    text=row["text"],
                    topics={t: row["topics"][t] for t in TOPICS},
                    actors=frozenset(row.get("actors", [])),
                    roles=tuple(RoleLabel(r["term"], r["actor"]) for r in row.get("roles", [])),
                    tags=tuple(row.get("tags", [])),
                    fixture=bool(row.get("fixture", False)),
                )
            )
    return out


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, expected: bool, got: bool, where: str) -> None:
        if expected and got:
            self.tp += 1
        elif got:
            self.fp += 1
            self.errors.append(f"false positive: {where}")
        elif expected:
            self.fn += 1
            self.errors.append(f"missed: {where}")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    articles: int
    tallies: dict[str, Tally]
    roles_total: int = 0
    roles_correct: int = 0
    role_errors: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        """The figures the README reports and the regression test guards."""
        out = {f"{name}/f1": t.f1 for name, t in self.tallies.items()}
        out |= {f"{name}/precision": t.precision for name, t in self.tallies.items()}
        out["roles/accuracy"] = self.roles_correct / self.roles_total if self.roles_total else 1.0
        return out

    def table(self) -> str:
        rows = [f"{'':26} {'P':>6} {'R':>6} {'F1':>6}   tp  fp  fn   ({self.articles} articles)"]
        for name, t in self.tallies.items():
            rows.append(
                f"{name:26} {t.precision:6.3f} {t.recall:6.3f} {t.f1:6.3f} "
                f"{t.tp:4d}{t.fp:4d}{t.fn:4d}"
            )
        acc = self.roles_correct / self.roles_total if self.roles_total else 1.0
        rows.append(f"{'roles resolved':26} {acc:6.3f} ({self.roles_correct}/{self.roles_total})")
        return "\n".join(rows)


def evaluate(matcher: Matcher, articles: Sequence[LabelledArticle]) -> Report:
    tallies = {f"{t}/{level}": Tally() for t in TOPICS for level in ("mention", "substantive")}
    tallies["actors"] = Tally()
    report = Report(len(articles), tallies)
    for a in articles:
        published = datetime(a.published.year, a.published.month, a.published.day, 12, tzinfo=UTC)
        result = matcher.match(a.title, a.text, published)
        got = {t.name: ("substantive" if t.substantive else "passing") for t in result.topics}
        for t in TOPICS:
            want = a.topics[t]
            where = f"{a.url} {t} (want {want}, got {got.get(t, 'none')})"
            tallies[f"{t}/mention"].add(want != "none", t in got, where)
            tallies[f"{t}/substantive"].add(
                want == "substantive", got.get(t) == "substantive", where
            )
        found = {m.name for m in result.actors}
        for name in sorted(a.actors | found):
            tallies["actors"].add(name in a.actors, name in found, f"{a.url} {name}")
        by_role = {m.name for m in result.actors if m.via == "role"}
        for role in a.roles:
            report.roles_total += 1
            ok = role.actor in found if role.actor else not (by_role - a.actors)
            if ok:
                report.roles_correct += 1
            else:
                report.role_errors.append(f"{a.url} {role.term!r} -> {role.actor} (got {found})")
    return report
