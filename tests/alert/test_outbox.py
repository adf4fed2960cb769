"""The durable outbox against real servers on 127.0.0.1: email via aiosmtpd, a Slack stand-in,
a JSON webhook recorder. Alerts arrive once, are retried, collapse into digests, and fail
visibly without stopping the other channels; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from monitor.alert.outbox import Outbox, alert_payload, failed_alerts, retry_failed
from monitor.daemon.runtime import build_channels, delivery_policies
from monitor.demo.replay import run_replay
from monitor.models import ActorMention, MatchResult, Span, TermHit, TopicScore
from monitor.paths import default_seeds_dir
from storage import repo
from storage.engine import create_schema, make_engine, session_scope
from storage.tables import AlertRow
from tests import factories
from tests.alert_servers import scripted, smtp_server
from tests.loopback import LoopbackServer, Response


def _outbox_settings(db: str, channels: list[dict[str, Any]], rule_channels: list[str]) -> Any:
    rules = [{"name": "default", "channels": rule_channels}]
    return factories.settings(
        db, alerts={"channels": channels, "rules": rules, "retry_base": 0.2, "retry_max": 1.0}
    )


def test_replayed_seed_alert_arrives_by_email_with_both_parts(db_url: str) -> None:
    db = db_url
    with smtp_server() as smtp:
        channel = {
            "name": "email",
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "sender": "Pantau <pantau@pantau.example>",
            "recipients": ["desk@pantau.example"],
            "list_unsubscribe": "mailto:admin@pantau.example",
        }
        report = asyncio.run(
            run_replay(default_seeds_dir(), _outbox_settings(db, [channel], ["email"]))
        )
    assert report.delivery.sent == 5
    assert len(smtp.messages) == 5
    rutte = next(m for m in smtp.messages if "Sekjen NATO Bocor" in str(m["Subject"]))
    assert rutte["From"] == "Pantau <pantau@pantau.example>"
    assert rutte["To"] == "desk@pantau.example"
    assert rutte["Message-ID"] and rutte["Date"]
    assert rutte["List-Unsubscribe"] == "<mailto:admin@pantau.example>"
    plain = rutte.get_body(("plain",))
    html = rutte.get_body(("html",))
    assert plain is not None and html is not None
    text, markup = plain.get_content(), html.get_content()
    assert "Mark Rutte" in text and "Donald Trump" in text
    assert "<strong>Sekjen NATO</strong>" in markup  # the role that fired, emphasised


def _store_alerts(db: str, count: int, channels: list[str]) -> None:
    engine = make_engine(db)
    create_schema(engine)
    now = datetime.now(UTC)
    snippet = "Presiden Rusia Vladimir Putin menolak usulan gencatan senjata di Ukraina."
    hit = TermHit("Vladimir Putin", Span(15, 29), snippet)
    match = MatchResult(
        topics=(TopicScore("ukraine", 2.0, True, (hit,)),),
        actors=(ActorMention("Vladimir Putin", "name", 1, (hit,)),),
    )
    with session_scope(engine) as session:
        for i in range(count):
            title = f"Putin dan perang Ukraina, laporan {i:02d}"
            url = f"https://warta.pantau.example/berita/{i}"
            payload = json.dumps(
                alert_payload(
                    rule="default",
                    title=title,
                    url=url,
                    source="pantau.example",
                    published=now,
                    match=match,
                )
            )
            article = repo.NewArticle(
                canonical_url=url,
                url=url,
                source="pantau.example",
                title=title,
                body=f"{snippet} {i}",
                body_hash=str(i),
                signature=None,
                published_at=now,
                seen_at=now,
            )
            alerts = [repo.NewAlert("default", ch, payload) for ch in channels]
            repo.save_article(session, article, [], story_id=None, alerts=alerts)
    engine.dispose()


async def _deliver_until(outbox: Outbox, done: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        await outbox.deliver_due()
        await asyncio.sleep(0.05)


async def test_slack_500_then_429_then_200_delivers_exactly_one_message_after_the_delay(
    db_url: str, loopback: LoopbackServer
) -> None:
    db = db_url
    _store_alerts(db, 1, ["slack"])
    loopback.route(
        "/slack",
        scripted(
            Response(500, b"internal error"),
            Response(429, b"rate_limited", {"Retry-After": "1"}),
            Response(200, b"ok"),
        ),
    )
    settings = _outbox_settings(
        db, [{"name": "slack", "type": "slack", "webhook_url_env": "SLACK_URL"}], ["slack"]
    )
    channels = build_channels(settings.alerts.channels, {"SLACK_URL": loopback.url("/slack")})
    engine = make_engine(db)
    outbox = Outbox(engine, channels, policies=delivery_policies(settings))
    await _deliver_until(outbox, lambda: len(loopback.requests_for("/slack")) >= 3)
    await outbox.deliver_due()
    for ch in channels.values():
        await ch.aclose()
    posts = loopback.requests_for("/slack")
    assert len(posts) == 3, "500 and 429 retried, then exactly one delivery"
    assert posts[2].at - posts[1].at >= 1.0, "Retry-After: 1 honoured"
    assert "Putin" in json.loads(posts[2].body)["text"]
    with session_scope(engine) as session:
        row = session.exec(select(AlertRow)).one()
    assert row.status == "sent" and row.attempts == 3


async def test_fifty_alerts_in_one_poll_become_one_digest_listing_all_fifty(
    db_url: str, loopback: LoopbackServer
) -> None:
    db = db_url
    _store_alerts(db, 50, ["hook"])
    loopback.route("/hook", Response(200, b"ok"))
    settings = _outbox_settings(
        db,
        [{"name": "hook", "type": "webhook", "url": loopback.url("/hook"), "rate_limit": 5}],
        ["hook"],
    )
    channels = build_channels(settings.alerts.channels, {})
    outbox = Outbox(make_engine(db), channels, policies=delivery_policies(settings))
    report = await outbox.deliver_due()
    await outbox.deliver_due()  # nothing left: no second digest
    posts = [json.loads(r.body) for r in loopback.requests_for("/hook")]
    assert len(posts) <= 5
    digest = posts[0]
    assert digest["type"] == "digest"
    assert "50 new articles mention Vladimir Putin" in digest["title"]
    titles = {item["title"] for item in digest["items"]}
    assert titles == {f"Putin dan perang Ukraina, laporan {i:02d}" for i in range(50)}
    assert report.digested == 50 and report.messages == 1


async def test_a_small_burst_goes_out_as_individual_messages(
    db_url: str, loopback: LoopbackServer
) -> None:
    db = db_url
    _store_alerts(db, 3, ["hook"])
    loopback.route("/hook", Response(200, b"ok"))
    settings = _outbox_settings(
        db,
        [{"name": "hook", "type": "webhook", "url": loopback.url("/hook"), "rate_limit": 5}],
        ["hook"],
    )
    outbox = Outbox(
        make_engine(db),
        build_channels(settings.alerts.channels, {}),
        policies=delivery_policies(settings),
    )
    report = await outbox.deliver_due()
    posts = [json.loads(r.body) for r in loopback.requests_for("/hook")]
    assert [p["type"] for p in posts] == ["alert"] * 3
    assert report.sent == 3


async def test_channel_down_past_give_up_fails_visibly_and_others_keep_delivering(
    db_url: str, loopback: LoopbackServer
) -> None:
    db = db_url
    _store_alerts(db, 2, ["broken", "hook"])
    loopback.route("/broken", Response(503, b"down for maintenance"))
    loopback.route("/hook", Response(200, b"ok"))
    settings = _outbox_settings(
        db,
        [
            {
                "name": "broken",
                "type": "webhook",
                "url": loopback.url("/broken"),
                "give_up_after": 1.0,
            },
            {"name": "hook", "type": "webhook", "url": loopback.url("/hook")},
        ],
        ["broken", "hook"],
    )
    engine = make_engine(db)
    outbox = Outbox(
        engine,
        build_channels(settings.alerts.channels, {}),
        policies=delivery_policies(settings),
    )
    await _deliver_until(outbox, lambda: len(failed_alerts(engine)) == 2, seconds=10)
    failed = failed_alerts(engine)
    assert {r.channel for r in failed} == {"broken"} and len(failed) == 2
    assert all("503" in (r.last_error or "") and "gave up" in (r.last_error or "") for r in failed)
    assert len(loopback.requests_for("/hook")) == 2
    assert len(loopback.requests_for("/broken")) >= 2  # retried before giving up
    # The operator fixes the channel and puts the failed alerts back in the queue.
    loopback.route("/broken", Response(200, b"ok"))
    assert retry_failed(engine, datetime.now(UTC)) == 2
    report = await outbox.deliver_due()
    assert report.sent == 2 and not failed_alerts(engine)


async def test_pending_alerts_survive_a_new_outbox_and_are_sent_once(
    db_url: str, loopback: LoopbackServer
) -> None:
    db = db_url
    _store_alerts(db, 4, ["hook"])
    loopback.route("/hook", Response(200, b"ok"))
    settings = _outbox_settings(
        db, [{"name": "hook", "type": "webhook", "url": loopback.url("/hook")}], ["hook"]
    )
    for _ in range(3):  # three "processes" in a row, each delivering what is due
        outbox = Outbox(
            make_engine(db),
            build_channels(settings.alerts.channels, {}),
            policies=delivery_policies(settings),
        )
        await outbox.deliver_due()
    assert len(loopback.requests_for("/hook")) == 4
