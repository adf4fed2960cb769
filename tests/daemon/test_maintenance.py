"""The daemon's maintenance job keeps memory and the database flat over months."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from monitor.config import load_settings
from monitor.daemon.runtime import open_runtime
from monitor.daemon.service import maintain
from monitor.demo.replay import run_replay
from monitor.paths import default_seeds_dir
from storage.engine import make_engine, session_scope
from storage.tables import ArticleRow, Event, MatchRow


def test_maintenance_expires_the_dedup_window_old_events_and_old_bodies(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    overrides = {"database": {"url": db}, "retention": {"events_days": 7, "body_days": 30}}
    settings = load_settings(None, env={}, overrides=overrides)
    asyncio.run(run_replay(default_seeds_dir(), settings))

    async def run() -> tuple[int, dict[str, int], dict[str, int]]:
        async with AsyncExitStack() as stack:
            rt = await open_runtime(settings, stack, env={})
            loaded = len(rt.dedup)
            today = maintain(rt)
            later = maintain(rt, now=datetime.now(UTC) + timedelta(days=60))
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
