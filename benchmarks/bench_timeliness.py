"""Item 9: publish-to-alert time over a realistic day, learned cadence against fixed intervals.

Real publication times of Indonesian outlets (``benchmarks/data/publication_times.json`` when
present, else the dated saved feeds of ``../shared/corpus/feeds/indonesian``) are replayed by a
loopback feed server on a simulated clock: at simulated time ``t`` each outlet's feed lists its
newest 20 items published by ``t`` (with ETag, so an unchanged feed answers 304). The real
:class:`monitor.daemon.poller.Poller` polls it -- real HTTP on 127.0.0.1, real feed parsing, real
SQLite through the storage gate, the schedule the daemon would choose -- with its clock set to
the simulated time; feeds are claimed when due exactly as the daemon claims them. Only the
article stage is replaced by a recorder (it marks entries seen and notes when each was found):
what is measured is the schedule, and the processing time from a poll to the webhook is added
as ``PROCESSING`` seconds, the p95 that benchmark 8 measures end to end (1.2 s; 2 s allowed).

Each outlet is simulated over its own day (:meth:`Outlet.window`): for an outlet with a week of
timestamps, a whole WIB calendar day from the middle of it (Thursday; the learned cadence's
defaults were chosen on the Wednesday before, never on the day reported), after a day of
warm-up; else its last 24 hours after up to 6 hours of warm-up. Items of the warm-up only teach
the schedule. Figures, side by side for the learned cadence on default settings and fixed 60,
120 and 300 s intervals: publish-to-alert p50 and p95 over the items of outlets that publish at
least hourly, and requests per feed per day (requests over simulated hours, times 24).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import html
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Mode, Result, Target, median
from monitor.config import Settings, load_settings
from monitor.daemon.pipeline import ArticleOutcome
from monitor.daemon.poller import Poller
from monitor.daemon.runtime import fetch_policy, open_engine
from monitor.fetch import Fetcher, HostLimiter
from monitor.models import FeedEntry
from storage import feed_state, repo
from storage.engine import Transaction
from storage.gate import StorageGate
from storage.tables import Feed

ITEM = "9 time to alert (simulated day)"
DATA = Path(__file__).resolve().parent / "data" / "publication_times.json"
SHARED_FEEDS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds" / "indonesian"
PROCESSING = 2.0
DAY = 24 * 3600.0
WIB_OFFSET = 7 * 3600.0
WARM_UP = 6 * 3600.0
FEED_ITEMS = 20
HOURLY = 1.0  # items per hour from which an outlet counts as publishing at least hourly
ARMS = ("learned", "fixed 60 s", "fixed 120 s", "fixed 300 s")
OWNER = "bench-timeliness"


@dataclass(frozen=True)
class Outlet:
    name: str
    times: tuple[float, ...]  # POSIX seconds, ascending

    @property
    def per_hour(self) -> float:
        """Items per hour over the simulated day."""
        _, start, end = self.window()
        count = sum(1 for t in self.times if start <= t < end)
        return count / max((end - start) / 3600.0, 0.5)

    def window(self) -> tuple[float, float, float]:
        """(warm-up start, start, end): items before ``start`` only teach the schedule.

        An outlet covering several days: a whole WIB calendar day from its middle, after a day
        of warm-up (a running daemon knows yesterday). A shorter one: its last 24 hours, after
        up to 6 hours of warm-up."""
        first, last = self.times[0], self.times[-1]
        if last - first >= 3 * DAY:
            middle = first + (last - first) / 2
            start = middle - (middle + WIB_OFFSET) % DAY  # WIB midnight
            return start - DAY, start, start + DAY
        end = last + 60.0
        start = max(first + 1.0, end - DAY)
        return max(first - 1.0, start - WARM_UP), start, end


def load_outlets() -> list[Outlet]:
    if DATA.is_file():
        doc = json.loads(DATA.read_text(encoding="utf-8"))
        out = []
        for o in doc["outlets"]:
            times = sorted({datetime.fromisoformat(t).timestamp() for t in o["timestamps"]})
            if len(times) >= 10:
                out.append(Outlet(o["name"], tuple(times)))
        return out
    from monitor.parse import parse_feed

    outlets = []
    for path in sorted(SHARED_FEEDS.glob("*.xml")):
        parsed = parse_feed(path.read_bytes(), url=f"http://x/{path.name}")
        times = sorted({e.published.timestamp() for e in parsed.entries if e.published})
        if len(times) >= 10:
            outlets.append(Outlet(path.stem, tuple(times)))
    return outlets


# --- the feed site on a simulated clock ---------------------------------------------------------


@dataclass
class SimSite:
    """Feeds whose content is what each outlet had published by the simulated ``now``."""

    outlets: dict[str, Outlet]
    now: float = 0.0
    requests: dict[str, list[float]] = field(default_factory=dict)  # simulated request times
    lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, name: str) -> tuple[str, bytes]:
        with self.lock:
            now = self.now
            self.requests.setdefault(name, []).append(now)
        times = self.outlets[name].times
        visible = [i for i, t in enumerate(times) if t <= now][-FEED_ITEMS:]
        etag = f'"{name}-{visible[-1] if visible else -1}"'
        items = "".join(
            f"<item><title>Berita {i}</title><link>http://127.0.0.1/a/{name}/{i}</link>"
            f'<guid isPermaLink="false">{html.escape(name)}-{i}</guid>'
            f"<pubDate>{email.utils.formatdate(times[i], usegmt=True)}</pubDate></item>"
            for i in reversed(visible)
        )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(name)}</title><link>http://127.0.0.1/</link>{items}"
            "</channel></rss>"
        )
        return etag, doc.encode()


@contextlib.contextmanager
def serve(site: SimSite) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            etag, body = site.body(self.path.strip("/").removesuffix(".xml"))
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Recorder:
    """The article stage, replaced: note when each entry was found and mark it seen."""

    def __init__(self, site: SimSite, storage: StorageGate) -> None:
        self.site = site
        self.storage = storage
        self.found: dict[str, float] = {}

    async def process_entry(
        self, entry: FeedEntry, *, feed_id: int | None, alerts_enabled: bool = True
    ) -> ArticleOutcome:
        self.found.setdefault(entry.entry_id, self.site.now)
        if feed_id is not None:

            def mark(session: Transaction) -> None:
                repo.mark_entry_seen(session, feed_id, entry.entry_id, entry.link)

            await self.storage.transaction(mark)
        return ArticleOutcome(entry.link, "skipped", entry.title)


# --- one arm ------------------------------------------------------------------------------------


def _settings(tmp: Path, arm: str) -> Settings:
    schedule: dict[str, Any] = {}
    if arm.startswith("fixed"):
        seconds = float(arm.split()[1])
        schedule = {
            "min_interval": seconds,
            "max_interval": seconds,
            "default_interval": seconds,
            "busy_rate": 1e9,  # never "busy": the interval stays the fixed one
        }
    return load_settings(
        None,
        env={},
        overrides={
            "data_dir": str(tmp),
            "database": {"url": f"sqlite:///{tmp / (arm.replace(' ', '_') + '.db')}"},
            "schedule": schedule,
        },
    )


@dataclass
class ArmResult:
    delays: list[tuple[float, float]]  # (outlet items per hour, seconds publish -> alert)
    requests_per_day: dict[str, float]


async def _simulate(arm: str, outlets: list[Outlet], site: SimSite, base: str) -> ArmResult:
    with tempfile.TemporaryDirectory(prefix="pantau-timeliness-") as tmp_name:
        settings = _settings(Path(tmp_name), arm)
        engine = open_engine(settings, upgrade=True)
        storage = StorageGate(engine)
        delays: list[tuple[float, float]] = []
        per_day: dict[str, float] = {}
        try:
            # No per-host delay: it would be real seconds between simulated polls.
            limiter = HostLimiter(4, 0.0)
            async with Fetcher(
                fetch_policy(settings, allow_private=True), limiter=limiter
            ) as fetcher:
                for outlet in outlets:
                    got = await _one_outlet(settings, outlet, site, base, fetcher, storage)
                    delays += [(outlet.per_hour, d) for d in got[0]]
                    per_day[outlet.name] = got[1]
        finally:
            storage.close()
            engine.dispose()
        return ArmResult(delays, per_day)


async def _one_outlet(
    settings: Settings,
    outlet: Outlet,
    site: SimSite,
    base: str,
    fetcher: Fetcher,
    storage: StorageGate,
) -> tuple[list[float], float]:
    warm, start, end = outlet.window()
    site.now = warm
    recorder = Recorder(site, storage)
    poller = Poller(
        engine=storage.engine,
        fetcher=fetcher,
        processor=recorder,
        schedule=settings.schedule,
        owner=OWNER,
        clock=lambda: datetime.fromtimestamp(site.now, UTC),
        storage=storage,
        workers=None,
    )
    url = f"{base}/{outlet.name}.xml"

    def add(session: Transaction) -> None:
        feed_state.save_feed(
            session,
            Feed(
                url=url,
                name=outlet.name,
                source="127.0.0.1",
                interval_seconds=round(settings.schedule.default_interval),
                next_poll_at=datetime.fromtimestamp(warm, UTC),
                created_at=datetime.fromtimestamp(warm, UTC),
                initial_poll_done=True,
            ),
        )

    await storage.transaction(add)
    site.requests[outlet.name] = []
    wanted = {f"{outlet.name}-{i}" for i, t in enumerate(outlet.times) if start <= t < end}
    # Until the window ends, and then until its last items are found (no later than one
    # longest interval past it).
    while site.now < end or (
        site.now < end + settings.schedule.max_interval + 60 and not wanted <= set(recorder.found)
    ):
        now = datetime.fromtimestamp(site.now, UTC)

        def claim(session: Transaction, now: datetime = now) -> list[Feed]:
            return feed_state.claim_due_feeds(
                session, owner=OWNER, now=now, limit=1, lease_seconds=600
            )

        due = await storage.transaction(claim)
        if not due:

            def next_at(session: Transaction) -> datetime:
                feed = feed_state.feed_by_url(session, url)
                assert feed is not None
                return feed.next_poll_at

            site.now = max(site.now + 0.001, (await storage.transaction(next_at)).timestamp())
            continue
        await poller.poll(due[0])
    requests = sum(1 for t in site.requests[outlet.name] if start <= t < end)
    delays = [
        found - outlet.times[i] + PROCESSING
        for i in range(len(outlet.times))
        if start <= outlet.times[i] < end
        and (found := recorder.found.get(f"{outlet.name}-{i}")) is not None
    ]
    missed = sum(
        1
        for i in range(len(outlet.times))
        if start <= outlet.times[i] < end and f"{outlet.name}-{i}" not in recorder.found
    )
    assert missed == 0, f"{outlet.name}: {missed} items never found (fell off the feed)"
    return delays, requests / ((end - start) / 86400.0)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(mode: Mode = "full") -> Result:
    started = time.perf_counter()
    outlets = load_outlets()
    if mode != "full":
        outlets = sorted(outlets, key=lambda o: o.per_hour, reverse=True)[
            : 4 if mode == "quick" else 2
        ]
    site = SimSite({o.name: o for o in outlets})
    results: dict[str, ArmResult] = {}
    with serve(site) as base:
        for arm in ARMS:
            results[arm] = asyncio.run(_simulate(arm, outlets, site, base))
    figures: list[Figure] = []
    details: dict[str, Any] = {"outlets": {o.name: round(o.per_hour, 2) for o in outlets}}
    for arm in ARMS:
        r = results[arm]
        hourly = [d for rate, d in r.delays if rate >= HOURLY]
        reqs = median(list(r.requests_per_day.values()))
        mean_reqs = sum(r.requests_per_day.values()) / len(r.requests_per_day)
        target95 = Target("<=", 90) if arm == "learned" else None
        figures += [
            Figure(
                ITEM,
                f"{arm}: publish -> alert p50 (outlets >= 1 item/h)",
                _quantile(hourly, 0.5),
                "s",
            ),
            Figure(
                ITEM,
                f"{arm}: publish -> alert p95 (outlets >= 1 item/h)",
                _quantile(hourly, 0.95),
                "s",
                target95,
            ),
            Figure(ITEM, f"{arm}: requests per feed per day (mean)", mean_reqs, "req"),
        ]
        details[arm] = {
            "items": len(r.delays),
            "requests_per_day": {k: round(v) for k, v in r.requests_per_day.items()},
            "median_requests_per_day": reqs,
        }
    learned = sum(results["learned"].requests_per_day.values())
    fixed120 = sum(results["fixed 120 s"].requests_per_day.values())
    figures.append(
        Figure(
            ITEM,
            "learned requests / fixed 120 s requests",
            learned / fixed120,
            "ratio",
            Target("<=", 1.0),
        )
    )
    return Result("timeliness", figures, details, time.perf_counter() - started)
