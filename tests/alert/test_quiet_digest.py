"""Quiet hours and scheduled digests against a real webhook recorder on 127.0.0.1 and stored
alerts: nothing is sent while a channel is quiet, one morning summary lists everything held, and
a digest rule's alerts arrive as one digest at the next hour. Time is a fake clock handed to the
outbox, so nobody waits for the night to pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from monitor.alert.digest import DigestSchedule
from monitor.alert.outbox import Outbox, alert_payload
from monitor.config import Settings
from monitor.daemon.runtime import build_channels, delivery_policies, digest_schedules
from monitor.errors import ConfigError
from monitor.models import ActorMention, MatchResult, Span, TermHit, TopicScore
from monitor.timeofday import WIB
from storage import repo
from storage.engine import create_schema, make_engine, session_scope
from storage.tables import AlertRow
from tests import factories
from tests.loopback import LoopbackServer, Response


def wib(hour: int, minute: int = 0, *, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=WIB)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def _settings(
    db: str, url: str, *, channel: dict[str, Any] | None = None, rules: list[dict[str, Any]]
) -> Settings:
    hook = {"name": "hook", "type": "webhook", "url": url, **(channel or {})}
    return factories.settings(db, alerts={"channels": [hook], "rules": rules})


def _outbox(settings: Settings, clock: FakeClock) -> Outbox:
    return Outbox(
        make_engine(settings.database_url),
        build_channels(settings.alerts.channels, {}),
        policies=delivery_policies(settings),
        digests=digest_schedules(settings),
        clock=clock,
    )


def _store(db: str, at: datetime, names: list[str], rules: tuple[str, ...] = ("default",)) -> None:
    """One stored article per name, seen at ``at``, alerting every rule on channel 'hook'."""
    engine = make_engine(db)
    create_schema(engine)
    snippet = "Presiden Rusia Vladimir Putin menolak usulan gencatan senjata di Ukraina."
    hit = TermHit("Vladimir Putin", Span(15, 29), snippet)
    match = MatchResult(
        topics=(TopicScore("ukraine", 2.0, True, (hit,)),),
        actors=(ActorMention("Vladimir Putin", "name", 1, (hit,)),),
    )
    with session_scope(engine) as session:
        for name in names:
            title = f"Putin dan perang Ukraina: {name}"
            url = f"https://warta.pantau.example/berita/{name}"
            article = repo.NewArticle(
                canonical_url=url,
                url=url,
                source="pantau.example",
                title=title,
                body=f"{snippet} {name}",
                body_hash=name,
                signature=None,
                published_at=at,
                seen_at=at,
            )
            alerts = [
                repo.NewAlert(
                    rule,
                    "hook",
                    json.dumps(
                        alert_payload(
                            rule=rule,
                            title=title,
                            url=url,
                            source="pantau.example",
                            published=at,
                            match=match,
                        )
                    ),
                )
                for rule in rules
            ]
            repo.save_article(session, article, [], story_id=None, alerts=alerts)
    engine.dispose()


def _posts(loopback: LoopbackServer) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in loopback.requests_for("/hook")]


def _statuses(db: str) -> list[str]:
    engine = make_engine(db)
    with session_scope(engine) as session:
        statuses = [r.status for r in session.exec(select(AlertRow)).all()]
    engine.dispose()
    return statuses


NIGHT = {"quiet_hours": "22:00-06:00"}


async def test_alerts_during_quiet_hours_wait_for_one_morning_summary_listing_them_all(
    db_url: str, loopback: LoopbackServer
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    settings = _settings(
        db_url,
        loopback.url("/hook"),
        channel=NIGHT,
        rules=[{"name": "default", "channels": ["hook"]}],
    )
    clock = FakeClock(wib(23, 10))
    outbox = _outbox(settings, clock)
    _store(db_url, clock.now, ["a", "b", "c"])
    await outbox.deliver_due()
    clock.now = wib(2, 30, day=11)
    _store(db_url, clock.now, ["d", "e"])
    await outbox.deliver_due()
    assert _posts(loopback) == [], "nothing is sent during quiet hours"
    assert _statuses(db_url) == ["pending"] * 5

    clock.now = wib(6, 0, day=11)
    report = await outbox.deliver_due()
    await outbox.deliver_due()  # nothing left over: no second message
    posts = _posts(loopback)
    assert len(posts) == 1 and posts[0]["type"] == "digest"
    assert posts[0]["title"] == (
        "Morning summary: 5 new articles mention Vladimir Putin while you were away "
        "(22:00–06:00 WIB)"
    )
    assert {i["title"] for i in posts[0]["items"]} == {
        f"Putin dan perang Ukraina: {n}" for n in "abcde"
    }
    assert report.messages == 1 and report.digested == 5
    assert _statuses(db_url) == ["digested"] * 5


async def test_a_single_alert_held_overnight_goes_out_alone_in_the_morning(
    db_url: str, loopback: LoopbackServer
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    settings = _settings(
        db_url,
        loopback.url("/hook"),
        channel=NIGHT,
        rules=[{"name": "default", "channels": ["hook"]}],
    )
    clock = FakeClock(wib(3, 0))
    outbox = _outbox(settings, clock)
    _store(db_url, clock.now, ["lonely"])
    await outbox.deliver_due()
    assert _posts(loopback) == []
    clock.now = wib(6, 5)
    report = await outbox.deliver_due()
    posts = _posts(loopback)
    assert [p["type"] for p in posts] == ["alert"]
    assert posts[0]["title"] == "Putin dan perang Ukraina: lonely"
    assert report.sent == 1 and _statuses(db_url) == ["sent"]


async def test_a_channel_down_at_dawn_retries_the_summary_instead_of_giving_up_on_the_night(
    db_url: str, loopback: LoopbackServer
) -> None:
    loopback.route("/hook", Response(503, b"down for maintenance"))
    settings = _settings(
        db_url,
        loopback.url("/hook"),
        channel={**NIGHT, "give_up_after": 3600.0},  # shorter than the night itself
        rules=[{"name": "default", "channels": ["hook"]}],
    )
    clock = FakeClock(wib(22, 30))
    outbox = _outbox(settings, clock)
    _store(db_url, clock.now, ["r1", "r2"])
    await outbox.deliver_due()
    clock.now = wib(6, 0, day=11)
    report = await outbox.deliver_due()
    assert report.retried == 2 and report.failed == 0
    loopback.route("/hook", Response(200, b"ok"))
    clock.now = wib(6, 10, day=11)
    await outbox.deliver_due()
    posts = _posts(loopback)
    assert posts[-1]["title"].startswith("Morning summary: 2 new articles")
    assert _statuses(db_url) == ["digested"] * 2


async def test_the_morning_summary_respects_the_channel_rate_limit(
    db_url: str, loopback: LoopbackServer
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    settings = _settings(
        db_url,
        loopback.url("/hook"),
        channel={**NIGHT, "rate_limit": 1, "rate_period": 600.0},
        rules=[{"name": "default", "channels": ["hook"]}],
    )
    clock = FakeClock(wib(23, 0))
    outbox = _outbox(settings, clock)
    _store(db_url, clock.now, ["x", "y"])
    await outbox.deliver_due()
    clock.now = wib(6, 0, day=11)
    _store(db_url, clock.now, ["fresh"])  # arrives just as the window ends
    await outbox.deliver_due()
    posts = _posts(loopback)
    assert [p["type"] for p in posts] == ["digest"], "one message: the budget allows no more"
    assert {i["title"] for i in posts[0]["items"]} == {
        "Putin dan perang Ukraina: x",
        "Putin dan perang Ukraina: y",
    }
    clock.now = wib(6, 5, day=11)
    await outbox.deliver_due()
    assert len(_posts(loopback)) == 1, "still within the rate period"
    clock.now = wib(6, 11, day=11)
    await outbox.deliver_due()
    later = _posts(loopback)[1:]
    assert [(p["type"], p["title"]) for p in later] == [
        ("alert", "Putin dan perang Ukraina: fresh")
    ]


async def test_an_hourly_digest_rule_sends_one_digest_at_the_next_hour(
    db_url: str, loopback: LoopbackServer
) -> None:
    loopback.route("/hook", Response(200, b"ok"))
    rules = [
        {"name": "desk", "channels": ["hook"]},
        {"name": "putin-watch", "channels": ["hook"], "digest": "hourly"},
    ]
    settings = _settings(db_url, loopback.url("/hook"), rules=rules)
    clock = FakeClock(wib(10, 5))
    outbox = _outbox(settings, clock)
    _store(db_url, clock.now, ["p1", "p2"], rules=("desk", "putin-watch"))
    await outbox.deliver_due()
    first = _posts(loopback)
    assert sorted((p["type"], p["rule"]) for p in first) == [("alert", "desk")] * 2, (
        "the ordinary rule alerts at once, the digest rule holds its alerts"
    )
    clock.now = wib(10, 40)
    _store(db_url, clock.now, ["p3"], rules=("putin-watch",))
    await outbox.deliver_due()
    clock.now = wib(10, 59)
    await outbox.deliver_due()
    assert len(_posts(loopback)) == 2, "nothing more before the hour"

    clock.now = wib(11, 0)
    report = await outbox.deliver_due()
    clock.now = wib(11, 1)
    await outbox.deliver_due()
    digests = _posts(loopback)[2:]
    assert len(digests) == 1 and digests[0]["type"] == "digest"
    assert digests[0]["title"] == (
        "Hourly digest: 3 new articles mention Vladimir Putin in the last hour"
    )
    assert {i["title"] for i in digests[0]["items"]} == {
        f"Putin dan perang Ukraina: {n}" for n in ("p1", "p2", "p3")
    }
    assert report.messages == 1 and report.digested == 3


def test_daily_digests_go_out_at_digest_at_in_wib() -> None:
    daily = DigestSchedule("daily", wib(7, 0).timetz().replace(tzinfo=None))
    assert daily.next_after(wib(6, 59)) == wib(7, 0)
    assert daily.next_after(wib(7, 0)) == wib(7, 0, day=11)
    assert daily.next_after(wib(23, 30)) == wib(7, 0, day=11)
    hourly = DigestSchedule("hourly")
    assert hourly.next_after(wib(10, 0)) == wib(11, 0)
    assert hourly.next_after(wib(23, 59)) == wib(0, 0, day=11)
    assert daily.next_after(wib(6, 0) - timedelta(days=1)) == wib(7, 0, day=9)


@pytest.mark.parametrize(
    ("channel", "key", "reason"),
    [
        ({"quiet_hours": "22:00"}, "quiet_hours", "not a window like '22:00-06:00'"),
        ({"quiet_hours": "25:00-06:00"}, "quiet_hours", "'25:00' is not a time of day"),
        ({"quiet_hours": "22:00-22:00"}, "quiet_hours", "starts and ends at the same time"),
        ({"quiet_hours": "night"}, "quiet_hours", "not a window like '22:00-06:00'"),
        ({"quiet_tz": "Mars/Olympus"}, "quiet_tz", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_a_bad_quiet_hours_setting_is_refused_naming_the_key(
    channel: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        _settings("sqlite://", "http://127.0.0.1:9/hook", channel=channel, rules=[])
    assert f"alerts.channels.0.{key}" in err.value.message
    assert reason in err.value.message


@pytest.mark.parametrize(
    ("rule", "key", "reason"),
    [
        ({"digest": "weekly"}, "digest", "'hourly' or 'daily'"),
        ({"digest": "daily", "digest_at": "7am"}, "digest_at", "not a time of day"),
    ],
)
def test_a_bad_digest_setting_is_refused_naming_the_key(
    rule: dict[str, Any], key: str, reason: str
) -> None:
    rules = [{"name": "desk", "channels": ["hook"], **rule}]
    with pytest.raises(ConfigError) as err:
        _settings("sqlite://", "http://127.0.0.1:9/hook", rules=rules)
    assert f"alerts.rules.0.{key}" in err.value.message
    assert reason in err.value.message
