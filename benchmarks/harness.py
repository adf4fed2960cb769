"""Real Pantau components set up the way the daemon sets them up, for the benchmarks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from benchmarks.corpus import ROOT, BenchPage
from monitor.alert.rules import AlertRule
from monitor.config import load_settings
from monitor.daemon.pipeline import Pipeline
from monitor.daemon.workers import WorkerPool
from monitor.dedup.index import DedupConfig, DedupIndex
from monitor.match.lexicon import Lexicon
from monitor.match.matcher import Matcher
from monitor.models import FeedEntry, FetchResult
from storage import migrate
from storage.engine import make_engine

CONFIG_DIR = ROOT / "config"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def default_matcher() -> Matcher:
    return Matcher(Lexicon.load(CONFIG_DIR))


def default_rules() -> list[AlertRule]:
    settings = load_settings(None, env={})
    return [AlertRule.from_settings(r) for r in settings.alerts.rules]


def sqlite_engine(path: Path) -> Engine:
    """A migrated SQLite file, as ``pantau`` opens it."""
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    return engine


class MemoryFetcher:
    """Stands in for :class:`monitor.fetch.client.Fetcher`: hands out already fetched pages.

    The pipeline benchmark starts "from fetched HTML", so the network is not part of it.
    """

    def __init__(self, pages: Sequence[BenchPage]) -> None:
        self._pages = {p.url: p.html for p in pages}

    async def fetch(self, url: str, **_: Any) -> FetchResult:
        return FetchResult(
            url, url, 200, self._pages[url], {"content-type": "text/html; charset=utf-8"}
        )


def entry_for(page: BenchPage) -> FeedEntry:
    return FeedEntry(
        entry_id=page.url,
        link=page.url,
        title=page.article.title,
        published=page.article.published,
    )


def pipeline(
    engine: Engine,
    pages: Sequence[BenchPage],
    matcher: Matcher,
    *,
    executor: Executor | None = None,
    workers: WorkerPool | None = None,
) -> Pipeline:
    return Pipeline(
        engine=engine,
        fetcher=MemoryFetcher(pages),  # type: ignore[arg-type]
        matcher=matcher,
        dedup=DedupIndex(DedupConfig()),
        rules=default_rules(),
        executor=executor,
        workers=workers,
        clock=lambda: NOW,
    )


@contextlib.contextmanager
def fresh_trafilatura() -> Iterator[None]:
    """Forget the text segments trafilatura's ``deduplicate`` has seen in this process.

    Its cache is global: without this, a page extracted again in a later round would lose
    its paragraphs as "already seen"."""
    from trafilatura.deduplication import LRU_TEST

    LRU_TEST.clear()
    yield
