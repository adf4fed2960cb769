"""Alert rules: which matches alert, on which channels. Pure functions over MatchResult."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.config import RuleSettings
from monitor.models import MatchResult


@dataclass(frozen=True)
class AlertRule:
    name: str
    actors: frozenset[str]
    topics: frozenset[str]
    require_actor: bool
    require_substantive: bool
    sources: frozenset[str]
    channels: tuple[str, ...]
    min_confidence: float = 0.0  # the relevance model's probability a topic must reach

    @classmethod
    def from_settings(cls, s: RuleSettings) -> AlertRule:
        return cls(
            name=s.name,
            actors=frozenset(s.actors),
            topics=frozenset(s.topics),
            require_actor=s.require_actor,
            require_substantive=s.require_substantive,
            sources=frozenset(s.sources),
            channels=tuple(s.channels),
            min_confidence=s.min_confidence,
        )

    def matches(self, match: MatchResult, source: str) -> bool:
        if self.sources and source not in self.sources:
            return False
        actors = {a.name for a in match.actors}
        if self.actors:
            actors &= self.actors
        if self.require_actor and not actors:
            return False
        if not self.topics:
            return bool(actors)
        return any(
            t.name in self.topics
            and (t.substantive or not self.require_substantive)
            and (t.confidence is None or t.confidence >= self.min_confidence)
            for t in match.topics
        )


def matching_rules(rules: Sequence[AlertRule], match: MatchResult, source: str) -> list[AlertRule]:
    return [r for r in rules if r.matches(match, source)]
