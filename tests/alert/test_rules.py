"""Alert rules over match results: a minimum confidence of the relevance model."""

from __future__ import annotations

import pytest

from monitor.alert.rules import AlertRule
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.models import ActorMention, MatchResult, TopicScore


def _match(confidence: float | None) -> MatchResult:
    return MatchResult(
        topics=(TopicScore("nato", 3.0, True, confidence=confidence),),
        actors=(ActorMention("Mark Rutte", "name", 1),),
    )


def _rule(min_confidence: float) -> AlertRule:
    settings = load_settings(
        None,
        env={},
        overrides={"alerts": {"rules": [{"name": "sure", "min_confidence": min_confidence}]}},
    )
    return AlertRule.from_settings(settings.alerts.rules[0])


def test_a_rule_with_a_minimum_confidence_skips_less_certain_verdicts() -> None:
    rule = _rule(0.8)
    assert rule.matches(_match(0.93), "antaranews.com")
    assert not rule.matches(_match(0.62), "antaranews.com")


def test_without_a_model_the_rules_verdict_alone_decides() -> None:
    assert _rule(0.8).matches(_match(None), "antaranews.com")


def test_a_minimum_confidence_outside_zero_to_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="min_confidence"):
        _rule(1.5)
