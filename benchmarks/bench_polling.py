"""Item 3: one full poll cycle over 1,000 feeds on a loopback server, 90 % answering 304.

The real daemon (``monitor.daemon.service.run_daemon(once=True)``: claim due feeds, poll under the
global cap and the host limiter, parse, process new entries through the pipeline, deliver the
outbox) polls 1,000 feeds of ``benchmarks.loopsite`` (a separate process, so its CPU is not
counted). The database holds the feeds as a running daemon leaves them: ETags stored, first
poll done. 900 feeds answer 304; 100 changed, each with one new item -- a corpus article that
is fetched, extracted, matched and stored (alerts go to a console channel in memory). The
per-host cap is lifted (every feed is on 127.0.0.1); the global cap stays at its default.

Wall time covers the whole ``run_daemon`` call including its start-up. The cycle's CPU target
(<= 5 CPU-seconds) counts this process and the daemon's worker processes (feed parsing,
extraction and matching run there) as they report it (``DaemonReport.worker_cpu_seconds``); the
loopback site's CPU is not counted.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from benchmarks.common import Figure, Mode, Result, Target, median, rounds_for
from benchmarks.daemonkit import daemon_settings, known_feed, loop_site, seen, write_feeds_file
from benchmarks.harness import sqlite_engine
from benchmarks.loopsite import CHANGED_EVERY, changed_page
from monitor.daemon.service import run_daemon
from storage.engine import session_scope
from storage.tables import Feed

ITEM = "3 polling"
FEEDS = {"full": 1000, "quick": 1000, "tiny": 20}
TARGET_WALL = 10.0
TARGET_CPU = 5.0


def _prepare(tmp: Path, base: str, n: int) -> tuple[Path, Any]:
    urls = [f"{base}/feed/{i}.xml" for i in range(n)]
    feeds_file = write_feeds_file(tmp / "feeds.toml", urls)
    engine = sqlite_engine(tmp / "pantau.db")
    with session_scope(engine) as session:
        rows = [
            known_feed(
                u,
                f"Feed {i}",
                etag=f'"s{i}"' if i % CHANGED_EVERY else f'"c{i}-0"',
                interval_seconds=900,
            )
            for i, u in enumerate(urls)
        ]
        session.add_all(rows)
        session.flush()
        for i, row in enumerate(rows):
            if i % CHANGED_EVERY == 0:
                assert row.id is not None
                session.add_all(seen(row.id, [f"feed{i}-item{j}" for j in range(-4, 1)]))
    return feeds_file, engine


def _make_due(engine: Any) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Feed).values(
                next_poll_at=datetime.now(UTC) - timedelta(seconds=1),
                lease_owner=None,
                lease_expires_at=None,
            )
        )


def _cycle(settings: Any) -> tuple[float, float, float, Counter[str]]:
    wall, cpu = time.perf_counter(), time.process_time()
    report = asyncio.run(
        run_daemon(
            settings,
            once=True,
            allow_private=True,
            env={},
            alert_stream=io.StringIO(),
            handle_signals=False,
        )
    )
    return (
        time.perf_counter() - wall,
        time.process_time() - cpu,
        report.worker_cpu_seconds,
        report.by_status,
    )


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    n = FEEDS[mode]
    rounds = rounds_for(mode, 3, 2)
    prerender = [
        changed_page(i, k) for i in range(0, n, CHANGED_EVERY) for k in range(1, rounds + 1)
    ]
    samples: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp_name,
        loop_site(prerender, lifetime=600) as base,
    ):
        tmp = Path(tmp_name)
        feeds_file, engine = _prepare(tmp, base, n)
        schedule = {
            "per_host_concurrency": n,
            "per_host_delay": 0.0,
            "default_interval": 900.0,
            "min_interval": 60.0,
            "tick": 1.0,
        }
        settings = daemon_settings(tmp, feeds_file, schedule, {"type": "console"})
        for _ in range(rounds):
            _make_due(engine)
            wall, cpu, workers_cpu, statuses = _cycle(settings)
            samples.append(
                {
                    "wall_s": wall,
                    "cpu_s": cpu,
                    "workers_cpu_s": workers_cpu,
                    "statuses": dict(statuses),
                }
            )
        engine.dispose()
    wall = median([s["wall_s"] for s in samples])
    cpu = median([s["cpu_s"] for s in samples])
    total_cpu = median([s["cpu_s"] + s["workers_cpu_s"] for s in samples])
    figures = [
        Figure(
            ITEM, f"full cycle, {n:,} feeds (90 % 304), wall", wall, "s", Target("<=", TARGET_WALL)
        ),
        Figure(
            ITEM,
            "full cycle, CPU (daemon + its worker processes)",
            total_cpu,
            "CPU s",
            Target("<=", TARGET_CPU),
        ),
        Figure(ITEM, "full cycle, CPU of the daemon process alone", cpu, "CPU s"),
    ]
    details = {
        "feeds": n,
        "changed_per_cycle": len(range(0, n, CHANGED_EVERY)),
        "rounds": samples,
        "schedule": schedule,
    }
    return Result("polling", figures, details, time.perf_counter() - started)
