from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from monitor.alert.flood import FloodGate, FloodPolicy, QuietHours, make_digest
from monitor.alert.message import AlertMessage, DigestMessage
from monitor.models import ActorMention, TopicScore
from tests.alert_servers import sample_alert

NOW = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)
TEN_MINUTES = FloodPolicy(max_messages=5, per_seconds=600)


def split(
    plan: list[AlertMessage | DigestMessage],
) -> tuple[list[AlertMessage], list[DigestMessage]]:
    singles = [m for m in plan if isinstance(m, AlertMessage)]
    digests = [m for m in plan if isinstance(m, DigestMessage)]
    return singles, digests


def test_fifty_alerts_become_five_messages_and_one_digest_of_the_other_45() -> None:
    pending = [sample_alert(n) for n in range(50)]
    singles, digests = split(FloodGate(TEN_MINUTES).plan(pending, [], NOW))
    assert singles == pending[:5]
    [digest] = digests
    assert digest.items == tuple(pending[5:])
    assert digest.title == "45 new articles mention Vladimir Putin in the last 10 minutes"
    assert (digest.window_start, digest.window_end) == (NOW - timedelta(minutes=10), NOW)


def test_under_the_limit_every_alert_goes_out_on_its_own() -> None:
    pending = [sample_alert(n) for n in range(3)]
    sent = [NOW - timedelta(minutes=9), NOW - timedelta(minutes=20)]
    assert FloodGate(TEN_MINUTES).plan(pending, sent, NOW) == pending


def test_messages_sent_earlier_in_the_window_use_up_the_budget() -> None:
    gate = FloodGate(TEN_MINUTES)
    sent = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)] + [NOW - timedelta(minutes=11)]
    singles, digests = split(gate.plan([sample_alert(n) for n in range(4)], sent, NOW))
    assert len(singles) == 1
    assert [len(d.items) for d in digests] == [3]
    full = [*sent, NOW - timedelta(seconds=5)]
    singles, digests = split(gate.plan([sample_alert(n) for n in range(2)], full, NOW))
    assert singles == [] and len(digests[0].items) == 2
    assert gate.next_free_slot(full, NOW) == NOW - timedelta(minutes=4) + timedelta(minutes=10)


def test_digest_is_titled_by_the_most_common_actor_then_topic() -> None:
    putin = [sample_alert(n) for n in range(3)]
    biden = [sample_alert(n, actor="Joe Biden") for n in range(3, 8)]
    digest = make_digest(putin + biden, window_start=NOW - timedelta(hours=1), window_end=NOW)
    assert digest.title == "8 new articles in the last hour, 5 mention Joe Biden"

    no_actors = [replace(sample_alert(n), actors=()) for n in range(2)]
    digest = make_digest(no_actors, window_start=NOW - timedelta(seconds=90), window_end=NOW)
    assert digest.title == "2 new articles are about NATO in the last 90 seconds"


@given(
    count=st.integers(0, 40),
    limit=st.integers(0, 8),
    ages=st.lists(st.integers(0, 1200), max_size=12),
)
def test_plan_never_drops_or_repeats_an_alert(count: int, limit: int, ages: list[int]) -> None:
    gate = FloodGate(FloodPolicy(max_messages=limit, per_seconds=600))
    pending = [sample_alert(n) for n in range(count)]
    sent = [NOW - timedelta(seconds=a) for a in ages]
    singles, digests = split(gate.plan(pending, sent, NOW))
    assert len(digests) <= 1
    assert singles + [i for d in digests for i in d.items] == pending
    assert len(singles) <= gate.budget(sent, NOW)


WIB = ZoneInfo("Asia/Jakarta")
NIGHT = QuietHours(time(22, 0), time(6, 0), WIB)


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB).astimezone(UTC)


def test_quiet_hours_cross_midnight_in_the_configured_zone() -> None:
    assert NIGHT.is_quiet(wib(21, 22, 0))
    assert NIGHT.is_quiet(wib(21, 23, 30))
    assert NIGHT.is_quiet(wib(22, 0, 0))
    assert NIGHT.is_quiet(wib(22, 5, 59))
    assert not NIGHT.is_quiet(wib(22, 6, 0))
    assert not NIGHT.is_quiet(wib(21, 12, 0))
    assert not NIGHT.is_quiet(wib(21, 21, 59))
    # 23:30 WIB is 16:30 UTC: the zone, not UTC, decides.
    assert NIGHT.is_quiet(datetime(2026, 11, 21, 16, 30, tzinfo=UTC))
    assert NIGHT.ends_at(wib(21, 23, 30)) == wib(22, 6, 0)
    assert NIGHT.ends_at(wib(22, 1, 0)) == wib(22, 6, 0)
    assert NIGHT.ends_at(wib(22, 9, 0)) == wib(22, 9, 0)


def test_daytime_quiet_hours_and_an_empty_window() -> None:
    lunch = QuietHours(time(12, 0), time(13, 0), WIB)
    assert lunch.is_quiet(wib(21, 12, 30))
    assert not lunch.is_quiet(wib(21, 13, 0)) and not lunch.is_quiet(wib(21, 23, 0))
    never = QuietHours(time(8, 0), time(8, 0), WIB)
    assert not any(never.is_quiet(wib(21, h)) for h in range(24))


def test_alerts_held_overnight_come_out_as_one_morning_summary() -> None:
    held = [sample_alert(n) for n in range(12)]
    summary = NIGHT.summary(held, wib(22, 6, 5))
    assert summary.items == tuple(held)
    assert summary.title == ("12 new articles mention Vladimir Putin overnight (22:00–06:00 WIB)")
    assert (summary.window_start, summary.window_end) == (wib(21, 22, 0), wib(22, 6, 0))


def test_single_item_digest_reads_naturally() -> None:
    alert = replace(
        sample_alert(),
        actors=(ActorMention("Jens Stoltenberg", "name", 1),),
        topics=(TopicScore("NATO", 0.9, True),),
    )
    digest = make_digest([alert], window_start=NOW - timedelta(minutes=10), window_end=NOW)
    assert digest.title == "1 new article mentions Jens Stoltenberg in the last 10 minutes"
