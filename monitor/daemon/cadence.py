"""How often to poll a feed, learned from its own publication history.

The old rule grew the interval by half whenever a poll found little new, including the poll
that found a new item: a portal publishing every few minutes drifted to 1,000 s and more
between polls. Here the interval follows the feed's publishing rate:

- **Busy** (the newest items arrived at ``busy_rate`` per hour or faster, or the same hour
  yesterday did): poll every ``min_interval``. What an analyst waits for is dominated by busy
  hours, so they get the fastest polling.
- **Quiet**: the interval grows as the rate falls, ``min_interval * busy_rate / rate``, up to
  ``max_interval``. The rate is read off the newest items *including the silence since the last
  one* (``k / (now - t_k)``), so a feed that stops publishing at night slows down by itself,
  and each new item speeds it up again (a poll that finds something new never slows it down).
- **Yesterday**: with a day of history, the hour around the same time yesterday counts too, so
  the morning rush is polled fast from its start, not after its first few items.

Pure functions over a bounded history of publication instants (POSIX seconds): the poller keeps
one :class:`PublicationHistory` per feed, adds each poll's items, and asks :func:`learned_interval`.
``benchmarks/bench_timeliness.py`` replays real Indonesian publication times against this rule
and fixed intervals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

KEEP_SECONDS = 26 * 3600.0  # a day and a bit: enough for "the same hour yesterday"
KEEP_ITEMS = 400  # the newest this-many instants are kept per feed
NEWEST = 4  # the rate is read off the newest this-many items
YESTERDAY = 86400.0
YESTERDAY_HALF_WINDOW = 1800.0
MIN_SPAN = 60.0  # never read a rate off less than a minute


@dataclass(frozen=True)
class PublicationHistory:
    """When a feed's items were published (POSIX seconds, ascending, bounded)."""

    times: tuple[float, ...] = ()

    def with_items(self, published: Iterable[datetime], now: datetime) -> PublicationHistory:
        """This history plus ``published`` (instants after ``now`` are clamped to it: a feed's
        clock may run ahead), keeping the last :data:`KEEP_SECONDS` and :data:`KEEP_ITEMS`."""
        at = now.timestamp()
        merged = set(self.times)
        merged.update(min(p.timestamp(), at) for p in published)
        floor = at - KEEP_SECONDS
        kept = sorted(t for t in merged if t >= floor)
        return PublicationHistory(tuple(kept[-KEEP_ITEMS:]))

    def rate(self, now: datetime, newest: int = NEWEST) -> float:
        """Items per hour around ``now``, from the newest ``newest`` items and the silence
        since; 0.0 without two items."""
        at = now.timestamp()
        recent = [t for t in self.times if t <= at][-newest:]
        if len(recent) < 2:
            return 0.0
        return len(recent) / max(at - recent[0], MIN_SPAN) * 3600.0

    def rate_yesterday(self, now: datetime) -> float:
        """Items per hour in the hour around this time yesterday; 0.0 when the history does
        not reach back that far (a history starting inside that hour undercounts it)."""
        if not self.times:
            return 0.0
        centre = now.timestamp() - YESTERDAY
        start, end = centre - YESTERDAY_HALF_WINDOW, centre + YESTERDAY_HALF_WINDOW
        if self.times[0] > end:
            return 0.0
        count = bisect.bisect_right(self.times, end) - bisect.bisect_left(self.times, start)
        return count * 3600.0 / (2 * YESTERDAY_HALF_WINDOW)


@dataclass(frozen=True)
class Cadence:
    """The schedule settings the rule reads (``[schedule]``)."""

    min_interval: float
    max_interval: float
    default_interval: float
    busy_rate: float  # items per hour from which a feed is polled every min_interval


def learned_interval(
    history: PublicationHistory,
    now: datetime,
    cadence: Cadence,
    *,
    fallback: float | None = None,
) -> float:
    """Seconds until the next poll (before server hints and jitter); ``fallback`` (the feed's
    last interval, kept in the database) while the history is empty, e.g. after a restart."""
    rate = max(history.rate(now), history.rate_yesterday(now))
    if rate >= cadence.busy_rate:
        return cadence.min_interval
    if rate <= 0.0:
        # Nothing to learn from yet (a new feed, or one without dates and nothing new).
        start = fallback if fallback is not None else cadence.default_interval
        return min(cadence.max_interval, max(cadence.min_interval, start))
    slower = cadence.min_interval * cadence.busy_rate / rate
    return min(cadence.max_interval, max(cadence.min_interval, slower))
