"""A hostile feed and a hostile page in a running daemon's feed list (issue 21, breaks 1, 2, 8).

The feed is 4.5 MB of unclosed ``<div>`` tags after two valid items: feedparser's loose parser
holds the GIL for tens of seconds on it (measured: 2 s per 320 KB, growing with the size). The
page is 4.5 MB of distinct paragraphs dense with roles and actor names. Both are real work, not
simulated: the feed's parsing runs in a worker process under ``schedule.parse_timeout`` and the
page's analysis under ``schedule.extract_timeout``; each budget is a small fraction of what the
work needs. Meanwhile ``/healthz`` keeps answering, the other feeds keep being polled and their
articles stored, and both hostile items end on the record: the feed's poll fails with the
reason (its back-off follows), the page is recorded as a skipped entry after its attempts.

SIGTERM while a feed is being parsed: the parse is in a process the daemon kills, so it exits
within its grace period (a parse in a thread kept the daemon running for its whole length).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from monitor import events
from monitor.daemon.service import run_daemon
from storage.engine import make_engine, session_scope
from storage.tables import ArticleRow, Feed
from tests import factories
from tests.factories import await_until, wait_while_running, write_feeds_file
from tests.fakenews import fake_article
from tests.loopback import LoopbackServer, Response
from tests.pollharness import rss, serve_article
from tests.web.test_sse_daemon import free_port, wait_until_serving

pytestmark = pytest.mark.slow

HEALTHZ_LIMIT = 1.0  # the acceptance bound: a liveness check, generous by design
NORMAL_FEEDS = 3
PER_FEED = 2
RSS = {"content-type": "application/rss+xml"}
HTML = {"content-type": "text/html; charset=utf-8"}
PANTAU_RUN = ("run", "--allow-private", "--config")


def hostile_feed(size: int = 4_500_000) -> bytes:
    head = rss([("Berita satu", "http://127.0.0.1/a"), ("Berita dua", "http://127.0.0.1/b")])
    head = head.replace(b"</channel></rss>", b"")
    return head + b"<div>" * ((size - len(head)) // 5) + b"</channel></rss>"


def hostile_page(size: int = 4_500_000) -> bytes:
    para = (
        "<p>Sekjen NATO Mark Rutte bertemu Presiden AS Donald Trump, Menlu Rusia Sergei Lavrov "
        "dan Presiden Ukraina Volodymyr Zelensky di Brussel pada pertemuan ke-{i} sesi {j} "
        "untuk membahas perang Ukraina dan sanksi terhadap Rusia.</p>\n"
    )
    parts = ["<html><head><title>KTT NATO</title></head><body><article><h1>KTT NATO</h1>"]
    total, i = 0, 0
    while total < size:
        parts.append(para.format(i=i, j=i * 7 % 13))
        total += len(parts[-1])
        i += 1
    parts.append("</article></body></html>")
    return "".join(parts).encode()


class HealthProber(threading.Thread):
    """Asks /healthz every 50 ms from its own thread (the daemon's loop is the test's), and
    keeps the slowest answer; a failed or missing answer counts as infinitely slow."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.slowest = 0.0
        self.answers = 0
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=HEALTHZ_LIMIT * 5) as client:
            while not self.stop.is_set():
                start = time.monotonic()
                try:
                    response = client.get(self.base + "/healthz")
                    if response.status_code != 200:
                        self.failures.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.slowest = max(self.slowest, time.monotonic() - start)
                self.answers += 1
                self.stop.wait(0.05)


def _serve_normal_feeds(loopback: LoopbackServer) -> tuple[list[str], list[str]]:
    feeds, pages = [], []
    for k in range(NORMAL_FEEDS):
        links = [
            serve_article(loopback, f"/artikel/{k}-{j}", fake_article(k * 10 + j))
            for j in range(PER_FEED)
        ]
        loopback.route(
            f"/normal-{k}.xml", Response(body=rss([("Berita", u) for u in links]), headers=RSS)
        )
        feeds.append(loopback.url(f"/normal-{k}.xml"))
        pages += links
    return feeds, pages


async def test_hostile_feed_and_page_end_as_recorded_skips_while_healthz_and_other_feeds_carry_on(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    normal_feeds, normal_pages = _serve_normal_feeds(loopback)
    loopback.route("/hostile.xml", Response(body=hostile_feed(), headers=RSS))
    loopback.route("/hostile-page", Response(body=hostile_page(), headers=HTML))
    mixed_link = serve_article(loopback, "/artikel/mixed", fake_article(77))
    hostile_link = loopback.url("/hostile-page")
    loopback.route(
        "/mixed.xml",
        Response(body=rss([("Berita", mixed_link), ("KTT NATO", hostile_link)]), headers=RSS),
    )
    hostile_feed_url = loopback.url("/hostile.xml")
    write_feeds_file(
        tmp_path / "feeds.toml", [hostile_feed_url, loopback.url("/mixed.xml"), *normal_feeds]
    )
    port = free_port()
    schedule = {
        "tick": 0.1,
        "min_interval": 0.3,
        "default_interval": 0.3,
        "max_interval": 0.5,
        "jitter": 0.0,
        "per_host_delay": 0.0,
        "per_host_concurrency": 8,
        "extract_workers": 2,
        "extract_timeout": 0.5,  # a fake article takes ~20 ms; the hostile page seconds
        "extract_attempts": 2,
        "parse_timeout": 1.0,  # the hostile feed needs tens of seconds
        "grace_period": 1.0,
    }
    settings = factories.daemon_settings(
        tmp_path, schedule=schedule, status={"enabled": True, "port": port}
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'pantau.db'}")
    base = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_daemon(settings, stop=stop, allow_private=True, env={}, handle_signals=False)
    )
    prober = HealthProber(base)

    def feed(url: str) -> Feed | None:
        with session_scope(engine) as session:
            return session.exec(select(Feed).where(Feed.url == url)).first()

    def skipped() -> list[str]:
        with session_scope(engine) as session:
            return [str(e.data["url"]) for e in events.skipped_entries(session, limit=10)]

    def stored() -> set[str]:
        with session_scope(engine) as session:
            return set(session.exec(select(ArticleRow.url)).all())

    try:
        await wait_until_serving(base, task)
        prober.start()
        await await_until(lambda: hostile_link in skipped(), "the hostile page skipped", timeout=90)
        await await_until(
            lambda: (
                (f := feed(hostile_feed_url)) is not None
                and "feed parsing stopped" in (f.last_error or "")
            ),
            "the hostile feed's poll failed with its reason",
            timeout=60,
        )
        polls_then = {u: feed(u).polls for u in normal_feeds}  # type: ignore[union-attr]
        await await_until(
            lambda: all(feed(u).polls > polls_then[u] + 2 for u in normal_feeds),  # type: ignore[union-attr]
            "the normal feeds polled again, several times",
            timeout=30,
        )
        assert set(normal_pages) | {mixed_link} <= stored()
        assert hostile_link not in stored()
    finally:
        prober.stop.set()
        stop.set()
        await asyncio.wait_for(task, 30)
        prober.join(10)
        engine.dispose()
    assert not prober.failures, prober.failures[:3]
    assert prober.answers > 20
    assert prober.slowest < HEALTHZ_LIMIT, f"/healthz took {prober.slowest:.2f} s"


def test_sigterm_stops_the_daemon_while_a_feed_is_being_parsed(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    loopback.route("/hostile.xml", Response(body=hostile_feed(), headers=RSS))
    feeds_file = tmp_path / "feeds.toml"
    write_feeds_file(feeds_file, [loopback.url("/hostile.xml")])
    config = tmp_path / "pantau.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\nfeeds_file = "{feeds_file}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "pantau.db"}"\n'
        "[schedule]\njitter = 0.0\ntick = 0.1\ngrace_period = 1.0\nparse_timeout = 600.0\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANTAU_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from monitor.cli import main; main()", *PANTAU_RUN, str(config)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_while_running(
            proc, lambda: bool(loopback.requests_for("/hostile.xml")), "the feed was fetched"
        )
        # The 4.5 MB body takes tens of seconds to parse; it has just been fetched.
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=1.0 + 10)  # grace period plus interpreter exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.decode()
