"""The status server against a database filled by replaying the seed corpus."""

from __future__ import annotations

import html
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from monitor.errors import ConfigError
from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.web import StatusServer, create_app
from monitor.web.dashboard import bar_chart, feeds_section, highlight
from storage.engine import make_engine
from storage.overview import FeedHealth
from tests.seeded import replay_seeds, seed_titles


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("web") / "pantau.db"
    replay_seeds(db)
    return db


@pytest.fixture
def engine(seeded_db: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{seeded_db}")
    yield eng
    eng.dispose()


def alive_probe() -> HealthProbe:
    probe = HealthProbe()
    probe.heartbeat("scheduler")
    probe.set_ready()
    return probe


async def get(server: StatusServer, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(server.url + path)


async def test_healthz_is_ok_when_loop_scheduler_and_database_answer(engine: Engine) -> None:
    app = create_app(engine=engine, metrics=Metrics.create(), health=alive_probe())
    async with StatusServer(app, port=0) as server:
        assert server.port and server.port > 0
        r = await get(server, "/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"event_loop": "ok", "heartbeats": "ok", "database": "ok"}


async def test_healthz_is_503_naming_a_stalled_scheduler(engine: Engine) -> None:
    now = [1000.0]
    probe = HealthProbe({"scheduler": 60.0}, clock=lambda: now[0])
    probe.heartbeat("scheduler")
    now[0] += 300
    app = create_app(engine=engine, metrics=Metrics.create(), health=probe)
    async with StatusServer(app) as server:
        r = await get(server, "/healthz")
    assert r.status_code == 503
    assert r.json()["reasons"] == ["scheduler: last heartbeat 300s ago (limit 60s)"]


async def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").mkdir()  # a directory cannot be opened as a database
    broken = create_engine(f"sqlite:///{tmp_path / 'not-a-db'}")
    app = create_app(engine=broken, metrics=Metrics.create(), health=alive_probe())
    async with StatusServer(app) as server:
        health = await get(server, "/healthz")
        ready = await get(server, "/readyz")
    broken.dispose()
    assert health.status_code == 503
    assert health.json()["checks"]["database"] == "failing"
    assert any(r.startswith("database:") for r in health.json()["reasons"])
    assert ready.status_code == 503


async def test_readyz_waits_for_start_up_to_finish(engine: Engine) -> None:
    probe = HealthProbe()
    app = create_app(engine=engine, metrics=Metrics.create(), health=probe)
    async with StatusServer(app) as server:
        before = await get(server, "/readyz")
        probe.set_ready()
        after = await get(server, "/readyz")
    assert before.status_code == 503
    assert before.json()["reasons"] == ["starting up or shutting down"]
    assert after.status_code == 200


async def test_metrics_parse_as_prometheus_and_reflect_the_database(engine: Engine) -> None:
    metrics = Metrics.create()
    metrics.polls.labels("ok").inc(3)
    metrics.polls.labels("not_modified").inc(1)
    metrics.matches.labels("nato").inc(5)
    metrics.alerts.labels("console", "sent").inc(5)
    metrics.fetch_latency.labels("feed").observe(0.2)
    app = create_app(engine=engine, metrics=metrics, health=alive_probe())
    async with StatusServer(app) as server:
        r = await get(server, "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    assert samples[("pantau_feeds", ())] == 1
    assert samples[("pantau_feeds_unhealthy", ())] == 0
    assert samples[("pantau_alert_queue_depth", ())] == 0
    assert samples[("pantau_feed_healthy", (("feed", "Warta Pantau (replay)"),))] == 1
    assert samples[("pantau_poll_not_modified_ratio", ())] == 0.25
    assert samples[("pantau_matches_total", (("topic", "nato"),))] == 5
    assert samples[("pantau_alerts_total", (("channel", "console"), ("status", "sent")))] == 5
    assert samples[("pantau_fetch_seconds_count", (("kind", "feed"),))] == 1
    assert samples[("pantau_database_up", ())] == 1


async def test_dashboard_shows_seed_matches_charts_and_feed_health(engine: Engine) -> None:
    app = create_app(engine=engine, metrics=Metrics.create(), health=alive_probe())
    async with StatusServer(app) as server:
        r = await get(server, "/")
    assert r.status_code == 200
    page = r.text
    for title in seed_titles():
        assert html.escape(title) in page, title
    assert page.count("<svg") == 2
    assert "Matching articles per topic per day" in page
    assert "Jens Stoltenberg" in page and "<mark>" in page
    assert "Warta Pantau (replay)" in page  # feed health table
    assert "No failed alerts." in page
    # Nothing is loaded from elsewhere, and the browser is told so.
    assert "src=" not in page
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_dashboard_loads_only_same_origin_scripts(engine: Engine) -> None:
    app = create_app(
        engine=engine,
        metrics=Metrics.create(),
        health=alive_probe(),
        dashboard_scripts=["/events/live.js"],
    )
    async with StatusServer(app) as server:
        page = (await get(server, "/")).text
    assert '<script src="/events/live.js" defer></script>' in page
    with pytest.raises(ValueError, match="same-origin"):
        create_app(
            engine=engine,
            metrics=Metrics.create(),
            health=alive_probe(),
            dashboard_scripts=["https://cdn.example.org/x.js"],
        )


async def test_extra_routes_are_served_beside_the_built_in_ones(engine: Engine) -> None:
    async def events(request: Request) -> Response:
        return PlainTextResponse("stream here")

    app = create_app(
        engine=engine,
        metrics=Metrics.create(),
        health=alive_probe(),
        extra_routes=[Route("/events", events)],
    )
    async with StatusServer(app) as server:
        r = await get(server, "/events")
    assert r.text == "stream here"


async def test_status_server_leaves_sigterm_to_the_daemon(engine: Engine) -> None:
    before = signal.getsignal(signal.SIGTERM)
    app = create_app(engine=engine, metrics=Metrics.create(), health=alive_probe())
    async with StatusServer(app) as server:
        await get(server, "/healthz")
        assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGTERM) is before


async def test_busy_port_fails_with_a_message_naming_the_setting(engine: Engine) -> None:
    app = create_app(engine=engine, metrics=Metrics.create(), health=alive_probe())
    async with StatusServer(app) as first:
        with pytest.raises(ConfigError, match=r"status\.port: cannot listen on 127\.0\.0\.1:"):
            async with StatusServer(app, port=first.port or 0):
                pass


async def test_server_stops_and_frees_its_port(engine: Engine) -> None:
    app = create_app(engine=engine, metrics=Metrics.create(), health=alive_probe())
    async with StatusServer(app) as server:
        port = server.port
    async with StatusServer(app, port=port or 0) as again:
        assert (await get(again, "/healthz")).status_code == 200


def test_dashboard_escapes_hostile_text_from_feeds() -> None:
    feed = FeedHealth(
        id=1,
        name="<script>alert(1)</script>",
        url="javascript:alert(1)",
        healthy=False,
        enabled=True,
        last_polled_at=None,
        last_success_at=None,
        last_new_item_at=None,
        next_poll_at=None,
        consecutive_failures=3,
        problem='HTTP 500 <img src=x onerror="alert(1)">',
    )
    out = feeds_section([feed], datetime.now(UTC), UTC)
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;" in out
    assert "href=" not in out  # a javascript: URL is shown as text, never made a link


def test_snippet_highlight_marks_terms_and_escapes_the_rest() -> None:
    out = highlight("Putin <b>warns</b> NATO", ["Putin", "NATO"])
    assert out == "<mark>Putin</mark> &lt;b&gt;warns&lt;/b&gt; <mark>NATO</mark>"


def test_actor_chart_draws_one_bar_per_actor_with_its_count() -> None:
    svg = bar_chart([("Vladimir Putin", 4), ("Mark Rutte", 1)], label="actors")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 2
    assert "<title>Vladimir Putin: 4</title>" in svg
