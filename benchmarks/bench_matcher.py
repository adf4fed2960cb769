"""Item 2: matcher throughput (MB/s of article text) with 10, 100, 1,000 and 10,000 aliases.

The lexicon is the shipped one (topics, groups, the real actors and their offices) with the
actor list cut down (10, 100) or padded with generated person names (1,000, 10,000): the
alias count is the number of actor strings (names, aliases, short forms). The text is the
benchmark corpus's article text (title + body), the same for every size.

The alternative a user would write is one compiled, case-insensitive regex alternation of
the same actor strings (longest first, ``\\b`` on both sides) run with ``findall``. The floor
is bare pyahocorasick: an automaton of the same actor strings, folded, iterated over the same
folded text the matcher scans (``automaton.iter(folded)``, every hit consumed), with nothing
done per hit; the matcher's throughput over the bare one is the figure with a target. The arms
run on the same articles, article by article (which goes first alternates between rounds), each
until it has used its own CPU-time budget (the naive regex a much smaller one: at 10,000
aliases it manages a few articles a second); MB/s is computed over the articles each arm did.

The hostile page is the one that froze the daemon: offices ("Sekjen NATO", "Presiden AS",
"Menlu Rusia") and names over and over, at a quarter of its 735 KB and at full size. Linear
matching takes four times as long on four times the page; role mentions x name mentions took
sixteen.
"""

from __future__ import annotations

import copy
import gc
import random
import re
import time
import tomllib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ahocorasick

from benchmarks.common import Figure, Mode, Result, Target, cpu, median, rounds_for
from benchmarks.corpus import ArticleText, article_texts
from benchmarks.harness import CONFIG_DIR
from monitor.match.lexicon import Lexicon
from monitor.match.matcher import Matcher, matched_text
from monitor.match.textnorm import fold_map, fold_term

ITEM = "2 matcher"
SIZES = (10, 100, 1_000, 10_000)
ARTICLES = {"full": 300, "quick": 120, "tiny": 4}
BUDGET = {"full": 1.5, "quick": 0.75, "tiny": 0.2}  # CPU seconds per arm, per size and round
REGEX_BUDGET = {"full": 0.5, "quick": 0.25, "tiny": 0.1}  # the naive regex's, likewise
ARMS = ("matcher", "bare", "regex")
TARGET_MBPS = 50.0
TARGET_BARE_SHARE = 0.35  # matcher MB/s over bare pyahocorasick MB/s, at 1,000 aliases
HOSTILE_KB = {"full": 735, "quick": 184, "tiny": 46}  # the large page; the small one is 1/4
HOSTILE_GROWTH = 6.0  # ms at 4N over ms at N: 4 when linear (a bit more: sorts), 16 quadratic
HOSTILE_UNIT = (
    "Sekjen NATO Mark Rutte bertemu Presiden AS Donald Trump, sementara Menlu Rusia "
    "Sergei Lavrov dan Presiden Rusia Vladimir Putin menanggapi; Melania Trump hadir. "
    "Presiden AS mengatakan Sekjen NATO dan Menlu Rusia akan bertemu lagi di Brussel, "
    "kata juru bicara Rutte kepada Putin dan Lavrov soal Rusianya.\n"
)
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


def bare_automaton(strings: Sequence[str]) -> ahocorasick.Automaton:
    """The actor strings as the matcher folds them, in a plain automaton."""
    automaton = ahocorasick.Automaton()
    for key in {fold_term(s) for s in strings}:
        automaton.add_word(key, len(key))
    automaton.make_automaton()
    return automaton


def _bare(automaton: ahocorasick.Automaton, folded: str) -> int:
    hits = 0
    for _ in automaton.iter(folded):
        hits += 1
    return hits


def _round(
    arms: tuple[Matcher, ahocorasick.Automaton, re.Pattern[str]],
    texts: Sequence[ArticleText],
    folded: Sequence[str],
    budgets: dict[str, float],
    order: Sequence[str],
) -> dict[str, float]:
    matcher, automaton, pattern = arms
    spent = dict.fromkeys(ARMS, 0.0)
    size = dict.fromkeys(ARMS, 0)
    done = dict.fromkeys(ARMS, 0)
    hits = dict.fromkeys(ARMS, 0)
    for text, ftext in zip(texts, folded, strict=True):
        joined = f"{text.title}\n\n{text.body}"
        active = [arm for arm in order if spent[arm] <= budgets[arm]]
        if not active:
            break
        for arm in active:
            started = cpu()
            if arm == "matcher":
                hits[arm] += len(matcher.match(text.title, text.body, text.published).actors)
            elif arm == "bare":
                hits[arm] += _bare(automaton, ftext)
            else:
                hits[arm] += len(pattern.findall(joined))
            spent[arm] += cpu() - started
            size[arm] += len(joined.encode("utf-8"))
            done[arm] += 1
    out: dict[str, float] = {}
    for arm in ARMS:
        out[f"{arm}_articles"] = done[arm]
        out[f"{arm}_mbps"] = size[arm] / 1e6 / spent[arm]
        out[f"{arm}_hits"] = hits[arm]
    return out


def hostile_page(kb: int) -> str:
    return (HOSTILE_UNIT * (kb * 1000 // len(HOSTILE_UNIT) + 1))[: kb * 1000]


def _hostile(mode: Mode) -> dict[str, Any]:
    """CPU ms to match the hostile page at a quarter of its size and at full size (best of
    the rounds: one page is one long call, so the minimum is the least disturbed one).

    The objects this process made before (corpus, trafilatura, lexicons of 10,000 aliases) are
    frozen during each call: otherwise whether one of the garbage collector's full passes over
    them happens to fall inside the small page's call or only the large one's decides the
    ratio, not the matcher."""
    matcher = Matcher(Lexicon.load(CONFIG_DIR))
    day = datetime(2025, 6, 1, 12)
    big = HOSTILE_KB[mode]
    out: dict[str, Any] = {}
    for kb in (big // 4, big):
        page = hostile_page(kb)
        samples = []
        for _ in range(rounds_for(mode, 3, 2)):
            gc.collect()
            gc.freeze()
            try:
                started = cpu()
                _, work = matcher.match_counted("Hostile page", page, day)
                samples.append((cpu() - started) * 1000)
            finally:
                gc.unfreeze()
        out[kb] = {"ms": min(samples), "samples_ms": samples, "work": work.__dict__}
    out["growth"] = out[big]["ms"] / out[big // 4]["ms"]
    return out


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    texts = article_texts(ARTICLES[mode])
    folded = [fold_map(matched_text(t.title, t.body)).text for t in texts]  # what the matcher scans
    budgets = {"matcher": BUDGET[mode], "bare": BUDGET[mode], "regex": REGEX_BUDGET[mode]}
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
        bare = bare_automaton(strings)
        samples = [
            _round((matcher, bare, pattern), texts, folded, budgets, ARMS[:: 1 if r % 2 else -1])
            for r in range(rounds)
        ]
        rows[size] = {
            "aliases": len(strings),
            "matcher_mbps": median([s["matcher_mbps"] for s in samples]),
            "bare_mbps": median([s["bare_mbps"] for s in samples]),
            "regex_mbps": median([s["regex_mbps"] for s in samples]),
            "bare_share": median([s["matcher_mbps"] / s["bare_mbps"] for s in samples]),
            "speedup": median([s["matcher_mbps"] / s["regex_mbps"] for s in samples]),
            "matcher_build_s": round(build, 3),
            "regex_compile_s": round(compile_s, 3),
            "rounds": samples,
        }
    figures = []
    for size in SIZES:
        row = rows[size]
        target = Target(">=", TARGET_MBPS) if size == 1_000 else None
        share = Target(">=", TARGET_BARE_SHARE) if size == 1_000 else None
        figures += [
            Figure(ITEM, f"matcher, {size:,} aliases", row["matcher_mbps"], "MB/s", target),
            Figure(ITEM, f"bare pyahocorasick iter, {size:,} aliases", row["bare_mbps"], "MB/s"),
            Figure(
                ITEM,
                f"matcher / bare pyahocorasick, {size:,} aliases",
                row["bare_share"],
                "x",
                share,
            ),
            Figure(ITEM, f"naive regex alternation, {size:,} aliases", row["regex_mbps"], "MB/s"),
            Figure(ITEM, f"matcher / regex, {size:,} aliases", row["speedup"], "x"),
        ]
    flat = rows[SIZES[-1]]["matcher_mbps"] / rows[SIZES[0]]["matcher_mbps"]
    figures.append(
        Figure(
            ITEM, "flatness: MB/s at 10,000 / MB/s at 10 aliases", flat, "ratio", Target(">=", FLAT)
        )
    )
    hostile = _hostile(mode)
    small, big = HOSTILE_KB[mode] // 4, HOSTILE_KB[mode]
    figures += [
        Figure(ITEM, f"hostile page, {small} KB", hostile[small]["ms"], "ms"),
        Figure(ITEM, f"hostile page, {big} KB", hostile[big]["ms"], "ms"),
        Figure(
            ITEM,
            f"hostile page: ms at {big} KB / ms at {small} KB",
            hostile["growth"],
            "ratio",
            Target("<=", HOSTILE_GROWTH),
            note="linear: 4 (sorting adds a little); role mentions x name mentions: 16",
        ),
    ]
    details = {"articles": len(texts), "sizes": rows, "budget_s": budgets, "hostile": hostile}
    return Result("matcher", figures, details, time.perf_counter() - started)
