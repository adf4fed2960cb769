"""The status server's routes: /healthz, /readyz, /metrics and the dashboard at /.

Database work is synchronous (SQLAlchemy), so every query runs in a worker thread under a
deadline: a slow or locked database makes /healthz answer 503 instead of stalling the daemon's
event loop. Extra routes (the /events stream) are passed in by the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from prometheus_client import CONTENT_TYPE_LATEST, Gauge
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from monitor.errors import StorageError
from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.timeofday import WIB
from monitor.web.dashboard import CSP, DashboardData, render_page, script_tags
from storage import overview
from storage.engine import ping, session_scope

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

__all__ = ["HealthProbe", "create_app", "load_dashboard", "read_gauges", "refresh_gauges"]


def day_start(now: datetime, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def load_dashboard(engine: Engine, now: datetime, tz: tzinfo) -> DashboardData:
    today = now.astimezone(tz).date()
    with session_scope(engine) as session:
        return DashboardData(
            summary=overview.status_summary(session, day_start=day_start(now, tz)),
            latest=overview.latest_matches(session, limit=20),
            topics=overview.daily_match_counts(
                session, kind="topic", days=7, today=today, tz=tz, main_only=True
            ),
            actors=overview.daily_match_counts(session, kind="actor", days=7, today=today, tz=tz),
            feeds=overview.feed_health(session),
            failed=overview.alerts(session, statuses=["failed"], limit=50),
            now=now,
            tz=tz,
            channels=overview.channel_health(session),
        )


def not_modified_ratio(metrics: Metrics) -> float:
    by_status: dict[str, float] = {}
    for family in metrics.polls.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                status = sample.labels.get("status", "")
                by_status[status] = by_status.get(status, 0.0) + sample.value
    total = sum(by_status.values())
    return by_status.get("not_modified", 0.0) / total if total else 0.0


@dataclass(frozen=True)
class GaugeReadings:
    """What the gauges whose truth is in the database read on one scrape."""

    feeds: int
    unhealthy: int
    pending: int
    failed: int
    feed_health: list[overview.FeedHealth]
    channels: list[overview.ChannelHealth] = field(default_factory=list)


def read_gauges(engine: Engine) -> GaugeReadings:
    """Queue depth, feed health and failed alerts from the database (run in a thread: it only
    reads, the metrics are set on the loop by :func:`refresh_gauges`)."""
    with session_scope(engine) as session:
        total, unhealthy = overview.feed_counts(session)
        return GaugeReadings(
            feeds=total,
            unhealthy=unhealthy,
            pending=overview.pending_alerts(session),
            failed=overview.failed_alert_count(session),
            feed_health=overview.feed_health(session),
            channels=overview.channel_health(session),
        )


def refresh_gauges(metrics: Metrics, readings: GaugeReadings, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    metrics.feeds_total.set(readings.feeds)
    metrics.feeds_unhealthy.set(readings.unhealthy)
    metrics.queue_depth.set(readings.pending)
    metrics.alerts_failed_waiting.set(readings.failed)
    metrics.feed_healthy.clear()  # feeds come and go: drop series of removed ones
    for f in readings.feed_health:
        if f.enabled:
            metrics.feed_healthy.labels(f.name).set(1 if f.healthy else 0)
    # A channel whose queue emptied keeps its series at 0 until the process restarts.
    for gauge in (metrics.channel_queue_age, metrics.channel_pending, metrics.channel_failing):
        for channel in _channels_of(gauge):
            gauge.labels(channel).set(0)
    for c in readings.channels:
        metrics.channel_queue_age.labels(c.channel).set(c.queue_age(now))
        metrics.channel_pending.labels(c.channel).set(c.pending)
        metrics.channel_failing.labels(c.channel).set(1 if c.failing else 0)


def _channels_of(gauge: Gauge) -> list[str]:
    return [s.labels["channel"] for family in gauge.collect() for s in family.samples]


class _Handlers:
    def __init__(
        self,
        *,
        engine: Engine,
        metrics: Metrics,
        health: HealthProbe,
        tz: tzinfo,
        clock: Clock,
        db_timeout: float,
        title: str,
        scripts: Sequence[str],
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.health = health
        self.tz = tz
        self.clock = clock
        self.db_timeout = db_timeout
        self.title = title
        self.scripts = tuple(scripts)

    async def _database_problem(self) -> str | None:
        try:
            await asyncio.wait_for(asyncio.to_thread(ping, self.engine), self.db_timeout)
        except TimeoutError:
            return f"database: no answer to SELECT 1 within {self.db_timeout:g}s"
        except Exception as exc:  # any driver error means "not answering"
            log.warning("health check: database error: %s", exc)
            said = exc.detail if isinstance(exc, StorageError) else str(exc)
            return f"database: {type(exc).__name__}: {(said.splitlines() or [''])[0][:200]}"
        return None

    async def healthz(self, request: Request) -> Response:
        # Answering at all shows the event loop is turning; the probe covers the scheduler.
        beats_ok, reasons = self.health.check()
        db_problem = await self._database_problem()
        if db_problem:
            reasons.append(db_problem)
        ok = beats_ok and db_problem is None
        # Healthy, but the first heartbeats are not due yet: say so rather than "ok".
        state = ("starting" if self.health.starting() else "ok") if ok else "unhealthy"
        body = {
            "status": state,
            "checks": {
                "event_loop": "ok",
                "heartbeats": "ok" if beats_ok else "failing",
                "database": "ok" if db_problem is None else "failing",
            },
            "reasons": reasons,
            "time": self.clock().isoformat(),
        }
        return JSONResponse(body, status_code=200 if ok else 503, headers=_NO_STORE)

    async def readyz(self, request: Request) -> Response:
        reasons = [] if self.health.ready else ["starting up or shutting down"]
        db_problem = await self._database_problem()
        if db_problem:
            reasons.append(db_problem)
        body = {"status": "ready" if not reasons else "not ready", "reasons": reasons}
        return JSONResponse(body, status_code=503 if reasons else 200, headers=_NO_STORE)

    async def metrics_endpoint(self, request: Request) -> Response:
        self.metrics.poll_not_modified_ratio.set(not_modified_ratio(self.metrics))
        try:
            readings = await asyncio.wait_for(
                asyncio.to_thread(read_gauges, self.engine), self.db_timeout
            )
            refresh_gauges(self.metrics, readings, self.clock())
            self.metrics.database_up.set(1)
        except Exception as exc:  # the scrape must still answer: counters live in memory
            log.warning("metrics: could not refresh gauges from the database: %s", exc)
            self.metrics.database_up.set(0)
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def dashboard(self, request: Request) -> Response:
        now = self.clock()
        try:
            data = await asyncio.wait_for(
                asyncio.to_thread(load_dashboard, self.engine, now, self.tz), self.db_timeout * 2
            )
        except Exception as exc:
            log.warning("dashboard: database error: %s", exc)
            return HTMLResponse(
                "<!doctype html><title>Pantau</title><h1>Pantau</h1>"
                "<p>The database did not answer; see /healthz and the service log.</p>",
                status_code=503,
                headers={"content-security-policy": CSP, **_NO_STORE},
            )
        page = render_page(data, title=self.title, scripts=self.scripts)
        return HTMLResponse(page, headers={"content-security-policy": CSP, **_NO_STORE})


_NO_STORE = {"cache-control": "no-store"}


def create_app(
    *,
    engine: Engine,
    metrics: Metrics,
    health: HealthProbe,
    extra_routes: Sequence[BaseRoute] = (),
    tz: tzinfo = WIB,
    clock: Clock = lambda: datetime.now(UTC),
    db_timeout: float = 5.0,
    title: str = "Pantau",
    dashboard_scripts: Sequence[str] = (),
) -> Starlette:
    """The status server's ASGI app. ``extra_routes`` are mounted after the built-in ones
    (e.g. the /events stream); ``dashboard_scripts`` are same-origin script paths the dashboard
    loads (e.g. "/events/live.js"). Days on the dashboard are counted in ``tz`` (WIB by
    default, like the alerts)."""
    h = _Handlers(
        engine=engine,
        metrics=metrics,
        health=health,
        tz=tz,
        clock=clock,
        db_timeout=db_timeout,
        title=title,
        scripts=dashboard_scripts,
    )
    script_tags(dashboard_scripts)  # refuse a non-same-origin script at start-up, not per page
    routes: list[BaseRoute] = [
        Route("/healthz", h.healthz, methods=["GET", "HEAD"]),
        Route("/readyz", h.readyz, methods=["GET", "HEAD"]),
        Route("/metrics", h.metrics_endpoint, methods=["GET"]),
        Route("/", h.dashboard, methods=["GET", "HEAD"]),
        *extra_routes,
    ]
    return Starlette(routes=routes)
