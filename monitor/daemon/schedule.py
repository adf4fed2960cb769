"""Polling policy: the bounds and server hints around a feed's interval (the interval itself is
learned from the feed's publication history: :mod:`monitor.daemon.cadence`), jitter, and when a
feed is unhealthy (the back-off after a failure is :func:`monitor.backoff.backoff_delay`, shared
with the alert outbox).

Pure functions over plain numbers and datetimes; the poller feeds them what a fetch returned
and stores what they decide. Nothing here sleeps, reads a clock or draws a random number
except through what it is given.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitor.config import ScheduleSettings

# A verdict on staleness needs this many gaps between bursts of new items.
MIN_HISTORY_GAPS = 4

Transition = Literal["unhealthy", "recovered"]


@dataclass(frozen=True)
class Limits:
    """The bounds a feed's interval moves within, in seconds."""

    min_interval: float
    max_interval: float

    @classmethod
    def from_settings(cls, s: ScheduleSettings) -> Limits:
        return cls(min_interval=s.min_interval, max_interval=max(s.min_interval, s.max_interval))

    def clamp(self, seconds: float) -> float:
        return min(self.max_interval, max(self.min_interval, seconds))


def server_floor(ttl_minutes: int | None = None, max_age: int | None = None) -> float:
    """The earliest the server wants to be asked again (RSS <ttl>, Cache-Control max-age)."""
    hints = [float(ttl_minutes) * 60.0 if ttl_minutes else 0.0, float(max_age or 0)]
    return max(hints)


def within_server_hints(
    seconds: float,
    limits: Limits,
    *,
    ttl_minutes: int | None = None,
    max_age: int | None = None,
) -> float:
    """``seconds`` never below what the server asked for (``<ttl>``, ``max-age``) and never
    above ``max_interval``: missing a day of news costs more than one request."""
    return min(limits.max_interval, max(seconds, server_floor(ttl_minutes, max_age)))


def jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    """``seconds`` spread by +-``jitter`` (a fraction) so feeds do not poll in lockstep."""
    if jitter <= 0 or seconds <= 0:
        return seconds
    return seconds * (1.0 + rng.uniform(-jitter, jitter))


# --- health ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Staleness:
    """How long a feed has been silent against how often it usually has something new."""

    stale: bool
    silent_for: float | None = None
    usual_gap: float | None = None

    def describe(self) -> str:
        if self.silent_for is None or self.usual_gap is None:
            return "not enough history"
        return (
            f"no new item for {human_duration(self.silent_for)} "
            f"(it usually has one every {human_duration(self.usual_gap)})"
        )


def usual_gap(new_item_times: Sequence[datetime], *, burst: float) -> float | None:
    """Median gap between bursts of new items; times closer than ``burst`` seconds are one
    burst (one poll marks many entries seen within milliseconds). None without enough history."""
    times = sorted(new_item_times)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    gaps = [g for g in gaps if g >= burst]
    if len(gaps) < MIN_HISTORY_GAPS:
        return None
    return float(statistics.median(gaps))


def staleness(
    new_item_times: Sequence[datetime],
    now: datetime,
    *,
    factor: float,
    min_gap: float,
) -> Staleness:
    """Stale when silent for ``factor`` times the usual gap between new items.

    ``min_gap`` (the minimum poll interval) both merges bursts and floors the usual gap: we
    cannot observe a feed changing faster than we poll it.
    """
    if not new_item_times:
        return Staleness(stale=False)
    gap = usual_gap(new_item_times, burst=min_gap / 2)
    silent = (now - max(new_item_times)).total_seconds()
    if gap is None:
        return Staleness(stale=False, silent_for=silent)
    gap = max(gap, min_gap)
    return Staleness(stale=silent > factor * gap, silent_for=silent, usual_gap=gap)


def might_be_stale(
    last_new_item_at: datetime | None, now: datetime, *, factor: float, min_gap: float
) -> bool:
    """Cheap pre-check: only a feed silent for ``factor * min_gap`` can be stale, so only then
    is its history worth reading."""
    if last_new_item_at is None:
        return False
    return now - last_new_item_at > timedelta(seconds=factor * min_gap)


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str | None = None


def health_verdict(
    failures: int, last_error: str | None, stale: Staleness, *, unhealthy_after: int
) -> Health:
    """A feed is unhealthy after ``unhealthy_after`` consecutive failures, or when stale."""
    if failures >= unhealthy_after:
        return Health(False, f"failed {failures} times in a row: {last_error or 'unknown error'}")
    if stale.stale:
        return Health(False, f"stale: {stale.describe()}")
    return Health(True)


def transition(was_healthy: bool, now_healthy: bool) -> Transition | None:
    """The health change worth one operator alert, if any."""
    if was_healthy and not now_healthy:
        return "unhealthy"
    if not was_healthy and now_healthy:
        return "recovered"
    return None


def human_duration(seconds: float) -> str:
    """``0.4 s``, ``45 s``, ``12 min``, ``3.5 h``, ``2.0 days``: for log lines and reasons."""
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
