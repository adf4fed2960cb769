"""The daemon's maintenance job keeps memory and the database flat over months, and runs on
the event loop: no thread prunes the dedup index while stores add to it (issue 15)."""

from __future__ import annotations

import asyncio
import random
import threading
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from monitor.config import load_settings
from monitor.daemon.runtime import Runtime, open_runtime
from monitor.daemon.service import maintain
from monitor.daemon.story import Candidate
from monitor.demo.replay import run_replay
from monitor.models import FeedEntry, MatchResult
from monitor.paths import default_seeds_dir
from storage import repo
from storage.engine import make_engine, session_scope
from storage.tables import ArticleRow, Event, MatchRow
from tests import factories


def test_maintenance_expires_the_dedup_window_old_events_and_old_bodies(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    overrides = {"database": {"url": db}, "retention": {"events_days": 7, "body_days": 30}}
    settings = load_settings(None, env={}, overrides=overrides)
    asyncio.run(run_replay(default_seeds_dir(), settings))

    async def run() -> tuple[int, dict[str, int], dict[str, int]]:
        async with AsyncExitStack() as stack:
            rt = await open_runtime(settings, stack, env={})
            loaded = len(rt.dedup)
            today = await maintain(rt)
            later = await maintain(rt, now=datetime.now(UTC) + timedelta(days=60))
            return loaded, today, later

    loaded, today, later = asyncio.run(run())
    assert loaded == 5
    assert today == {"dedup": 0, "events": 0, "bodies": 0}
    assert later["dedup"] == 5 and later["bodies"] == 5 and later["events"] > 0
    with session_scope(make_engine(db)) as session:
        articles = session.exec(select(ArticleRow)).all()
        assert len(articles) == 5 and all(a.body is None and a.title for a in articles)
        assert session.exec(select(MatchRow)).first() is not None  # matches are kept
        assert len(session.exec(select(Event)).all()) == 1  # the newest is kept: ids go on


ROUNDS = 1000
STEP = timedelta(minutes=30)  # a one-day window holds 48 of the articles: it slides through them
VOCABULARY = [f"kata{n}" for n in range(2000)]


def _candidate(i: int, seen_at: datetime) -> Candidate:
    words = random.Random(i).choices(VOCABULARY, k=40)  # new stories, mostly; copies are fine
    url = f"https://portal.example/berita/{i}"
    return Candidate(
        entry=FeedEntry(entry_id=url, link=url, title=f"Berita {i}", published=seen_at),
        feed_id=None,
        canonical_url=url,
        title=f"Berita {i}",
        body=" ".join(words),
        published=seen_at,
        seen_at=seen_at,
    )


async def _store(rt: Runtime, candidate: Candidate) -> None:
    """One article through the pipeline's store step: the dedup check, then the write and the
    index update (what ``Pipeline._process`` does once a page is analysed)."""
    verdict = rt.dedup.check(candidate.canonical_url, candidate.body, at=candidate.seen_at)
    outcome = await rt.pipeline._store(
        candidate, match=MatchResult(), verdict=verdict, alerts_enabled=False
    )
    assert outcome.article_id is not None, outcome


def _index_on_the_loop_only(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any call into the dedup index from a thread other than the loop's fail: a race
    with a thread is rare enough to pass a test unseen, the call itself is not."""
    loop_thread = threading.get_ident()
    for name in ("add", "check", "prune"):
        method = getattr(rt.dedup, name)

        def guarded(*args: Any, _method: Any = method, _name: str = name, **kwargs: Any) -> Any:
            assert threading.get_ident() == loop_thread, f"DedupIndex.{_name} called off the loop"
            return _method(*args, **kwargs)

        monkeypatch.setattr(rt.dedup, name, guarded)


@pytest.mark.slow
async def test_maintenance_alongside_a_thousand_stores_leaves_the_index_equal_to_the_window(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = factories.settings(db_url, dedup={"window_days": 1})
    start = datetime.now(UTC)
    clock = [start]  # the newest store's time: maintenance expires the window behind it

    async def stores(rt: Runtime) -> None:
        for i in range(ROUNDS):
            clock[0] = start + i * STEP
            await _store(rt, _candidate(i, clock[0]))

    async def maintenance(rt: Runtime) -> None:
        for _ in range(ROUNDS):
            await maintain(rt, now=clock[0])

    async with AsyncExitStack() as stack, asyncio.timeout(60):
        rt = await open_runtime(settings, stack, env={})
        _index_on_the_loop_only(rt, monkeypatch)
        # Both run to the end (any exception fails the test); their turns interleave as
        # their database calls finish in the storage gate's threads.
        await asyncio.gather(stores(rt), maintenance(rt))
        await maintain(rt, now=clock[0])
        cutoff = clock[0] - rt.dedup.config.window
        with session_scope(rt.engine) as session:
            stored = session.exec(select(func.count()).select_from(ArticleRow)).one()
            window = {r.id for r in repo.index_rows(session, 0, cutoff) if r.signature}
        indexed = len(rt.dedup)
        missing = sorted(a for a in window if a not in rt.dedup)

    assert stored == ROUNDS
    assert len(window) == 1 + rt.dedup.config.window // STEP  # both ends of the window count
    assert missing == []  # every article of the window is in the index...
    assert indexed == len(window)  # ...and nothing older is
