"""Item 1: pipeline throughput from fetched HTML to stored match, against bare extraction.

Real pages (issue #15), the figures with targets: the portal pages saved in
``../shared/corpus/articles`` (``*.html``; any page whose URL, or a URL it links to, is
reserved for outside evaluation is left out and named in the details), cycled to fill a round.
Side by side in one run, interleaved page by page (which arm goes first alternates):

* ``bare``: ``trafilatura.extract(page_bytes, url=url)``, the default call, one core;
* ``pipeline, 1 process``: :func:`monitor.daemon.analysis.analyse`, what a worker runs for a
  page (extraction, furniture, canonical URL, matching, dedup fingerprint), with the matcher
  and dedup settings the daemon builds from its default settings, one core;
* ``pipeline, worker pool``: the same jobs through :class:`monitor.daemon.workers.WorkerPool`
  built by ``monitor.daemon.runtime.open_workers`` from the default settings with
  ``extract_workers = 2``, all jobs submitted at once; wall time, two runs per round, the
  best run against the median bare CPU time (other people's load only ever adds wall time;
  the median run and the load average are in the figure's note).

The feed entry carries a date, as most do, so the page's own date is not looked for.

Synthetic pages (``benchmarks.corpus``; they extract about 6x faster than real ones, so they
overstate the pipeline's share), per round, on the same pages and interleaved page by page
(which arm goes first alternates between rounds):

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
import itertools
import os
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
from benchmarks.corpus import BenchPage, RealPage, build_pages, describe, real_pages
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
from monitor.config import Settings, load_settings
from monitor.daemon.analysis import PageJob, WorkerSpec, analyse
from monitor.daemon.pipeline import Pipeline
from monitor.daemon.runtime import dedup_config, load_matcher, open_workers
from monitor.daemon.workers import WorkerPool
from monitor.dedup import DedupConfig
from monitor.extract.article import extract_article
from monitor.match.matcher import Matcher

ITEM = "1 pipeline"
WORKERS = 2
IN_FLIGHT = 4
PAGES = {"full": 500, "quick": 150, "tiny": 6}
NEWSPAPER_EVERY = {"full": 10, "quick": 5, "tiny": 3}
REAL_JOBS = {"full": 400, "quick": 160, "tiny": 4}  # real-page jobs per arm and round
POOL_RUNS = 2  # pool runs per round (the workers started once)
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


# --- real pages ----------------------------------------------------------------------------


def daemon_settings() -> Settings:
    """The daemon's default settings, with the worker count of this benchmark."""
    return load_settings(None, env={"PANTAU_SCHEDULE__EXTRACT_WORKERS": str(WORKERS)})


def real_job(page: RealPage) -> PageJob:
    # The entry has a date (most feeds give one): the page's own date is not looked for.
    return PageJob(page.html, page.url, "text/html", page.title, NOW, NOW)


def _bare_real(page: RealPage) -> None:
    trafilatura.extract(page.html, url=page.url)


def _real_single_round(
    pages: Sequence[RealPage], settings: Settings, analyse_first: bool
) -> dict[str, float]:
    """CPU and wall seconds of bare extraction and of ``analyse``, page by page interleaved."""
    matcher, dedup = load_matcher(settings), dedup_config(settings)
    jobs = [real_job(p) for p in pages]
    for page, job in zip(pages[:4], jobs, strict=False):  # first calls fill lazy caches
        _bare_real(page)
        analyse(job, matcher, dedup)
    times = {"bare": 0.0, "bare_wall": 0.0, "pipeline": 0.0, "pipeline_wall": 0.0}

    def bare(page: RealPage) -> None:
        c, w = cpu(), time.perf_counter()
        _bare_real(page)
        times["bare"] += cpu() - c
        times["bare_wall"] += time.perf_counter() - w

    def piped(job: PageJob) -> None:
        c, w = cpu(), time.perf_counter()
        analyse(job, matcher, dedup)
        times["pipeline"] += cpu() - c
        times["pipeline_wall"] += time.perf_counter() - w

    with fresh_trafilatura():
        for page, job in zip(pages, jobs, strict=True):
            if analyse_first:
                piped(job)
                bare(page)
            else:
                bare(page)
                piped(job)
    return times


def _children_cpu() -> dict[int, float]:
    """CPU seconds of every process below this one (forkserver, worker processes)."""
    import psutil

    out: dict[int, float] = {}
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            out[child.pid] = times.user + times.system
    return out


async def _real_pool_round(
    pages: Sequence[RealPage], settings: Settings
) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of the busiest worker) for the daemon's worker pool to
    analyse every page, all submitted at once (the daemon's pipeline calls ``pool.run`` per
    entry; the pool hands each to a free worker), :data:`POOL_RUNS` times over. The busiest
    worker's CPU time is what the run's wall time would be with a core per worker."""
    jobs = [real_job(p) for p in pages]
    async with contextlib.AsyncExitStack() as stack:
        pool = open_workers(settings, stack)
        if pool is None or pool.size != WORKERS:
            raise RuntimeError(f"the settings did not give a pool of {WORKERS} workers")
        await pool.start()  # each worker imports and loads the matcher before the clock
        await asyncio.gather(*(pool.run(j) for j in jobs[: pool.size * 2]))
        runs = []
        for _ in range(POOL_RUNS):
            before, started = _children_cpu(), time.perf_counter()
            await asyncio.gather(*(pool.run(j) for j in jobs))
            wall, after = time.perf_counter() - started, _children_cpu()
            busiest = max(after[pid] - before.get(pid, 0.0) for pid in after)
            runs.append((wall, busiest))
        return runs


def run_real(mode: Mode) -> tuple[list[Figure], dict[str, Any]]:
    """The real-page arm: figures with the issue #15 targets, and their details."""
    found, left_out = real_pages()
    if not found:
        note = f"no real page to measure ({len(left_out)} left out as reserved)"
        return [Figure(ITEM, "real pages: pipeline / bare", None, "x", note=note)], {
            "left_out_as_reserved": left_out
        }
    pages = list(itertools.islice(itertools.cycle(found), REAL_JOBS[mode]))
    settings = daemon_settings()
    rounds: list[dict[str, Any]] = []
    for r in range(rounds_for(mode, 3, 3)):
        row: dict[str, Any] = dict(_real_single_round(pages, settings, analyse_first=r % 2 == 1))
        row["load_average"] = os.getloadavg()[0]
        row["pool"] = asyncio.run(_real_pool_round(pages, settings))
        rounds.append(row)
    n = len(pages)
    bare = median([r["bare"] for r in rounds])
    pool_walls = [wall for r in rounds for wall, _ in r["pool"]]
    pool_cpu = median([busiest for r in rounds for _, busiest in r["pool"]])
    bare_rate, pipe_rate = n / bare, n / median([r["pipeline"] for r in rounds])
    # Wall time on a shared machine only ever grows with the others' load: the best run is
    # the pool's own throughput, the median says what the load left of it.
    pool_rate = n / min(pool_walls)
    single = median([r["bare"] / r["pipeline"] for r in rounds])
    pooled, pooled_median = bare / min(pool_walls), bare / median(pool_walls)
    where = (
        f"{len(found)} real page(s) cycled to {n} jobs ({len(left_out)} left out as reserved "
        "for outside evaluation)"
    )
    figures = [
        Figure(ITEM, "real pages: bare trafilatura.extract, 1 core", bare_rate, "articles/s"),
        Figure(ITEM, "real pages: pipeline (analyse), 1 process", pipe_rate, "articles/s"),
        Figure(
            ITEM,
            f"real pages: pipeline, {WORKERS}-worker pool (wall, best run)",
            pool_rate,
            "articles/s",
        ),
        Figure(
            ITEM,
            "real pages: 1-process pipeline / bare (throughput)",
            single,
            "x",
            Target(">=", 0.8),
            note=f"{where}; CPU time per arm, ratio within each round",
        ),
        Figure(
            ITEM,
            f"real pages: {WORKERS}-worker pool / bare 1 core (throughput)",
            pooled,
            "x",
            Target(">=", 1.4),
            note=(
                f"best of {len(pool_walls)} pool runs (wall) against bare CPU time; median run "
                f"{pooled_median:.2f}x; load average {min(r['load_average'] for r in rounds):.1f}"
                f"-{max(r['load_average'] for r in rounds):.1f} on {os.cpu_count()} CPUs"
            ),
        ),
        Figure(
            ITEM,
            f"real pages: {WORKERS}-worker pool / bare 1 core, a core per worker",
            bare / pool_cpu,
            "x",
            note=(
                "bare CPU time against the busiest worker's CPU time per run (median): an "
                "upper estimate of the pool with the cores to itself (no dispatch time)"
            ),
        ),
    ]
    details = {
        "pages": [p.name for p in found],
        "left_out_as_reserved": left_out,
        "jobs_per_round": n,
        "workers": WORKERS,
        "ms_per_article": {
            "bare": round(1000 / bare_rate, 3),
            "pipeline": round(1000 / pipe_rate, 3),
            "pool_wall": round(1000 / pool_rate, 3),
        },
        "rounds": rounds,
    }
    return figures, details


def run(mode: Mode = "full") -> Result:
    """The real-page arm (the targets of issue #15), then the synthetic one."""
    started = time.perf_counter()
    real_figures, real_details = run_real(mode)
    result = _synthetic(mode)
    result.figures[:0] = real_figures
    result.details["real_pages"] = real_details
    result.seconds = time.perf_counter() - started
    return result


def _synthetic(mode: Mode) -> Result:
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
        Figure(ITEM, "synthetic: bare trafilatura.extract, 1 core", bare_rate, "articles/s"),
        Figure(ITEM, "synthetic: pipeline HTML -> stored match, 1 core", pipe_rate, "articles/s"),
        Figure(
            ITEM,
            "synthetic: pipeline overhead vs bare trafilatura.extract",
            overhead,
            "%",
            Target("<=", 10),
        ),
        Figure(
            ITEM,
            "synthetic: pipeline time beyond its own extract_article call",
            beyond,
            "%",
            note="extract_article = trafilatura with metadata, precision, dedup",
        ),
        Figure(ITEM, "synthetic: pipeline, extraction in 2-process pool", pool_rate, "articles/s"),
        Figure(
            ITEM,
            "synthetic: 2-core pipeline / 1-core bare extraction",
            pool_ratio,
            "x",
            Target(">=", 1.7),
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
