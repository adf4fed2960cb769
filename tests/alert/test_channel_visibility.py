"""A failing channel is visible after one delivery attempt (issue #17): ``pantau status --json``,
/metrics and the dashboard name its error and queue age, and the log has one WARNING line for
the attempt. A real webhook channel posts to a loopback server answering 500."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

import monitor.cli.status  # noqa: F401  (registers status)
from monitor.alert.outbox import Outbox
from monitor.cli import app
from monitor.daemon.runtime import build_channels, delivery_policies
from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.web import StatusServer, create_app
from storage.engine import make_engine
from tests import factories
from tests.alert.test_outbox import _store_alerts
from tests.loopback import LoopbackServer, Response


def samples(text: str, name: str) -> dict[str, float]:
    return {
        s.labels.get("channel", ""): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_a_channel_answering_500_shows_its_error_and_queue_age_after_one_attempt(
    tmp_path: Path, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "pantau.db"
    _store_alerts(f"sqlite:///{db}", 1, ["newsroom"])
    loopback.route("/hook", Response(500, b"upstream exploded"))
    settings = factories.settings(
        db,
        alerts={
            "channels": [{"name": "newsroom", "type": "webhook", "url": loopback.url("/hook")}],
            "rules": [{"name": "default", "channels": ["newsroom"]}],
        },
    )
    channels = build_channels(settings.alerts.channels, {})
    engine = make_engine(f"sqlite:///{db}")
    metrics = Metrics.create()
    outbox = Outbox(engine, channels, policies=delivery_policies(settings), metrics=metrics)
    caplog.set_level(logging.INFO)
    report = await outbox.deliver_due()  # ONE attempt
    for ch in channels.values():
        await ch.aclose()
    assert report.retried == 1 and len(loopback.requests_for("/hook")) == 1

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "newsroom" in warnings[0] and "HTTP 500" in warnings[0]

    result = CliRunner().invoke(
        app, ["status", "--json", "--db", str(db)], env={"PANTAU_CONFIG": None}
    )
    assert result.exit_code == 0, result.output
    shown = {c["name"]: c for c in json.loads(result.output)["channels"]}
    assert shown["newsroom"]["pending"] == 1
    assert "HTTP 500" in shown["newsroom"]["last_error"]
    assert shown["newsroom"]["queue_age_seconds"] >= 0

    probe = HealthProbe()
    probe.heartbeat("scheduler")
    status_app = create_app(engine=engine, metrics=metrics, health=probe)
    async with StatusServer(status_app, port=0) as server, httpx.AsyncClient() as client:
        scrape = (await client.get(server.url + "/metrics")).text
        page = (await client.get(server.url + "/")).text
    engine.dispose()
    assert "newsroom" in samples(scrape, "pantau_channel_queue_age_seconds")
    assert samples(scrape, "pantau_channel_failing") == {"newsroom": 1.0}
    assert samples(scrape, "pantau_channel_pending_alerts") == {"newsroom": 1.0}
    assert samples(scrape, "pantau_channel_last_failure_timestamp_seconds")["newsroom"] > 0
    assert 'id="channels"' in page
    channels_html = page.split('id="channels"', 1)[1].split("</section>", 1)[0]
    assert "newsroom" in channels_html and "HTTP 500" in channels_html


async def test_each_alert_sent_is_logged_once_at_info(
    tmp_path: Path, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "pantau.db"
    _store_alerts(f"sqlite:///{db}", 2, ["newsroom"])
    loopback.route("/hook", Response(200, b"ok"))
    settings = factories.settings(
        db,
        alerts={
            "channels": [{"name": "newsroom", "type": "webhook", "url": loopback.url("/hook")}],
            "rules": [{"name": "default", "channels": ["newsroom"]}],
        },
    )
    channels = build_channels(settings.alerts.channels, {})
    engine = make_engine(f"sqlite:///{db}")
    caplog.set_level(logging.INFO, logger="monitor.alert.outbox")
    await Outbox(engine, channels, policies=delivery_policies(settings)).deliver_due()
    for ch in channels.values():
        await ch.aclose()
    engine.dispose()
    sent = [r.getMessage() for r in caplog.records if "alert sent on newsroom" in r.getMessage()]
    assert sorted(sent) == [
        "alert sent on newsroom: Putin dan perang Ukraina, laporan 00",
        "alert sent on newsroom: Putin dan perang Ukraina, laporan 01",
    ]
