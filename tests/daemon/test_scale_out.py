"""Scale-out: three ``pantau run`` workers share one PostgreSQL database and 300 feeds.

The feeds list the same articles several times over (and some syndicated copies under other
URLs), so workers race to store the same article and the same story. One worker is killed with
SIGKILL while it holds feed leases. What an operator must see: every article stored once, every
story alerted once on the webhook, and the dead worker's feeds polled by the others once its
leases ran out.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import or_, text
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from monitor.alert.outbox import Outbox
from monitor.daemon.runtime import build_channels, delivery_policies
from monitor.dedup.index import DEFAULT_THRESHOLD, signature
from monitor.dedup.urls import canonicalize_url
from storage.engine import make_engine, session_scope
from storage.errors import StorageError
from storage.tables import AlertRow, ArticleRow, Feed, SeenEntry, Story
from tests.alert.test_outbox import _outbox_settings, _store_alerts
from tests.factories import write_feeds_file
from tests.fakenews import FakeArticle, fake_articles
from tests.loopback import LoopbackServer, Request, Response

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
FEEDS = 300
ORIGINALS = 90
COPIES = 30  # syndicated copies of the first COPIES originals, on another path
PER_FEED = 3
LEASE = 10.0  # seconds the dead worker's feeds wait (the others take about as long anyway)
DEADLINE = 75.0


@dataclass(frozen=True)
class Item:
    path: str
    article: FakeArticle
    original: int  # index of the original this item carries (itself for an original)


def _items() -> list[Item]:
    originals = fake_articles(ORIGINALS, seed=7)
    items = [Item(f"/berita/{a.slug}", a, i) for i, a in enumerate(originals)]
    for i, a in enumerate(originals[:COPIES]):
        # Another portal's headline; every other copy also drops the last paragraph.
        paragraphs = a.paragraphs if i % 2 else a.paragraphs[:-1]
        copy = FakeArticle(f"{a.slug}-salinan", f"Salinan: {a.title}", paragraphs, a.actors)
        items.append(Item(f"/sindikasi/{copy.slug}", copy, i))
    return items


def _rss(links: list[str]) -> bytes:
    parts = "".join(
        f"<item><title>Berita {i}</title><link>{html.escape(u)}</link>"
        f'<guid isPermaLink="false">{html.escape(u)}</guid>'
        "<pubDate>Mon, 10 Nov 2025 08:00:00 +0700</pubDate></item>"
        for i, u in enumerate(links)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Uji</title>'
        f"<link>http://example.invalid/</link>{parts}</channel></rss>"
    ).encode()


def _feed_items(feed: int, items: list[Item]) -> list[Item]:
    # Each item is listed by ~7 feeds; an original and its copy never share a feed.
    step = len(items) // PER_FEED
    return [items[(feed + k * step) % len(items)] for k in range(PER_FEED)]


class Recorder:
    """The webhook receiver: refuses (503) until opened, then records each POSTed alert."""

    def __init__(self) -> None:
        self.open = False
        self.payloads: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if not self.open:
            return Response(503, b"receiver not ready")
        payload = json.loads(request.body)
        with self._lock:
            self.payloads.append(payload)
        return Response(200, b"ok")

    def story_ids(self) -> Counter[int]:
        with self._lock:
            payloads = list(self.payloads)
        alerts = [p for p in payloads if p["type"] == "alert"]
        alerts += [i for p in payloads if p["type"] == "digest" for i in p["items"]]
        return Counter(int(a["story_id"]) for a in alerts)


def _config(tmp_path: Path, db_url: str, feed_urls: list[str], hook_url: str) -> Path:
    feeds_file = tmp_path / "feeds.toml"
    write_feeds_file(feeds_file, feed_urls)
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "{db_url}"\n'
        "[fetch]\ntotal_timeout = 10.0\n"
        # min_interval keeps every feed polled once, except the dead worker's.
        "[schedule]\ndefault_interval = 120.0\nmin_interval = 120.0\nmax_interval = 240.0\n"
        "jitter = 0.0\ntick = 0.2\ngrace_period = 2.0\nper_host_concurrency = 16\n"
        f"per_host_delay = 0.0\nalert_on_first_poll = true\nlease = {LEASE}\n"
        # The generated stories are templated text: the topics.toml rules, not the relevance
        # model trained on real articles, say which of them alert (every one of them does).
        '[matching]\nrelevance_model = "rules"\n'
        "[alerts]\nretry_base = 0.2\nretry_max = 0.5\n"
        '[[alerts.rules]]\nname = "default"\nchannels = ["hook"]\n'
        f'[[alerts.channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook_url}"\n'
        "rate_limit = 100000\n",
        encoding="utf-8",
    )
    return config


class Workers:
    """``pantau run`` subprocesses sharing one configuration; each logs to its own file (a pipe
    could fill up and block it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, config: Path, count: int) -> list[subprocess.Popen[bytes]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
        code = "import monitor.cli.run; from monitor.cli import app; app()"
        command = [sys.executable, "-c", code, "run", "--config", str(config), "--allow-private"]
        for i in range(count):
            with (self.directory / f"worker{i}.log").open("wb") as log:
                self.procs.append(
                    subprocess.Popen(
                        command,
                        cwd=ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
        return self.procs

    def trouble(self) -> str:
        """The workers' warnings and errors, for a failure message."""
        out = []
        for log in sorted(self.directory.glob("worker*.log")):
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            out += [f"{log.stem}: {line}" for line in lines if " INFO " not in line][-15:]
        return "\n".join(out)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            for proc in self.procs:
                if proc.returncode is None and proc.poll() is not None:
                    pytest.fail(f"a worker exited ({proc.returncode}):\n{self.trouble()}")
            if time.monotonic() > deadline:
                pytest.fail(f"not reached in time: {what}\n{self.trouble()}")
            time.sleep(0.2)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    running = Workers(tmp_path)
    try:
        yield running
    finally:
        running.kill_all()


def _scalar(engine: Engine, query: Any) -> Any:
    with session_scope(engine) as session:
        return session.exec(query).one()


def _leases_of(engine: Engine, pid: int) -> list[Feed]:
    with session_scope(engine) as session:
        return list(
            session.exec(select(Feed).where(col(Feed.lease_owner).like(f"%:{pid}:%"))).all()
        )


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def test_two_workers_delivering_the_outbox_at_once_send_each_alert_once(
    loopback: LoopbackServer, postgres_url: str
) -> None:
    _store_alerts(postgres_url, 12, ["hook"])
    loopback.route("/hook", Response(200, b"ok", delay=0.02))  # deliveries overlap in time
    settings = _outbox_settings(
        postgres_url,
        [{"name": "hook", "type": "webhook", "url": loopback.url("/hook"), "rate_limit": 100}],
        ["hook"],
    )
    engines = [make_engine(postgres_url) for _ in range(2)]
    outboxes = [
        Outbox(
            e, build_channels(settings.alerts.channels, {}), policies=delivery_policies(settings)
        )
        for e in engines
    ]
    for _ in range(3):
        await asyncio.gather(*(o.deliver_due() for o in outboxes))
    titles = Counter(json.loads(r.body)["title"] for r in loopback.requests_for("/hook"))
    assert len(titles) == 12 and set(titles.values()) == {1}
    for e in engines:
        e.dispose()


def test_generated_articles_are_distinct_stories_and_copies_are_near_duplicates() -> None:
    items = _items()
    sigs = [signature("\n\n".join(i.article.paragraphs)) for i in items]
    originals = sigs[:ORIGINALS]
    worst = max(a.jaccard(b) for k, a in enumerate(originals) for b in originals[k + 1 :])
    assert worst < DEFAULT_THRESHOLD - 0.15  # templated sentences share a few shingles
    for item, sig in zip(items[ORIGINALS:], sigs[ORIGINALS:], strict=True):
        assert sig.jaccard(sigs[item.original]) >= DEFAULT_THRESHOLD + 0.15


@pytest.mark.slow
def test_three_workers_store_each_article_once_alert_each_story_once_and_survive_a_kill(
    tmp_path: Path,
    loopback: LoopbackServer,
    postgres_url: str,
    workers: Workers,
) -> None:
    items = _items()
    for item in items:
        body = item.article.html().encode("utf-8")
        loopback.route(item.path, Response(200, body, {"content-type": "text/html"}))
    feed_paths = [f"/feed/{f}.xml" for f in range(FEEDS)]
    for f, path in enumerate(feed_paths):
        links = [loopback.url(i.path) for i in _feed_items(f, items)]
        loopback.route(path, Response(200, _rss(links), {"content-type": "application/rss+xml"}))
    recorder = Recorder()
    loopback.route("/hook", recorder)
    config = _config(
        tmp_path, postgres_url, [loopback.url(p) for p in feed_paths], loopback.url("/hook")
    )
    engine = make_engine(postgres_url)
    with engine.connect() as conn:  # a throwaway database: no need to wait for each fsync
        conn.execute(text(f"ALTER DATABASE {engine.url.database} SET synchronous_commit = off"))
        conn.commit()
    procs = workers.start(config, WORKERS)
    victim, survivors = procs[0], procs[1:]

    def victim_holds_leases() -> bool:
        try:
            return len(_leases_of(engine, victim.pid)) >= 3
        except StorageError:  # the workers have not created the schema yet
            return False

    workers.wait_for(victim_holds_leases, "the victim claims feeds")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    killed_at, killed_wall = time.monotonic(), datetime.now(UTC)
    orphaned = _leases_of(engine, victim.pid)  # frozen now: nobody renews them
    assert orphaned, "the victim held no lease when it died"
    dead_owner = orphaned[0].lease_owner
    recorder.open = True  # nothing reached the receiver while the victim lived

    def all_done() -> bool:
        seen = _scalar(engine, select(func.count()).select_from(SeenEntry))
        unsent = _scalar(
            engine, select(func.count()).select_from(AlertRow).where(AlertRow.status != "sent")
        )
        not_repolled = _scalar(
            engine,
            select(func.count())
            .select_from(Feed)
            .where(
                col(Feed.id).in_([f.id for f in orphaned]),
                or_(col(Feed.last_polled_at).is_(None), col(Feed.last_polled_at) < killed_wall),
            ),
        )
        return bool(seen == FEEDS * PER_FEED and unsent == 0 and not_repolled == 0)

    workers.wait_for(all_done, "every entry processed, every alert sent, orphans re-polled")
    time.sleep(1.0)  # room for a late duplicate delivery to show up
    for proc in survivors:
        proc.send_signal(signal.SIGTERM)
    for proc in survivors:
        assert proc.wait(timeout=15) == 0, workers.trouble()

    with session_scope(engine) as session:
        articles = list(session.exec(select(ArticleRow)).all())
        stories = list(session.exec(select(Story)).all())
        alerts = list(session.exec(select(AlertRow)).all())
        feeds = {f.id: f for f in session.exec(select(Feed)).all()}
    engine.dispose()

    # Every article once: one row per distinct URL served.
    urls = Counter(a.canonical_url for a in articles)
    assert set(urls) == {canonicalize_url(loopback.url(i.path)) for i in items}
    assert max(urls.values()) == 1
    # One story per original; each copy joined its original's story.
    story_of = {a.canonical_url: a.story_id for a in articles}
    by_original: dict[int, set[int | None]] = {}
    for item in items:
        by_original.setdefault(item.original, set()).add(
            story_of[canonicalize_url(loopback.url(item.path))]
        )
    assert all(len(s) == 1 for s in by_original.values()), by_original
    assert len(stories) == ORIGINALS
    copies = Counter(a.story_id for a in articles if a.duplicate_kind in ("exact", "near"))
    assert copies == Counter(
        story_of[canonicalize_url(loopback.url(i.path))] for i in items[ORIGINALS:]
    )
    # One alert per story on the channel, delivered once.
    assert Counter(a.story_id for a in alerts) == {s.id: 1 for s in stories}
    assert {(a.channel, a.kind, a.status) for a in alerts} == {("hook", "alert", "sent")}
    assert recorder.story_ids() == {s.id: 1 for s in stories}
    # The dead worker's feeds were polled again, by another worker, after its leases ran out.
    for feed in orphaned:
        now = feeds[feed.id]
        assert now.lease_owner != dead_owner
        assert now.last_polled_at is not None and now.last_polled_at >= killed_wall
        path = feed.url.removeprefix(loopback.url(""))
        after = [r.at for r in loopback.requests_for(path) if r.at > killed_at]
        assert after, f"{feed.url} was not polled after the kill"
        assert feed.lease_expires_at is not None
        lease_left = (_aware(feed.lease_expires_at) - killed_wall).total_seconds()
        assert min(after) - killed_at >= lease_left - 0.5  # not before its lease ran out
