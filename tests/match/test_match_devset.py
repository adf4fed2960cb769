"""The hand-labelled dev set: precision and recall per topic and for actors must reach 0.95.

Run with ``-s`` to see the figures. Labels live in tests/data/devset.toml.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.match.evaluate import Tally
from monitor.match.matcher import Lexicon, Matcher

DEVSET = Path(__file__).parents[1] / "data" / "devset.toml"
CONFIG = Path(__file__).resolve().parents[2] / "config"
TOPICS = ("nato", "ukraine", "us_russia")
THRESHOLD = 0.95


def _passages() -> list[dict[str, Any]]:
    with DEVSET.open("rb") as fh:
        return list(tomllib.load(fh)["passage"])


def evaluate() -> dict[str, Tally]:
    matcher = Matcher(Lexicon.load(CONFIG))
    tallies = {f"{t}/{level}": Tally() for t in TOPICS for level in ("mention", "substantive")}
    tallies["actors"] = Tally()
    for p in _passages():
        published = datetime(*p["published"].timetuple()[:3], 12, tzinfo=UTC)
        result = matcher.match(p["title"], p["body"], published)
        got = {t.name: ("substantive" if t.substantive else "passing") for t in result.topics}
        want: dict[str, str] = p.get("topics", {})
        for t in TOPICS:
            where = f"{p['id']} {t} (want {want.get(t, '-')}, got {got.get(t, '-')})"
            tallies[f"{t}/mention"].add(t in want, t in got, where)
            tallies[f"{t}/substantive"].add(
                want.get(t) == "substantive", got.get(t) == "substantive", where
            )
        found = {a.name for a in result.actors}
        for name in set(p["actors"]) | found:
            tallies["actors"].add(name in p["actors"], name in found, f"{p['id']} {name}")
    return tallies


def test_devset_is_large_and_varied() -> None:
    passages = _passages()
    assert len(passages) >= 60
    assert len({p["id"] for p in passages}) == len(passages)
    langs = {p["id"].split("-")[0] for p in passages}
    assert langs == {"id", "en"}
    assert any(not p.get("topics") and not p["actors"] for p in passages)  # pure traps


def test_devset_precision_and_recall_reach_threshold() -> None:
    tallies = evaluate()
    report = "\n".join(
        f"{name:24} P={t.precision:.3f} R={t.recall:.3f} (tp={t.tp} fp={t.fp} fn={t.fn})"
        for name, t in tallies.items()
    )
    print("\n" + report)
    errors = [e for t in tallies.values() for e in t.errors]
    for e in errors:
        print("  " + e)
    for name, t in tallies.items():
        assert t.precision >= THRESHOLD, f"{name} precision {t.precision:.3f}\n{report}"
        assert t.recall >= THRESHOLD, f"{name} recall {t.recall:.3f}\n{report}"


if __name__ == "__main__":  # pragma: no cover - manual report
    pytest.main([__file__, "-q", "-s"])
