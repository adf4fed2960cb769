"""The pure stages in worker processes (monitor.daemon.workers) under a runaway page, end to end:
feed on a loopback server -> poller -> pipeline -> worker processes -> SQLite.

The runaway page is simulated by the worker's task (``stuck_on_hostile``): the real analysis for
every page except the ones under ``/hostile/``, whose work never ends. The deadline, the kill,
the replacement process, the bounded retries and the recorded skip are all the real thing.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import monitor.cli.status  # noqa: F401  (registers status)
from monitor import events
from monitor.cli import app
from monitor.config import load_settings
from monitor.daemon.analysis import Analysis, PageJob, WorkerSpec, analyse
from monitor.daemon.pipeline import PipelineOptions
from monitor.daemon.runtime import load_matcher
from monitor.daemon.workers import WorkerPool
from monitor.dedup import DedupConfig, DedupIndex
from monitor.errors import ExtractError, WorkerTimeoutError
from monitor.match import Matcher
from storage.engine import session_scope
from tests.fakenews import fake_article
from tests.loopback import LoopbackServer
from tests.pollharness import open_daemon, rss, serve_article, serve_feed

DEADLINE = 6.0  # seconds of work per page on the first poll; normal pages take well under 1 s
RETRY_DEADLINE = 0.5  # the retries need not wait as long to be given up on


def stuck_on_hostile(job: PageJob, matcher: Matcher, dedup: DedupConfig) -> Analysis:
    """The worker's task: a page under /hostile/ never finishes; the rest are analysed."""
    if "/hostile/" in job.url:
        time.sleep(3600)
    return analyse(job, matcher, dedup)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher(load_settings(None, env={}))


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    settings = load_settings(None, env={})
    spec = WorkerSpec(
        lexicon_dir=settings.lexicon_dir,
        relevance_model=settings.matching.relevance_model,
        dedup=DedupConfig(),
        task=stuck_on_hostile,
    )
    workers = WorkerPool(spec, workers=2, timeout=DEADLINE)
    try:
        await workers.start()  # the deadline is about work, not about starting Python
        yield workers
    finally:
        workers.close()


def job(url: str, content: bytes) -> PageJob:
    return PageJob(content, url, "text/html; charset=utf-8", "", None, datetime.now(UTC))


@pytest.mark.slow
async def test_a_runaway_page_is_killed_retried_and_recorded_as_skipped_while_20_others_are_stored(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher, pool: WorkerPool
) -> None:
    good = [serve_article(loopback, f"/artikel/{i}", fake_article(i)) for i in range(20)]
    hostile = serve_article(loopback, "/hostile/1", fake_article(99))
    # Feeds list newest first and are processed oldest first: the runaway page goes first.
    serve_feed(loopback, rss([("Berita", link) for link in [*good, hostile]]))
    db = tmp_path / "pantau.db"
    options = PipelineOptions(extract_attempts=3)
    async with open_daemon(db, loopback, matcher, workers=pool, options=options) as daemon:
        started = datetime.now(UTC)
        first = await daemon.poll()
        assert (first.new, first.stored, first.retry) == (21, 20, 1)
        stored = daemon.articles()
        assert set(stored) == set(good)
        # None of them waited behind the runaway page: all were stored before its deadline.
        latest = max(a.seen_at for a in stored.values())
        assert latest < started + timedelta(seconds=DEADLINE)
        assert pool.killed == 1
        assert hostile not in daemon.seen_links()  # not lost: tried again next poll

        pool.timeout = RETRY_DEADLINE
        second = await daemon.poll(hours_later=3)
        assert (second.new, second.retry) == (1, 1)
        assert hostile not in daemon.seen_links()

        third = await daemon.poll(hours_later=6)
        assert (third.new, third.stored, third.retry) == (1, 0, 0)
        assert hostile in daemon.seen_links()  # given up on, for good and on the record
        assert pool.killed == 3
        with session_scope(daemon.engine) as session:
            skipped = events.skipped_entries(session, limit=5)
        assert [e.type for e in skipped] == [events.ENTRY_SKIPPED]
        assert skipped[0].data["url"] == hostile
        assert skipped[0].data["attempts"] == 3
        assert "its worker process was killed" in skipped[0].data["reason"]

        fourth = await daemon.poll(hours_later=9)
        assert fourth.new == 0
        assert set(daemon.articles()) == set(good)

    result = CliRunner().invoke(
        app,
        ["status", "--db", str(db), "--json"],
        env={"PANTAU_CONFIG": None, "PANTAU_DATABASE_URL": None},
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["skipped_entries"]
    assert [(s["url"], s["attempts"]) for s in shown] == [(hostile, 3)]


async def test_the_deadline_counts_from_when_work_starts_not_from_submission(
    pool: WorkerPool,
) -> None:
    """Two runaway pages hold both workers; pages queued behind them wait longer than a
    deadline, yet are analysed (their own work is short), by fresh processes."""
    pool.timeout = 1.0
    page = fake_article(1).html().encode()
    runaway = [pool.run(job(f"http://127.0.0.1/hostile/{i}", page)) for i in range(2)]
    normal = [pool.run(job(f"http://127.0.0.1/artikel/{i}", page)) for i in range(4)]
    began = time.monotonic()
    results = await asyncio.gather(*runaway, *normal, return_exceptions=True)
    assert time.monotonic() - began > pool.timeout  # the normal pages waited a deadline out
    assert all(isinstance(r, WorkerTimeoutError) for r in results[:2])
    assert all(isinstance(r, Analysis) for r in results[2:]), results[2:]
    assert pool.killed == 2


async def test_a_worker_answers_like_the_in_process_pipeline(
    pool: WorkerPool, matcher: Matcher
) -> None:
    page = fake_article(3).html().encode()
    url = "http://127.0.0.1/artikel/3"
    in_worker = await pool.run(job(url, page))
    here = analyse(job(url, page), matcher, DedupConfig())
    assert in_worker.canonical_url == here.canonical_url
    assert in_worker.body == here.body
    assert in_worker.match == here.match
    assert in_worker.fingerprint == here.fingerprint
    index = DedupIndex()
    at = datetime.now(UTC)
    assert index.check(url, here.body, at=at) == index.check(
        url, here.body, at=at, fingerprint=in_worker.fingerprint
    )
    with pytest.raises(ExtractError, match="text too short"):
        await pool.run(job(url, b"<html><body><p>kosong</p></body></html>"))


def test_extraction_runs_in_one_worker_process_per_core_by_default() -> None:
    schedule = load_settings(None, env={}).schedule
    assert schedule.extract_workers == (os.cpu_count() or 1)
    assert (schedule.extract_timeout, schedule.extract_attempts) == (60.0, 3)
