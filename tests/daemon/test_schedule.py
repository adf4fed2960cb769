"""Polling policy (pure), the per-host limiter, and the feed list formats."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.backoff import backoff_delay
from monitor.config import load_settings
from monitor.daemon.feeds import load_feeds_file, parse_feeds_document, zone_for
from monitor.daemon.schedule import (
    Limits,
    health_verdict,
    jittered,
    staleness,
    transition,
    within_server_hints,
)
from monitor.errors import ConfigError
from monitor.fetch.hostlimit import HostLimiter, host_key
from monitor.parse.opml import parse_opml, render_opml
from monitor.timeofday import WIB, WITA
from storage.tables import Feed

LIMITS = Limits(min_interval=120, max_interval=7200)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


# --- bounds and server hints ---------------------------------------------------------------


def test_rss_ttl_and_cache_max_age_are_lower_bounds() -> None:
    assert within_server_hints(600, LIMITS, ttl_minutes=30) == 1800
    assert within_server_hints(600, LIMITS, max_age=1000) == 1000
    assert within_server_hints(600, LIMITS) == 600


def test_server_hints_never_push_past_the_configured_ceiling() -> None:
    assert within_server_hints(600, LIMITS, ttl_minutes=24 * 60) == 7200


# --- back-off and jitter -----------------------------------------------------------------


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    delays = [backoff_delay(n, base=60, cap=600) for n in range(1, 7)]
    assert delays == [60, 120, 240, 480, 600, 600]
    assert backoff_delay(10_000, base=60, cap=600) == 600


def test_backoff_honours_a_longer_retry_after_but_not_beyond_the_cap() -> None:
    assert backoff_delay(1, base=60, cap=3600, retry_after=900) == 900
    assert backoff_delay(3, base=60, cap=3600, retry_after=10) == 240
    assert backoff_delay(1, base=60, cap=3600, retry_after=86400) == 3600


def test_backoff_can_believe_a_retry_after_beyond_the_cap() -> None:
    # The alert outbox's choice: its give_up_after bounds the wait, not the cap.
    delay = backoff_delay(2, base=30, cap=1800, retry_after=7200, retry_after_cap=math.inf)
    assert delay == 7200
    assert backoff_delay(2, base=30, cap=1800, retry_after=None, retry_after_cap=math.inf) == 60


def test_jitter_spreads_within_the_fraction_and_is_reproducible() -> None:
    draws = [jittered(100, 0.1, random.Random(7)) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = random.Random(1)
    values = [jittered(100, 0.1, rng) for _ in range(200)]
    assert all(90 <= v <= 110 for v in values)
    assert len(set(values)) > 100
    assert jittered(100, 0.0, rng) == 100


# --- health ------------------------------------------------------------------------------


def _hourly(n: int) -> list[datetime]:
    # Each burst is a poll marking several entries seen within milliseconds.
    return [T0 + timedelta(hours=h, milliseconds=ms) for h in range(n) for ms in (0, 3, 9)]


def test_feed_silent_far_longer_than_its_history_predicts_is_stale() -> None:
    times = _hourly(10)
    verdict = staleness(times, max(times) + timedelta(hours=9), factor=8, min_gap=120)
    assert verdict.stale
    assert verdict.usual_gap == pytest.approx(3600, abs=1)
    assert "usually has one every 60 min" in verdict.describe()


def test_feed_within_its_usual_rhythm_is_not_stale() -> None:
    times = _hourly(10)
    assert not staleness(times, max(times) + timedelta(hours=3), factor=8, min_gap=120).stale


def test_feed_without_enough_history_is_never_called_stale() -> None:
    times = _hourly(3)
    assert not staleness(times, max(times) + timedelta(days=30), factor=8, min_gap=120).stale
    assert not staleness([], T0, factor=8, min_gap=120).stale


def test_usual_gap_is_floored_at_the_poll_interval() -> None:
    times = [T0 + timedelta(seconds=10 * i) for i in range(10)]  # faster than we can see
    verdict = staleness(times, max(times) + timedelta(seconds=1000), factor=8, min_gap=120)
    assert not verdict.stale


def test_repeated_failures_make_a_feed_unhealthy_with_the_error_as_reason() -> None:
    fresh = staleness([], T0, factor=8, min_gap=120)
    assert health_verdict(2, "HTTP 500", fresh, unhealthy_after=3).healthy
    sick = health_verdict(3, "HTTP 500", fresh, unhealthy_after=3)
    assert not sick.healthy
    assert sick.reason is not None and "HTTP 500" in sick.reason


def test_only_health_changes_are_transitions() -> None:
    assert transition(True, False) == "unhealthy"
    assert transition(False, True) == "recovered"
    assert transition(False, False) is None
    assert transition(True, True) is None


# --- per-host limiter ----------------------------------------------------------------------


def test_host_key_groups_www_and_case() -> None:
    assert host_key("https://WWW.Tempo.co/rss") == host_key("http://tempo.co/x") == "tempo.co"


async def test_limiter_never_runs_more_than_the_cap_per_host() -> None:
    limiter = HostLimiter(per_host=2)
    active = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}

    async def job(host: str) -> None:
        async with limiter.slot(f"http://{host}.example/feed"):
            active[host] += 1
            peak[host] = max(peak[host], active[host])
            await asyncio.sleep(0.01)
            active[host] -= 1

    await asyncio.gather(*(job(h) for h in ("a", "b") for _ in range(10)))
    assert peak == {"a": 2, "b": 2}


async def test_limiter_spaces_request_starts_on_one_host() -> None:
    limiter = HostLimiter(per_host=5, min_delay=0.05)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def job() -> None:
        async with limiter.slot("http://a.example/"):
            starts.append(loop.time())

    await asyncio.gather(*(job() for _ in range(4)))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= 0.045 for g in gaps), gaps


# --- feeds file and OPML -------------------------------------------------------------------


def test_bundled_feeds_file_is_valid() -> None:
    settings = load_settings(None, env={})
    from monitor.daemon.feeds import feeds_file_path

    specs = load_feeds_file(feeds_file_path(settings))
    assert len(specs) >= 10
    assert all(s.url.startswith(("http://", "https://")) for s in specs)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"feed": [{"name": "x"}]}, "feed[0]: url: required"),
        ({"feed": [{"url": "ftp://x.example/rss"}]}, "not an absolute http(s) URL"),
        ({"feed": [{"url": "https://x.example/rss", "interval": -5}]}, "interval"),
        ({"feed": [{"url": "https://x.example/rss", "tz": "Mars/Olympus"}]}, "unknown time zone"),
        ({"feed": [{"url": "https://x.example/rss", "colour": "red"}]}, "unknown key(s) colour"),
        (
            {"feed": [{"url": "https://x.example/a"}, {"url": "https://x.example/a"}]},
            "already listed as feed[0]",
        ),
        ({"feeds": []}, "unknown top-level key(s) feeds"),
    ],
)
def test_feeds_file_errors_name_the_entry_and_the_problem(
    doc: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"feeds\.toml: ") as err:
        parse_feeds_document(doc, "feeds.toml")
    assert message in err.value.message


def test_missing_feeds_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_feeds_file(tmp_path / "nope.toml")


def test_feed_time_zones_accept_indonesian_abbreviations_and_iana_names() -> None:
    assert zone_for(None) is WIB
    assert zone_for("WITA") is WITA
    assert zone_for("Asia/Jayapura").utcoffset(datetime(2026, 1, 1)) == timedelta(hours=9)


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="Indonesia">
    <outline type="rss" text="ANTARA Dunia" xmlUrl="https://www.antaranews.com/rss/dunia"/>
    <outline type="rss" title="Tempo" text="t" xmlUrl="http://rss.tempo.co/dunia"/>
  </outline>
  <outline type="rss" text="dup" xmlUrl="http://rss.tempo.co/dunia"/>
</body></opml>"""


def test_opml_import_finds_nested_feeds_once_each() -> None:
    specs = parse_opml(OPML, "subs.opml")
    assert [(s.url, s.name) for s in specs] == [
        ("https://www.antaranews.com/rss/dunia", "ANTARA Dunia"),
        ("http://rss.tempo.co/dunia", "Tempo"),
    ]


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<opml><body><outline text="&b;" xmlUrl="https://x.example/rss"/></body></opml>',
        b'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "file:///etc/passwd"><opml/>',
    ],
)
def test_opml_with_doctype_or_entities_is_refused(doc: bytes) -> None:
    with pytest.raises(ConfigError, match="DOCTYPE or entities"):
        parse_opml(doc, "evil.opml")


def test_opml_export_round_trips() -> None:
    feeds = [Feed(url="https://a.example/rss", name="A & B"), Feed(url="https://b.example/rss")]
    specs = parse_opml(render_opml(feeds).encode("utf-8"), "out.opml")
    assert [(s.url, s.name) for s in specs] == [
        ("https://a.example/rss", "A & B"),
        ("https://b.example/rss", "https://b.example/rss"),
    ]
