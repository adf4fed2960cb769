"""The daemon against loopback sites whose feeds change while it runs; leases; SIGTERM."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from monitor.config import Settings, load_settings
from monitor.daemon.feeds import add_feed
from monitor.daemon.service import DaemonReport, run_daemon
from monitor.demo.sitebuilder import FEED_PATH, Corpus, build_site, load_corpus
from monitor.demo.siteserver import SiteServer
from monitor.metrics import Metrics
from monitor.models import FeedSpec
from monitor.paths import default_seeds_dir
from storage import feed_state
from storage.engine import create_schema, make_engine, session_scope
from storage.tables import AlertRow, ArticleRow, Feed, FeedEvent, SeenEntry
from tests.factories import await_until, polling_settings, wait_while_running, write_feeds_file
from tests.feedsite import FeedSite
from tests.loopback import LoopbackServer, Response

ROOT = Path(__file__).resolve().parents[2]


def count(engine: Engine, table: Any, *where: Any) -> int:
    with session_scope(engine) as session:
        return int(session.exec(select(func.count()).select_from(table).where(*where)).one())


class Running:
    """run_daemon as a task, stopped through its stop event."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            run_daemon(
                settings,
                stop=self.stop,
                allow_private=True,
                env={},
                handle_signals=False,
                metrics=metrics,
            )
        )

    async def finish(self) -> DaemonReport:
        self.stop.set()
        return await asyncio.wait_for(self.task, 10)


def seeds() -> Corpus:
    return load_corpus(default_seeds_dir())


def polls(metrics: Metrics, status: str) -> float:
    return metrics.registry.get_sample_value("pantau_polls_total", {"status": status}) or 0.0


# --- the running daemon ----------------------------------------------------------------------


async def test_daemon_picks_up_new_entries_and_unchanged_feeds_cost_a_304(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    site = FeedSite(loopback, seeds())
    site.publish(2)
    settings = polling_settings(tmp_path, min_interval=0.2, max_interval=0.3)
    assert settings.feeds_file is not None
    write_feeds_file(settings.feeds_file, [site.url])
    engine = make_engine(settings.database_url)
    create_schema(engine)
    metrics = Metrics.create()
    daemon = Running(settings, metrics)
    await await_until(lambda: count(engine, SeenEntry) == 2, "two entries seen")
    await await_until(lambda: polls(metrics, "not_modified") >= 2, "two 304 polls")
    articles_while_unchanged = count(engine, ArticleRow)
    site.publish(4)
    await await_until(lambda: count(engine, SeenEntry) == 4, "four entries seen")
    await await_until(lambda: count(engine, ArticleRow) == 4, "four articles stored")
    report = await daemon.finish()
    assert articles_while_unchanged == 2
    assert report.by_status["ok"] == 2  # two parses: the first poll and the changed feed
    assert report.by_status["not_modified"] >= 2
    assert count(engine, AlertRow) == 2  # the backlog did not alert, the new entries did
    engine.dispose()


async def test_fifty_feeds_on_one_host_never_exceed_the_per_host_cap(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    corpus = seeds()
    sites = []
    for i in range(50):
        doc = corpus.docs[i % len(corpus.docs)]
        site = FeedSite(
            loopback,
            Corpus(corpus.site_name, corpus.base_url, (doc,)),
            path=f"/feed/{i}.xml",
            delay=0.02,
        )
        site.publish(1 if i < len(corpus.docs) else 0)  # a few carry an article to fetch
        sites.append(site)
    settings = polling_settings(tmp_path, per_host_concurrency=2, global_concurrency=16)
    assert settings.feeds_file is not None
    write_feeds_file(settings.feeds_file, [s.url for s in sites])
    report = await run_daemon(settings, once=True, allow_private=True, env={}, handle_signals=False)
    assert report.polls == 50 and report.by_status["ok"] == 50
    assert all(len(s.feed_requests()) == 1 for s in sites)
    assert loopback.max_concurrency <= 2
    engine = make_engine(settings.database_url)
    assert count(engine, ArticleRow) == 5  # each seed once, whichever feed saw it first
    engine.dispose()


async def test_failing_feed_backs_off_exponentially_and_recovers_on_its_own(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    site = FeedSite(loopback, seeds())
    site.fail(Response(500, b"internal error"))
    settings = polling_settings(
        tmp_path, backoff_base=0.1, backoff_max=10.0, tick=0.05, unhealthy_after_failures=3
    )
    assert settings.feeds_file is not None
    write_feeds_file(settings.feeds_file, [site.url])
    engine = make_engine(settings.database_url)
    create_schema(engine)
    daemon = Running(settings, Metrics.create())
    await await_until(lambda: len(site.feed_requests()) >= 5, "five feed polls")
    times = [r.at for r in site.feed_requests()][:5]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for k, gap in enumerate(gaps):
        assert gap >= 0.1 * 2**k * 0.95, gaps  # 0.1, 0.2, 0.4, 0.8 s at least
    with session_scope(engine) as session:
        feed = session.exec(select(Feed)).one()
        assert not feed.healthy and feed.enabled
    site.fail(None)
    site.publish(1)
    healthy = Feed.healthy == True  # noqa: E712
    await await_until(lambda: count(engine, Feed, healthy) == 1, "the feed healthy again")
    await daemon.finish()
    with session_scope(engine) as session:
        kinds = [e.kind for e in session.exec(select(FeedEvent)).all()]
    assert kinds == ["unhealthy", "recovered"]
    engine.dispose()


async def test_without_network_the_daemon_keeps_running_and_recovers_by_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port where nothing listens yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{FEED_PATH}"
    settings = polling_settings(tmp_path, backoff_base=0.1, backoff_max=0.4, tick=0.05)
    assert settings.feeds_file is not None
    write_feeds_file(settings.feeds_file, [url])
    engine = make_engine(settings.database_url)
    create_schema(engine)
    caplog.set_level(logging.WARNING, logger="monitor.daemon.poller")
    daemon = Running(settings, Metrics.create())

    def refusals() -> int:
        return sum("in a row; next try" in r.getMessage() for r in caplog.records)

    await await_until(lambda: refusals() >= 4, "four refused fetches")
    assert not daemon.task.done()
    corpus = seeds()
    with SiteServer(port=port) as server:
        server.site = build_site(corpus, server.base_url)
        succeeded = col(Feed.last_success_at).is_not(None)
        await await_until(lambda: count(engine, Feed, succeeded) == 1, "a successful poll")
        report = await daemon.finish()
    # One log line per failed attempt (one per back-off step), none in between.
    assert refusals() == report.by_status["error"]
    assert count(engine, SeenEntry) == len(corpus.docs)
    engine.dispose()


# --- leases ----------------------------------------------------------------------------------


def _engine_with_feeds(tmp_path: Path, n: int) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'leases.db'}")
    create_schema(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for i in range(n):
            add_feed(
                session,
                FeedSpec(url=f"https://f{i}.example/rss"),
                default_interval=600,
                now=now - timedelta(seconds=n - i),
            )
    return engine


def test_a_leased_feed_is_not_claimed_again_until_the_lease_expires(tmp_path: Path) -> None:
    engine = _engine_with_feeds(tmp_path, 3)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        first = feed_state.claim_due_feeds(session, "a", now, 2, 60)
    with session_scope(engine) as session:
        second = feed_state.claim_due_feeds(session, "b", now, 10, 60)
    assert [f.url for f in first] == ["https://f0.example/rss", "https://f1.example/rss"]
    assert [f.url for f in second] == ["https://f2.example/rss"]
    with session_scope(engine) as session:
        assert feed_state.claim_due_feeds(session, "b", now, 10, 60) == []
    later = now + timedelta(seconds=61)
    with session_scope(engine) as session:
        taken = feed_state.claim_due_feeds(session, "c", later, 10, 60)
    assert len(taken) == 3  # every lease expired: anyone may claim
    engine.dispose()


def test_release_schedules_the_feed_and_a_lost_lease_writes_nothing(tmp_path: Path) -> None:
    engine = _engine_with_feeds(tmp_path, 1)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        (feed,) = feed_state.claim_due_feeds(session, "a", now, 1, 60)
    assert feed.id is not None
    failed = feed_state.PollRecord(
        next_poll_at=now + timedelta(minutes=5),
        last_polled_at=now,
        polls=1,
        interval_seconds=600,
        consecutive_failures=1,
        last_error="HTTP 500",
        healthy=True,
        unhealthy_reason=None,
    )
    with session_scope(engine) as session:
        assert not feed_state.release(session, feed.id, "b", replace(failed, polls=99))
        assert feed_state.release(session, feed.id, "a", failed)
    with session_scope(engine) as session:
        row = session.get(Feed, feed.id)
        assert row is not None
        assert (row.polls, row.lease_owner, row.interval_seconds) == (1, None, 600)
        assert (row.consecutive_failures, row.last_error) == (1, "HTTP 500")
        assert (row.last_success_at, row.initial_poll_done) == (None, False)  # a failure
        assert feed_state.claim_due_feeds(session, "a", now + timedelta(minutes=1), 1, 60) == []
    engine.dispose()


def test_release_of_a_successful_poll_records_its_validators(tmp_path: Path) -> None:
    engine = _engine_with_feeds(tmp_path, 1)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        (feed,) = feed_state.claim_due_feeds(session, "a", now, 1, 60)
    assert feed.id is not None
    record = feed_state.PollRecord(
        next_poll_at=now + timedelta(minutes=5),
        last_polled_at=now,
        polls=1,
        interval_seconds=300,
        consecutive_failures=0,
        last_error=None,
        healthy=True,
        unhealthy_reason=None,
        success=feed_state.PollSuccess(
            at=now, last_new_item_at=now, etag='"v1"', last_modified=None, body_hash="ab12"
        ),
    )
    with session_scope(engine) as session:
        assert feed_state.release(session, feed.id, "a", record)
    with session_scope(engine) as session:
        row = session.get(Feed, feed.id)
        assert row is not None
        assert (row.etag, row.last_modified, row.body_hash) == ('"v1"', None, "ab12")
        assert (row.last_success_at, row.initial_poll_done, row.retired) == (now, True, False)
    engine.dispose()


# --- SIGTERM ---------------------------------------------------------------------------------


def _pantau(*args: str) -> list[str]:
    # Only the run command is imported, so this test does not depend on other CLI modules.
    code = "import monitor.cli.run; from monitor.cli import app; app()"
    return [sys.executable, "-c", code, *args]


@pytest.mark.slow
def test_sigterm_exits_0_within_the_grace_period_and_a_restart_stores_no_duplicates(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    corpus = seeds()
    docs = sorted(corpus.docs, key=lambda d: d.published)
    fast = FeedSite(
        loopback, Corpus(corpus.site_name, corpus.base_url, tuple(docs[:2])), path="/fast.xml"
    )
    slow = FeedSite(
        loopback,
        Corpus(corpus.site_name, corpus.base_url, tuple(docs[2:4])),
        path="/slow.xml",
        delay=6.0,
    )
    fast.publish(2)
    slow.publish(2)
    feeds_file = tmp_path / "feeds.toml"
    write_feeds_file(feeds_file, [fast.url, slow.url])
    db = tmp_path / "pantau.db"
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "sqlite:///{db}"\n'
        "[schedule]\nmin_interval = 60.0\nmax_interval = 120.0\ndefault_interval = 60.0\n"
        "jitter = 0.0\ntick = 0.1\ngrace_period = 1.0\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    proc = subprocess.Popen(
        _pantau("run", "--config", str(config), "--allow-private"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        engine = make_engine(f"sqlite:///{db}")

        def polled() -> bool:
            if not (slow.feed_requests() and db.exists()):
                return False
            create_schema(engine)
            return count(engine, SeenEntry) >= 2

        wait_while_running(proc, polled, "the daemon polled both feeds")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=1.0 + 10)  # grace period plus interpreter exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert "cancelled 1 poll(s)" in log
    assert count(engine, ArticleRow) == 2  # the slow feed's poll was cut off

    fast_requests = len(fast.feed_requests())
    slow.delay = 0.0
    settings = load_settings(config, env={})
    report = asyncio.run(
        run_daemon(settings, once=True, allow_private=True, env={}, handle_signals=False)
    )
    assert report.polls == 1  # only the feed whose poll was cut off is due
    assert len(fast.feed_requests()) == fast_requests  # not due yet: no burst after restart
    assert count(engine, SeenEntry) == 4
    assert count(engine, ArticleRow) == 4
    with session_scope(engine) as session:
        urls = session.exec(select(ArticleRow.canonical_url)).all()
    assert len(set(urls)) == len(urls)
    engine.dispose()
