"""Dedup lookup cost versus index size (1k, 10k, 100k articles): it should stay flat.

    python -m benchmarks.bench_dedup [--sizes 1000,10000,100000] [--queries 300] [--json out.json]

Synthetic, distinct Indonesian-like bodies (median ~400 words, 120-1500) are generated
reproducibly from ``random.Random(42)``; signatures for the index are computed in a process
pool. One index grows through the sizes; at each size the same queries are timed:

* ``new``  -- fresh bodies that match nothing (the common case);
* ``near`` -- syndicated copies of indexed articles (new headline, furniture, last
  paragraph trimmed), which must come back as "near" with the right story.

``check`` includes computing the query's signature; ``signature`` is timed separately on
the same bodies, so ``lookup = check - signature`` is the cost that depends on index size.
Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.dedup.index import (
    DedupIndex,
    DedupVerdict,
    IndexedArticle,
    Signature,
    body_hash,
    signature,
)

SEED = 42
NOW = datetime(2025, 4, 24, 12, 0, tzinfo=UTC)
WARMUP = 20  # untimed queries first: caches, lazy imports
_ROOT = Path(__file__).resolve().parents[1]
_SYLLABLES = [c + v for c in "bdgklmnprstjwy" for v in "aeiu"] + ["an", "ang", "nya", "kan"]
_FURNITURE = (
    "Baca juga: Harga Emas Antam Hari Ini Naik Rp 5.000 per Gram",
    "ADVERTISEMENT",
    "Simak berita dan artikel lainnya di Google News",
    "Copyright © 2025. All rights reserved.",
)


def vocabulary(rng: random.Random, size: int = 30_000) -> list[str]:
    """Real words from the seed articles first (most frequent ranks), then made-up ones."""
    words: dict[str, None] = {}
    for path in sorted((_ROOT / "seeds").glob("*.txt")):
        for word in path.read_text(encoding="utf-8").split():
            cleaned = word.strip(".,:;!?\"'()").lower()
            if cleaned.isalpha():
                words[cleaned] = None
    while len(words) < size:
        words["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4)))] = None
    return list(words)


class BodyMaker:
    """Reproducible article bodies: body ``i`` is the same in every process and run."""

    def __init__(self, seed: int = SEED) -> None:
        self._seed = seed
        self._vocab = vocabulary(random.Random(seed))
        # Zipf-like word frequencies, as in real prose.
        weights = [1.0 / (rank + 10) for rank in range(len(self._vocab))]
        total = 0.0
        self._cum: list[float] = []
        for w in weights:
            total += w
            self._cum.append(total)

    def paragraphs(self, i: int) -> list[str]:
        rng = random.Random(f"{self._seed}:{i}")
        length = min(1500, max(120, int(rng.lognormvariate(6.0, 0.45))))
        words = rng.choices(self._vocab, cum_weights=self._cum, k=length)
        paragraphs, start = [], 0
        while start < length:
            end = min(length, start + rng.randint(25, 70))
            sentence = " ".join(words[start:end])
            paragraphs.append(sentence[:1].upper() + sentence[1:] + ".")
            start = end
        return paragraphs

    def body(self, i: int) -> str:
        return "\n".join(self.paragraphs(i))

    def syndicated(self, i: int) -> str:
        paragraphs = self.paragraphs(i)
        kept = paragraphs[:-1] if len(paragraphs) > 2 else paragraphs
        return "\n".join(["Judul Lain untuk Berita yang Sama", *kept[:2], _FURNITURE[0],
                          *kept[2:], *_FURNITURE[1:]])  # fmt: skip


_MAKER: BodyMaker | None = None


def _sign_range(bounds: tuple[int, int]) -> list[tuple[str, bytes]]:
    global _MAKER  # per worker process: the vocabulary is built once, not per body
    if _MAKER is None:
        _MAKER = BodyMaker()
    out = []
    for i in range(*bounds):
        body = _MAKER.body(i)
        out.append((body_hash(body), signature(body).to_bytes()))
    return out


def _signed(start: int, stop: int, workers: int) -> list[tuple[str, bytes]]:
    step = 2_000
    chunks = [(lo, min(lo + step, stop)) for lo in range(start, stop, step)]
    if workers <= 1:
        return [row for chunk in chunks for row in _sign_range(chunk)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [row for rows in pool.map(_sign_range, chunks) for row in rows]


def _us(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered) * 1e6, 1),
        "p95_us": round(ordered[int(0.95 * (len(ordered) - 1))] * 1e6, 1),
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
    }


def _time_checks(
    index: DedupIndex, bodies: Sequence[str], url: str
) -> tuple[list[float], list[DedupVerdict]]:
    for body in bodies[:WARMUP]:
        index.check(url, body, at=NOW)
    samples, verdicts = [], []
    for n, body in enumerate(bodies):
        started = time.perf_counter()
        verdict = index.check(f"{url}/{n}", body, at=NOW)
        samples.append(time.perf_counter() - started)
        verdicts.append(verdict)
    return samples, verdicts


def _measure(
    index: DedupIndex, signed: Sequence[tuple[str, bytes]], maker: BodyMaker, queries: int
) -> dict[str, Any]:
    size = len(signed)
    rng = random.Random(f"{SEED}:queries:{size}")
    fresh = [maker.body(10_000_000 + n) for n in range(queries)]
    targets = [rng.randrange(size) for _ in range(queries)]
    copies = [maker.syndicated(t) for t in targets]
    sig_samples = []
    for body in fresh[:WARMUP]:
        signature(body)
    for body in fresh:
        started = time.perf_counter()
        signature(body)
        sig_samples.append(time.perf_counter() - started)
    new_samples, new_verdicts = _time_checks(index, fresh, "https://www.bench.example/new")
    near_samples, near_verdicts = _time_checks(index, copies, "https://www.bench.example/copy")
    return {
        "size": size,
        "signature": _us(sig_samples),
        "check_new": _us(new_samples),
        "check_near": _us(near_samples),
        "lookup_new_median_us": round(
            (statistics.median(new_samples) - statistics.median(sig_samples)) * 1e6, 1
        ),
        "false_merges": sum(v.kind != "new" for v in new_verdicts),
        "near_found": sum(
            v.kind == "near" and v.story_id == t
            for v, t in zip(near_verdicts, targets, strict=True)
        ),
        # copies whose estimated similarity clears the threshold but that LSH did not propose
        "near_missed_by_lsh": sum(
            v.kind != "near"
            and v.signature.jaccard(Signature.from_bytes(signed[t][1])) >= index.config.threshold
            for v, t in zip(near_verdicts, targets, strict=True)
        ),
        "queries": queries,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run(
    sizes: Sequence[int] = (1000, 10000, 100000),
    *,
    queries: int = 300,
    workers: int | None = None,
    json_path: Path | None = None,
) -> dict[str, Any]:
    """Grow one index through ``sizes``, time ``check`` at each; print and return figures."""
    workers = workers or os.cpu_count() or 1
    started = time.perf_counter()
    maker = BodyMaker()
    index = DedupIndex()
    rows: list[dict[str, Any]] = []
    sign_seconds = insert_seconds = 0.0
    signed: list[tuple[str, bytes]] = []
    for size in sorted(sizes):
        indexed = len(signed)
        t0 = time.perf_counter()
        signed += _signed(indexed, size, workers)
        t1 = time.perf_counter()
        for i in range(indexed, size):
            digest, sig = signed[i]
            seen_at = NOW - timedelta(seconds=size - i)  # all inside the window
            url = f"https://www.bench.example/{i}"
            index.add(IndexedArticle(i, i, url, digest, sig, seen_at))
        sign_seconds += t1 - t0
        insert_seconds += time.perf_counter() - t1
        rows.append(_measure(index, signed, maker, queries))
    result = {
        "benchmark": "dedup_check",
        "seed": SEED,
        "workers": workers,
        "rows": rows,
        "signing_wall_per_article_us": round(sign_seconds / len(signed) * 1e6, 1),
        "index_add_per_article_us": round(insert_seconds / len(signed) * 1e6, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    _print(result)
    if json_path is not None:
        json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def _print(result: dict[str, Any]) -> None:
    header = (
        f"{'indexed':>8} {'sig med':>8} {'check new':>10} {'p95':>8} {'check near':>11} "
        f"{'p95':>8} {'lookup':>7} {'near ok':>8} {'lsh miss':>8} {'false':>6} {'rss MB':>7}"
    )
    print(header)
    for r in result["rows"]:
        print(
            f"{r['size']:>8} {r['signature']['median_us']:>8} {r['check_new']['median_us']:>10} "
            f"{r['check_new']['p95_us']:>8} {r['check_near']['median_us']:>11} "
            f"{r['check_near']['p95_us']:>8} {r['lookup_new_median_us']:>7} "
            f"{r['near_found']:>4}/{r['queries']:<3} {r['near_missed_by_lsh']:>8} "
            f"{r['false_merges']:>6} {r['max_rss_mb']:>7}"
        )
    print(
        f"times in µs (median unless p95); signing {result['signing_wall_per_article_us']} "
        f"µs/article (wall, {result['workers']} workers), "
        f"index add {result['index_add_per_article_us']} µs/article, "
        f"total {result['total_seconds']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = run(sizes, queries=args.queries, workers=args.workers, json_path=args.json)
    if args.json is None:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
