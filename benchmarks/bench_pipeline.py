"""Item 1: pipeline throughput from fetched HTML to stored match, against bare extraction.

Per round, on the same pages and interleaved page by page (which arm goes first alternates
between rounds):

* ``bare``: ``trafilatura.extract(html, url=url)`` with its defaults -- the floor;
* ``pipeline``: ``Pipeline.process_entry`` on the page already fetched (extract with Pantau's
  options, strip furniture, canonicalize, dedup signature and check, match, store in a SQLite
  file with its matches, outbox alerts and event). Each stage is timed inside the same calls,
  so the round also says where the time went.

Then, per round: the pipeline with extraction in a 2-process pool and 4 entries in flight
(both cores busy), and newspaper4k on every fifth page, interleaved with bare trafilatura on
those pages. Each figure is the median over rounds; ratios are taken within a round.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import trafilatura

import monitor.daemon.analysis as analysis_module
from benchmarks.common import Figure, Mode, Result, Target, cpu, median, rounds_for
from benchmarks.corpus import BenchPage, build_pages, describe
from benchmarks.corpus import page as corpus_page
from benchmarks.harness import (
    CONFIG_DIR,
    NOW,
    default_matcher,
    entry_for,
    fresh_trafilatura,
    pipeline,
    sqlite_engine,
)
from monitor.daemon.analysis import PageJob, WorkerSpec
from monitor.daemon.pipeline import Pipeline
from monitor.daemon.workers import WorkerPool
from monitor.dedup import DedupConfig
from monitor.extract.article import extract_article
from monitor.match.matcher import Matcher

ITEM = "1 pipeline"
WORKERS = 2
IN_FLIGHT = 4
PAGES = {"full": 500, "quick": 150, "tiny": 6}
NEWSPAPER_EVERY = {"full": 10, "quick": 5, "tiny": 3}
STAGES = ("extract", "strip_furniture", "canonicalize", "match", "dedup", "store")


class Stopwatch:
    """Accumulates the time spent in wrapped callables, per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += cpu() - started

        return timed

    def wrap_async(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = cpu()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds[name] += cpu() - started

        return timed


@contextlib.contextmanager
def instrumented(pipe: Pipeline, watch: Stopwatch) -> Iterator[None]:
    """Time each stage the pipeline calls (module functions are swapped back afterwards); the
    pure stages run in-process here (no worker pool), in :func:`analysis_module.analyse`."""
    saved = {
        name: getattr(analysis_module, name)
        for name in ("extract_article", "strip_furniture", "canonicalize_url", "fingerprint")
    }
    analysis_module.extract_article = watch.wrap("extract", extract_article)  # type: ignore[assignment]
    analysis_module.strip_furniture = watch.wrap("strip_furniture", saved["strip_furniture"])  # type: ignore[assignment]
    analysis_module.canonicalize_url = watch.wrap("canonicalize", saved["canonicalize_url"])  # type: ignore[assignment]
    # The body's dedup fingerprint is computed with the other pure stages, the lookup later.
    analysis_module.fingerprint = watch.wrap("dedup", saved["fingerprint"])  # type: ignore[assignment]
    pipe.matcher.match = watch.wrap("match", pipe.matcher.match)  # type: ignore[method-assign]
    pipe.dedup.check = watch.wrap("dedup", pipe.dedup.check)  # type: ignore[method-assign]
    pipe._store = watch.wrap_async("store", pipe._store)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(analysis_module, name, fn)
        del pipe.matcher.match  # back to the class's method


def _bare(page: BenchPage) -> None:
    trafilatura.extract(page.html.decode("utf-8"), url=page.url)


def _newspaper() -> Callable[[BenchPage], None] | str:
    """newspaper4k's extraction, or why it cannot run here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "nltk is not installed": not needed to extract
            from newspaper import Article
    except Exception as exc:  # pragma: no cover - depends on the environment
        return f"newspaper4k not importable: {type(exc).__name__}: {exc}"

    def extract(page: BenchPage) -> None:
        article = Article(page.url, language="id", fetch_images=False)
        article.download(input_html=page.html.decode("utf-8"))
        article.parse()

    return extract


async def _single_core_round(
    pages: Sequence[BenchPage],
    matcher: Matcher,
    db: Path,
    pipeline_first: bool,
    warm: Sequence[BenchPage],
) -> dict[str, Any]:
    engine = sqlite_engine(db)
    pipe = pipeline(engine, [*pages, *warm], matcher)
    for page in warm:  # first calls load caches (courlan, htmldate, SQLAlchemy statements)
        _bare(page)
        await pipe.process_entry(entry_for(page), feed_id=None)
    watch = Stopwatch()
    bare = piped = 0.0
    outcomes: Counter[str] = Counter()
    try:
        with fresh_trafilatura(), instrumented(pipe, watch):
            for page in pages:
                t0 = cpu()
                if not pipeline_first:
                    _bare(page)
                t1 = cpu()
                outcome = await pipe.process_entry(entry_for(page), feed_id=None)
                t2 = cpu()
                if pipeline_first:
                    _bare(page)
                t3 = cpu()
                bare += (t1 - t0) + (t3 - t2)
                piped += t2 - t1
                outcomes[outcome.status] += 1
    finally:
        engine.dispose()
    return {
        "bare": bare,
        "pipeline": piped,
        "stages": dict(watch.seconds),
        "outcomes": dict(outcomes),
    }


def _job(page: BenchPage) -> PageJob:
    return PageJob(page.html, page.url, "text/html; charset=utf-8", "", None, NOW)


async def _pool_round(
    pages: Sequence[BenchPage], matcher: Matcher, db: Path, warm: Sequence[BenchPage]
) -> float:
    engine = sqlite_engine(db)
    # The workers build the matcher default_matcher() builds: bundled lexicon, rules alone.
    spec = WorkerSpec(lexicon_dir=CONFIG_DIR, relevance_model="rules", dedup=DedupConfig())
    pool = WorkerPool(spec, workers=WORKERS, timeout=600.0)
    try:
        # Start both workers and import trafilatura in them before the clock starts.
        await pool.start()
        await asyncio.gather(*(pool.run(_job(p)) for p in warm))
        pipe = pipeline(engine, pages, matcher, workers=pool)
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(page: BenchPage) -> None:
            async with gate:
                await pipe.process_entry(entry_for(page), feed_id=None)

        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in pages))
        return time.perf_counter() - started
    finally:
        pool.close()
        engine.dispose()


def _newspaper_round(
    pages: Sequence[BenchPage], extract: Callable[[BenchPage], None]
) -> tuple[float, float]:
    bare = peer = 0.0
    with fresh_trafilatura():
        for page in pages:
            bare_time = cpu()
            _bare(page)
            peer_time = cpu()
            extract(page)
            done = cpu()
            bare += peer_time - bare_time
            peer += done - peer_time
    return bare, peer


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    n = PAGES[mode]
    pages = build_pages(n)
    warm = [corpus_page(n + i) for i in range(WORKERS * 2)]
    subset = pages[:: NEWSPAPER_EVERY[mode]]
    matcher = default_matcher()
    newspaper = _newspaper()
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        for r in range(rounds_for(mode, 2, 2)):
            row = asyncio.run(
                _single_core_round(pages, matcher, Path(tmp, f"single{r}.db"), r % 2 == 1, warm)
            )
            row["pool"] = asyncio.run(_pool_round(pages, matcher, Path(tmp, f"pool{r}.db"), warm))
            if callable(newspaper):
                row["np_bare"], row["np"] = _newspaper_round(subset, newspaper)
            rounds.append(row)
    return _result(rounds, pages, subset, newspaper, time.perf_counter() - started)


def _result(
    rounds: list[dict[str, Any]],
    pages: Sequence[BenchPage],
    subset: Sequence[BenchPage],
    newspaper: Callable[[BenchPage], None] | str,
    seconds: float,
) -> Result:
    n = len(pages)
    bare_rate = n / median([r["bare"] for r in rounds])
    pipe_rate = n / median([r["pipeline"] for r in rounds])
    overhead = median([(r["pipeline"] / r["bare"] - 1) * 100 for r in rounds])
    beyond = median([(r["pipeline"] / r["stages"]["extract"] - 1) * 100 for r in rounds])
    pool_rate = n / median([r["pool"] for r in rounds])
    pool_ratio = median([r["bare"] / r["pool"] for r in rounds])
    figures = [
        Figure(ITEM, "bare trafilatura.extract, 1 core", bare_rate, "articles/s"),
        Figure(ITEM, "pipeline HTML -> stored match, 1 core", pipe_rate, "articles/s"),
        Figure(
            ITEM, "pipeline overhead vs bare trafilatura.extract", overhead, "%", Target("<=", 10)
        ),
        Figure(
            ITEM,
            "pipeline time beyond its own extract_article call",
            beyond,
            "%",
            note="extract_article = trafilatura with metadata, precision, dedup",
        ),
        Figure(ITEM, "pipeline, extraction in 2-process pool", pool_rate, "articles/s"),
        Figure(
            ITEM, "2-core pipeline / 1-core bare extraction", pool_ratio, "x", Target(">=", 1.7)
        ),
    ]
    if callable(newspaper):
        np_rate = len(subset) / median([r["np"] for r in rounds])
        np_ratio = median([r["np"] / r["np_bare"] for r in rounds])
        figures += [
            Figure(
                ITEM, f"newspaper4k extraction, 1 core ({len(subset)} pages)", np_rate, "articles/s"
            ),
            Figure(ITEM, "newspaper4k time / bare trafilatura time", np_ratio, "x"),
        ]
    else:
        figures.append(Figure(ITEM, "newspaper4k extraction", None, "articles/s", note=newspaper))
    stage_ms = {
        s: round(median([r["stages"].get(s, 0.0) for r in rounds]) / n * 1000, 3) for s in STAGES
    }
    pipe_ms = median([r["pipeline"] for r in rounds]) / n * 1000
    stage_ms["other (event loop, executor hop, URL lookups, outcome)"] = round(
        pipe_ms - sum(stage_ms.values()), 3
    )
    details = {
        "corpus": describe(pages),
        "rounds": rounds,
        "ms_per_article": {"bare": round(1000 / bare_rate, 3), "pipeline": round(pipe_ms, 3)},
        "pipeline_stage_ms_per_article": stage_ms,
        "pool": {"workers": WORKERS, "in_flight": IN_FLIGHT},
    }
    return Result("pipeline", figures, details, seconds)
