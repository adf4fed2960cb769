"""Item 2: matcher throughput (MB/s of article text) with 10, 100, 1,000 and 10,000 aliases.

The lexicon is the shipped one (topics, groups, the real actors and their offices) with the
actor list cut down (10, 100) or padded with generated person names (1,000, 10,000): the
alias count is the number of actor strings (names, aliases, short forms). The text is the
benchmark corpus's article text (title + body), the same for every size.

The alternative a user would write is one compiled, case-insensitive regex alternation of
the same actor strings (longest first, ``\\b`` on both sides) run with ``findall``. Both run
on the same articles, article by article (which goes first alternates between rounds). A
slow arm stops both at the same article once it has used its time budget, so the 10,000-alias
regex does not eat the whole run; MB/s is computed over the articles actually done.
"""

from __future__ import annotations

import copy
import random
import re
import time
import tomllib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from benchmarks.common import Figure, Mode, Result, Target, cpu, median, rounds_for
from benchmarks.corpus import ArticleText, article_texts
from benchmarks.harness import CONFIG_DIR
from monitor.match.lexicon import Lexicon
from monitor.match.matcher import Matcher

ITEM = "2 matcher"
SIZES = (10, 100, 1_000, 10_000)
ARTICLES = {"full": 300, "quick": 120, "tiny": 4}
BUDGET = {"full": 1.5, "quick": 0.75, "tiny": 0.2}  # seconds per arm, per size and round
TARGET_MBPS = 50.0
FLAT = 0.75  # MB/s at 10,000 aliases over MB/s at 10: "flat" within 25 %
_FIRST = [
    "Adi",
    "Agus",
    "Bambang",
    "Budi",
    "Cahya",
    "Dedi",
    "Dewi",
    "Eko",
    "Fajar",
    "Gita",
    "Hadi",
    "Indra",
    "Joko",
    "Kartika",
    "Lestari",
    "Made",
    "Nanda",
    "Oki",
    "Putri",
    "Rahmat",
    "Sari",
    "Teguh",
    "Umar",
    "Wahyu",
    "Yusuf",
    "Aleksandr",
    "Dmitri",
    "Olena",
    "Pavlo",
    "Sergiy",
    "Taras",
    "Yulia",
    "Hans",
    "Klaus",
    "Marie",
    "Pierre",
    "Jean",
    "Chloe",
    "Emma",
    "Liam",
    "Noah",
    "Oliver",
    "Ivan",
    "Oleg",
    "Nikolai",
    "Viktor",
    "Mikhail",
    "Anatoly",
    "Boris",
]
_LAST = [
    "Santoso",
    "Wibowo",
    "Saputra",
    "Hidayat",
    "Nugroho",
    "Kurniawan",
    "Pratama",
    "Siregar",
    "Nasution",
    "Simanjuntak",
    "Halim",
    "Tanoto",
    "Gunawan",
    "Setiadi",
    "Harahap",
    "Lubis",
    "Kovalenko",
    "Bondarenko",
    "Shevchenko",
    "Tkachenko",
    "Melnyk",
    "Ivanov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Sokolov",
    "Lebedev",
    "Kozlov",
    "Novikov",
    "Morozov",
    "Petrov",
    "Volkov",
    "Dubois",
    "Lefebvre",
    "Moreau",
    "Schneider",
    "Fischer",
    "Weber",
    "Becker",
    "Hoffmann",
    "Walker",
    "Wright",
    "Hughes",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Rogers",
    "Reed",
    "Cook",
]


def _documents() -> tuple[dict[str, Any], dict[str, Any]]:
    with (CONFIG_DIR / "topics.toml").open("rb") as fh:
        topics = tomllib.load(fh)
    with (CONFIG_DIR / "actors.toml").open("rb") as fh:
        actors = tomllib.load(fh)
    return topics, actors


def _strings(actor: dict[str, Any]) -> list[str]:
    return [actor["name"], *actor.get("aliases", []), *actor.get("short", [])]


def lexicon_with(aliases: int, seed: int = 2) -> tuple[Lexicon, list[str]]:
    """The shipped lexicon with exactly ``aliases`` actor strings; also returns the strings."""
    topics, doc = _documents()
    doc = copy.deepcopy(doc)
    chosen: list[dict[str, Any]] = []
    count = 0
    for actor in doc["actors"]:
        if count >= aliases:
            break
        room = aliases - count
        strings = _strings(actor)[:room]
        chosen.append({**actor, "aliases": strings[1:], "short": []})
        count += len(strings)
    rng = random.Random(seed)
    names = [f"{f} {last}" for f in _FIRST for last in _LAST]
    names += [f"{f} {m} {last}" for f in _FIRST for m in _FIRST[::5] for last in _LAST]
    rng.shuffle(names)
    taken = {a["name"] for a in chosen}
    extra = iter(n for n in names if n not in taken)
    while count < aliases:
        chosen.append({"name": next(extra)})
        count += 1
    names_kept = {a["name"] for a in chosen}
    doc["actors"] = chosen
    doc["roles"] = [
        r for r in doc.get("roles", []) if all(h["actor"] in names_kept for h in r["holders"])
    ]
    strings = [s for a in chosen for s in _strings(a)]
    return Lexicon.from_documents(topics, doc), strings


def naive_regex(strings: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(s) for s in sorted(set(strings), key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


def _round(
    matcher: Matcher,
    pattern: re.Pattern[str],
    texts: Sequence[ArticleText],
    budget: float,
    matcher_first: bool,
) -> dict[str, float]:
    spent = {"matcher": 0.0, "regex": 0.0}
    done = 0
    size = 0
    hits = {"matcher": 0, "regex": 0}
    for text in texts:
        joined = f"{text.title}\n\n{text.body}"
        for arm in ("matcher", "regex") if matcher_first else ("regex", "matcher"):
            started = cpu()
            if arm == "matcher":
                result = matcher.match(text.title, text.body, text.published)
                hits[arm] += len(result.actors)
            else:
                hits[arm] += len(pattern.findall(joined))
            spent[arm] += cpu() - started
        done += 1
        size += len(joined.encode("utf-8"))
        if max(spent.values()) > budget:
            break
    mb = size / 1e6
    return {
        "articles": done,
        "mb": mb,
        "matcher_mbps": mb / spent["matcher"],
        "regex_mbps": mb / spent["regex"],
        "matcher_actor_hits": hits["matcher"],
        "regex_hits": hits["regex"],
    }


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    texts = article_texts(ARTICLES[mode])
    for t in texts[:3]:  # warm fold caches and lazy imports
        Matcher(lexicon_with(10)[0]).match(t.title, t.body, datetime(2025, 1, 1))
    rounds = rounds_for(mode, 3, 2)
    rows: dict[int, dict[str, Any]] = {}
    for size in SIZES:
        t0 = time.perf_counter()
        lexicon, strings = lexicon_with(size)
        matcher = Matcher(lexicon)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        pattern = naive_regex(strings)
        compile_s = time.perf_counter() - t0
        samples = [_round(matcher, pattern, texts, BUDGET[mode], r % 2 == 0) for r in range(rounds)]
        rows[size] = {
            "aliases": len(strings),
            "matcher_mbps": median([s["matcher_mbps"] for s in samples]),
            "regex_mbps": median([s["regex_mbps"] for s in samples]),
            "speedup": median([s["matcher_mbps"] / s["regex_mbps"] for s in samples]),
            "matcher_build_s": round(build, 3),
            "regex_compile_s": round(compile_s, 3),
            "rounds": samples,
        }
    figures = []
    for size in SIZES:
        row = rows[size]
        target = Target(">=", TARGET_MBPS) if size == 1_000 else None
        figures += [
            Figure(ITEM, f"matcher, {size:,} aliases", row["matcher_mbps"], "MB/s", target),
            Figure(ITEM, f"naive regex alternation, {size:,} aliases", row["regex_mbps"], "MB/s"),
            Figure(ITEM, f"matcher / regex, {size:,} aliases", row["speedup"], "x"),
        ]
    flat = rows[SIZES[-1]]["matcher_mbps"] / rows[SIZES[0]]["matcher_mbps"]
    figures.append(
        Figure(
            ITEM, "flatness: MB/s at 10,000 / MB/s at 10 aliases", flat, "ratio", Target(">=", FLAT)
        )
    )
    details = {"articles": len(texts), "sizes": rows, "budget_s": BUDGET[mode]}
    return Result("matcher", figures, details, time.perf_counter() - started)
