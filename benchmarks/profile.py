"""Where the time goes: pyinstrument over the pipeline, matcher, storage or parsing workloads.

    python -m benchmarks.profile pipeline|matcher|store|parse [--pages N] [--out FILE]

Runs the same components on the same corpus as the benchmarks, once, under pyinstrument, and
prints its call tree (also written to ``benchmarks/results/profile_<name>.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.corpus import article_texts, build_pages
from benchmarks.harness import (
    default_matcher,
    entry_for,
    fresh_trafilatura,
    pipeline,
    sqlite_engine,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _pipeline(n: int) -> Callable[[], None]:
    pages = build_pages(n)
    matcher = default_matcher()
    tmp = tempfile.mkdtemp(prefix="pantau-profile-")

    def work() -> None:
        engine = sqlite_engine(Path(tmp, "profile.db"))
        pipe = pipeline(engine, pages, matcher)

        async def go() -> None:
            for page in pages:
                await pipe.process_entry(entry_for(page), feed_id=None)

        with fresh_trafilatura():
            asyncio.run(go())
        engine.dispose()

    return work


def _matcher(n: int) -> Callable[[], None]:
    from benchmarks.bench_matcher import lexicon_with
    from monitor.match.matcher import Matcher

    texts = article_texts(n)
    matcher = Matcher(lexicon_with(1_000)[0])

    def work() -> None:
        for t in texts:
            matcher.match(t.title, t.body, t.published)

    return work


def _store(n: int) -> Callable[[], None]:
    from benchmarks.bench_storage import articles, write_all

    rows = articles(n)
    tmp = tempfile.mkdtemp(prefix="pantau-profile-")

    def work() -> None:
        engine = sqlite_engine(Path(tmp, "store.db"))
        write_all(engine, rows)
        engine.dispose()

    return work


def _parse(n: int) -> Callable[[], None]:
    from benchmarks.bench_parse import feeds
    from monitor.parse.feed import parse_feed

    samples = feeds()

    def work() -> None:
        for _ in range(max(1, n // 50)):
            for f in samples:
                parse_feed(f.content, url=f.url, content_type=f.content_type)

    return work


def _polling(n: int) -> Callable[[], None]:
    """One poll cycle over ``n`` feeds (90 % 304) of the loopback site, as in item 3."""
    import contextlib

    from benchmarks import bench_polling as bp
    from benchmarks.daemonkit import daemon_settings, loop_site

    stack = contextlib.ExitStack()
    tmp = Path(tempfile.mkdtemp(prefix="pantau-profile-"))
    base = stack.enter_context(loop_site([bp.changed_page(i, 1) for i in range(0, n, 10)]))
    feeds_file, engine = bp._prepare(tmp, base, n)
    schedule = {"per_host_concurrency": n, "per_host_delay": 0.0, "tick": 1.0}
    settings = daemon_settings(tmp, feeds_file, schedule, {"type": "console"})
    bp._make_due(engine)

    def work() -> None:
        with stack:
            bp._cycle(settings)

    return work


WORKLOADS: dict[str, Callable[[int], Callable[[], None]]] = {
    "polling": _polling,
    "pipeline": _pipeline,
    "matcher": _matcher,
    "store": _store,
    "parse": _parse,
}


def main() -> None:
    from pyinstrument import Profiler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = WORKLOADS[args.workload](args.pages)
    profiler = Profiler(interval=0.0005)
    with profiler:
        work()
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    out = args.out or RESULTS / f"profile_{args.workload}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
