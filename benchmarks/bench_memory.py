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
import random
import resource
import subprocess
import sys
import time
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


def _child(n: int, window_days: int, sample_every: int) -> dict[str, Any]:
    import psutil

    from monitor.dedup import DedupConfig, DedupIndex, IndexedArticle

    from benchmarks.corpus import _redraw_numbers, source_texts
    from benchmarks.harness import NOW, default_matcher

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
        index.add(IndexedArticle(i + 1, i + 1, url, verdict.body_hash,
                                 verdict.signature.to_bytes(), now))  # fmt: skip
        if (i + 1) % PRUNE_EVERY == 0:
            index.prune(now - timedelta(days=window_days))
        if (i + 1) % sample_every == 0:
            samples.append((i + 1, proc.memory_info().rss / 2**20))
    return {
        "articles": n,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "samples": samples,
        "index_size_end": len(index),
        "window_articles": window_days * 24 * 60,
        "matched": matched,
        "duplicates": duplicates,
    }


def run(mode: Mode = "full", window_days: int = 14) -> Result:
    started = time.perf_counter()
    n = ARTICLES[mode]
    every = SAMPLE_EVERY if mode != "tiny" else 100
    cmd = [sys.executable, "-m", "benchmarks.bench_memory", "--child", str(n),
           "--window-days", str(window_days), "--sample-every", str(every)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed: {out.stderr.strip()[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    fill = max(1, window_days * 24 * 60)
    after = [rss for count, rss in data["samples"] if count >= min(2 * fill, n // 2)]
    growth = after[-1] - after[0] if len(after) > 1 else 0.0
    figures = [
        Figure(ITEM, f"peak RSS after {n:,} articles (dedup + match)", data["peak_rss_mb"],
               "MB", Target("<=", PEAK_MB)),
        Figure(ITEM, "RSS growth once the dedup window is full", growth, "MB",
               Target("<=", GROWTH_MB),
               note=f"from article {min(2 * fill, n // 2):,} to {n:,}; window {fill:,} articles"),
    ]  # fmt: skip
    return Result("memory", figures, data, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=int, required=True, help="articles to process")
    parser.add_argument("--window-days", type=int, default=14)
    parser.add_argument("--sample-every", type=int, default=SAMPLE_EVERY)
    args = parser.parse_args()
    print(json.dumps(_child(args.child, args.window_days, args.sample_every)))


if __name__ == "__main__":
    main()
