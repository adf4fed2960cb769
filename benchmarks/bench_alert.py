"""Item 8: time to alert -- publication on a loopback site to the webhook recorder receiving it.

The real daemon (``run_daemon``, scheduler ticking every second, outbox delivered every
second) watches ``L`` live feeds of ``benchmarks.loopsite``, each polled every 30 s (jitter off,
polls spread evenly over the interval). A webhook channel posts alerts to the site's recorder.
During the publication window, matching corpus articles (checked against the default rule
beforehand) are published at random moments on random live feeds. For each one the site
records the publication time, the first feed request that carried it (the poll that picked it
up), and when the alert arrived, all on the site's clock.

* end to end = alert received - published: waiting for the next poll (0..interval) plus the
  processing; its p95 is measured on the samples and bounded by interval + processing;
* processing = alert received - picked up by a poll (feed parse, article fetch, extraction,
  match, store, outbox delivery): the part Pantau controls, target p95 <= 2 s.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Mode, Result, Target, median, percentile
from benchmarks.corpus import article_text
from benchmarks.daemonkit import (
    daemon_settings,
    get,
    get_json,
    known_feed,
    loop_site,
    write_feeds_file,
)
from benchmarks.harness import default_matcher, default_rules, sqlite_engine
from monitor.daemon.service import run_daemon
from storage.engine import session_scope

ITEM = "8 time to alert"
# live feeds, poll interval (s), publication window (s), publications
PLAN = {"full": (10, 30.0, 45.0, 20), "quick": (10, 30.0, 30.0, 12), "tiny": (2, 2.0, 3.0, 2)}
PROCESSING_TARGET = 2.0
FIRST_INDEX = 200_000
_INDEX = re.compile(r"/(\d{6,})(?:/|$)")


def alerting_articles(count: int) -> list[int]:
    """Corpus article indices whose text makes the default rule fire."""
    matcher = default_matcher()
    rules = default_rules()
    found: list[int] = []
    index = FIRST_INDEX
    while len(found) < count and index < FIRST_INDEX + 50 * count + 100:
        text = article_text(index)
        if text.topical:
            match = matcher.match(text.title, text.body, text.published)
            if any(r.matches(match, "kabarnusantara.example") for r in rules):
                found.append(index)
        index += 1
    return found


async def _publish_and_wait(
    base: str,
    articles: list[int],
    feeds: int,
    interval: float,
    window: float,
    stop: asyncio.Event,
    daemon: asyncio.Task[Any],
) -> None:
    rng = random.Random(8)
    await asyncio.sleep(min(2.0, interval))  # the daemon starts and takes its first ticks
    start = time.monotonic()
    moments = sorted(rng.uniform(0, window) for _ in articles)
    for moment, index in zip(moments, articles, strict=True):
        await asyncio.sleep(max(0.0, start + moment - time.monotonic()))
        await asyncio.to_thread(get, f"{base}/publish/{rng.randrange(feeds)}/{index}")
    deadline = time.monotonic() + interval + 15
    while time.monotonic() < deadline and not daemon.done():
        log = await asyncio.to_thread(get_json, f"{base}/log")
        if len(log["hooks"]) >= len(articles):
            break
        await asyncio.sleep(0.5)
    stop.set()


async def _session(settings: Any, base: str, articles: list[int], plan: tuple[Any, ...]) -> None:
    feeds, interval, window, _ = plan
    stop = asyncio.Event()
    daemon = asyncio.create_task(
        run_daemon(settings, stop=stop, allow_private=True, env={}, handle_signals=False)
    )
    try:
        await _publish_and_wait(base, articles, feeds, interval, window, stop, daemon)
    finally:
        stop.set()
        await daemon


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    plan = PLAN[mode]
    feeds, interval, window, count = plan
    articles = alerting_articles(count)
    with (
        tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp_name,
        loop_site(lifetime=window + interval + 120) as base,
    ):
        tmp = Path(tmp_name)
        urls = [f"{base}/live/{i}.xml" for i in range(feeds)]
        engine = sqlite_engine(tmp / "pantau.db")
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            session.add_all(
                known_feed(
                    u,
                    f"Live {i}",
                    interval_seconds=round(interval),
                    next_poll_at=now + timedelta(seconds=i * interval / feeds),
                )
                for i, u in enumerate(urls)
            )
        engine.dispose()
        schedule = {
            "default_interval": interval,
            "min_interval": interval,
            "max_interval": interval,
            "jitter": 0.0,
            "tick": 1.0,
            "per_host_concurrency": 16,
            "per_host_delay": 0.0,
        }
        channel = {"type": "webhook", "url": f"{base}/hook", "rate_limit": 10_000}
        settings = daemon_settings(
            tmp, write_feeds_file(tmp / "feeds.toml", urls), schedule, channel
        )
        asyncio.run(_session(settings, base, articles, plan))
        log = get_json(f"{base}/log")
    return _result(log, articles, plan, time.perf_counter() - started)


def _result(
    log: dict[str, Any], articles: list[int], plan: tuple[Any, ...], seconds: float
) -> Result:
    _, interval, _, _ = plan
    received: dict[str, float] = {}
    for hook in log["hooks"]:
        m = _INDEX.search(hook.get("url") or "")
        if m and hook.get("type") == "alert":
            received.setdefault(m.group(1), hook["at"])
    end_to_end, processing = [], []
    for index in map(str, articles):
        if index in received:
            end_to_end.append(received[index] - log["published"][index])
            processing.append(received[index] - log["picked_up"][index])
    figures = [
        Figure(
            ITEM, "alerts received / articles published", len(end_to_end), f"of {len(articles)}"
        ),
    ]
    if end_to_end:
        figures += [
            Figure(ITEM, f"end to end p50 ({interval:g} s poll interval)", median(end_to_end), "s"),
            Figure(
                ITEM,
                f"end to end p95 ({interval:g} s poll interval)",
                percentile(end_to_end, 95),
                "s",
                Target("<=", interval + PROCESSING_TARGET),
            ),
            Figure(
                ITEM,
                "processing (poll picks it up -> webhook receives) p50",
                median(processing),
                "s",
            ),
            Figure(
                ITEM,
                "processing p95",
                percentile(processing, 95),
                "s",
                Target("<=", PROCESSING_TARGET),
            ),
        ]
    details = {
        "plan": dict(
            zip(("live_feeds", "interval_s", "window_s", "publications"), plan, strict=True)
        ),
        "end_to_end_s": sorted(round(x, 3) for x in end_to_end),
        "processing_s": sorted(round(x, 3) for x in processing),
        "site_requests": log.get("requests"),
    }
    return Result("alert", figures, details, seconds)
