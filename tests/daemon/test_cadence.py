"""The polling cadence learned from a feed's own publication history (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config import load_settings
from monitor.daemon.cadence import KEEP_ITEMS, Cadence, PublicationHistory, learned_interval

CADENCE = Cadence(min_interval=80, max_interval=1800, default_interval=300, busy_rate=6)
MORNING = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 08:00 WIB


def history(*minutes_ago: float, now: datetime = MORNING) -> PublicationHistory:
    return PublicationHistory().with_items((now - timedelta(minutes=m) for m in minutes_ago), now)


def wait(feed: PublicationHistory, now: datetime = MORNING) -> float:
    return learned_interval(feed, now, CADENCE)


def test_a_portal_publishing_every_few_minutes_is_polled_at_the_floor() -> None:
    assert wait(history(3, 9, 14, 22, 30)) == 80


def test_one_new_item_never_slows_a_feed_down() -> None:
    """The old rule grew the interval 1.5x on a poll where one item in twenty was new."""
    quiet = history(50, 110, 170, 230)
    before = wait(quiet)
    after = wait(quiet.with_items([MORNING - timedelta(seconds=30)], MORNING))
    assert after <= before


def test_a_feed_that_fell_silent_slows_down_with_the_silence() -> None:
    burst = (0, 10, 20, 30)  # four items in half an hour, then silence
    waits = [wait(history(*(m + 60 * h for m in burst))) for h in (1, 3, 6)]
    assert 80 < waits[0] < waits[1] < waits[2] <= 1800


def test_a_feed_with_one_item_an_hour_waits_longer_than_a_busy_one() -> None:
    assert 80 * 4 < wait(history(30, 90, 150, 210)) <= 1800


def test_the_morning_rush_is_polled_fast_from_its_start_when_yesterday_was_busy() -> None:
    yesterday_rush = [24 * 60 - m for m in range(-20, 25, 4)]  # 07:40-08:20 WIB yesterday
    night = [9 * 60, 8 * 60]  # and nothing since yesterday evening
    feed = history(*yesterday_rush, *night)
    assert feed.rate(MORNING) < CADENCE.busy_rate
    assert wait(feed) == 80
    assert wait(history(*night)) > 80


def test_without_history_the_feeds_stored_interval_is_kept() -> None:
    empty = PublicationHistory()
    assert learned_interval(empty, MORNING, CADENCE, fallback=600) == 600
    assert learned_interval(empty, MORNING, CADENCE) == 300
    assert learned_interval(empty, MORNING, CADENCE, fallback=10) == 80


def test_history_stays_bounded_and_ignores_future_dates() -> None:
    assert len(history(*range(3000)).times) == KEEP_ITEMS
    ahead = PublicationHistory().with_items([MORNING + timedelta(hours=3)], MORNING)
    assert ahead.times == (MORNING.timestamp(),)
    old = history(27 * 60, 5)
    assert old.times == ((MORNING - timedelta(minutes=5)).timestamp(),)


def test_the_defaults_are_the_ones_the_timeliness_benchmark_measured() -> None:
    s = load_settings(None, env={}).schedule
    assert (s.min_interval, s.max_interval, s.default_interval, s.busy_rate) == (
        CADENCE.min_interval,
        CADENCE.max_interval,
        CADENCE.default_interval,
        CADENCE.busy_rate,
    )
