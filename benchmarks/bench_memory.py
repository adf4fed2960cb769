"""Item 5: memory of one long-running process -- 100k articles through dedup + match.

A fresh subprocess (so nothing else of the benchmark run is counted) builds the shipped
matcher and a dedup index, then feeds it ``N`` synthetic articles: bodies of 4-12 real
Indonesian sentences from the corpus's sources (numbers re-drawn, so every body is new),
one minute apart in time. Each article is matched, checked and added to the index, and the
index is pruned to its window (``window_days``, default 14: ~20k articles at this rate) every
1,000 articles, as the daemon does. Extraction is left out (trafilatura is too slow for 100k
and keeps no state). RSS is sampled with psutil every 2,000 articles.

Figures: peak RSS (``ru_maxrss``) and the RSS growth from twice the window-fill point to the
end -- after the window is full, memory should be flat.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from benchmarks.common import Figure, Mode, Result, Target
from benchmarks.corpus import ROOT

ITEM = "5 memory"
ARTICLES = {"full": 100_000, "quick": 20_000, "tiny": 400}
PEAK_MB = 300.0
GROWTH_MB = 10.0
SAMPLE_EVERY = 2_000
PRUNE_EVERY = 1_000


def _peak_rss_mb() -> float:
    """This process's own high-water mark. Not ru_maxrss: Linux keeps that across execve, so a
    child started from a big benchmark process would report its parent's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(n: int, window_days: int, sample_every: int) -> dict[str, Any]:
    import psutil

    from benchmarks.corpus import _redraw_numbers, source_texts
    from benchmarks.harness import NOW, default_matcher
    from monitor.dedup.index import DedupConfig, DedupIndex, IndexedArticle

    proc = psutil.Process()
    seeds, others = source_texts()
    pool = [s for src in (*seeds, *others) for s in src.sentences]
    matcher = default_matcher()
    index = DedupIndex(DedupConfig(window_days=window_days))
    rng = random.Random(5)
    samples: list[tuple[int, float]] = [(0, proc.memory_info().rss / 2**20)]
    started = time.perf_counter()
    matched = duplicates = 0
    for i in range(n):
        body = _redraw_numbers(" ".join(rng.choices(pool, k=rng.randint(4, 12))), rng)
        title = _redraw_numbers(rng.choice(pool)[:90], rng)
        now = NOW + timedelta(minutes=i)
        result = matcher.match(title, body, now)
        matched += not result.is_empty
        url = f"https://www.kabarnusantara.example/a/{i}"
        verdict = index.check(url, body, at=now)
        duplicates += verdict.kind != "new"
        index.add(
            IndexedArticle(i + 1, i + 1, url, verdict.body_hash, verdict.signature.to_bytes(), now)
        )
        if (i + 1) % PRUNE_EVERY == 0:
            index.prune(now - timedelta(days=window_days))
        if (i + 1) % sample_every == 0:
            samples.append((i + 1, proc.memory_info().rss / 2**20))
    return {
        "articles": n,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": _peak_rss_mb(),
        "samples": samples,
        "index_size_end": len(index),
        "window_articles": window_days * 24 * 60,
        "matched": matched,
        "duplicates": duplicates,
    }


@dataclass
class Running:
    """A started memory child; :func:`finish` collects it."""

    mode: Mode
    window_days: int
    proc: subprocess.Popen[str]
    started: float


def start(mode: Mode = "full", window_days: int = 14, nice: int = 0) -> Running:
    """Start the child. ``nice`` > 0 lets it run beside single-threaded benchmarks on the
    other core without taking CPU from them (it measures memory, not time)."""
    every = SAMPLE_EVERY if mode != "tiny" else 100
    cmd = [
        sys.executable, "-m", "benchmarks.bench_memory", "--child", str(ARTICLES[mode]),
        "--window-days", str(window_days), "--sample-every", str(every), "--nice", str(nice),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)  # fmt: skip
    return Running(mode, window_days, proc, time.perf_counter())


def finish(running: Running) -> Result:
    out, err = running.proc.communicate(timeout=1200)
    if running.proc.returncode != 0:
        raise RuntimeError(f"memory child failed: {err.strip()[-2000:]}")
    data = json.loads(out.strip().splitlines()[-1])
    n = data["articles"]
    fill = max(1, running.window_days * 24 * 60)
    since = min(2 * fill, n // 2)
    after = [rss for count, rss in data["samples"] if count >= since]
    growth = after[-1] - after[0] if len(after) > 1 else 0.0
    figures = [
        Figure(ITEM, f"peak RSS after {n:,} articles (dedup + match)", data["peak_rss_mb"],
               "MB", Target("<=", PEAK_MB)),
        Figure(ITEM, "RSS growth once the dedup window is full", growth, "MB",
               Target("<=", GROWTH_MB),
               note=f"from article {since:,} to {n:,}; window {fill:,} articles"),
    ]  # fmt: skip
    return Result("memory", figures, data, time.perf_counter() - running.started)


def run(mode: Mode = "full", window_days: int = 14) -> Result:
    return finish(start(mode, window_days))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=int, required=True, help="articles to process")
    parser.add_argument("--window-days", type=int, default=14)
    parser.add_argument("--sample-every", type=int, default=SAMPLE_EVERY)
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)
    print(json.dumps(_child(args.child, args.window_days, args.sample_every)))


if __name__ == "__main__":
    main()
