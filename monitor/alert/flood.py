"""Flood control and quiet hours, as pure functions of (pending alerts, send history, now).

``FloodGate.plan`` lets alerts through one by one while a channel is under its limit
(``max_messages`` per ``per_seconds``) and collapses everything beyond into ONE digest, so a
story breaking across 50 outlets costs analysts at most ``max_messages`` + 1 notifications per
call. Nothing is ever dropped: every pending alert is either sent or listed in the digest. The
caller (the outbox) calls ``plan`` once per delivery round and records each returned message's
send time, digests included, so a sustained storm yields at most one digest per round.

``QuietHours`` says when alerts are held; the held alerts go out as one morning summary built by
the same ``make_digest``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from monitor.alert.message import AlertMessage, DigestMessage
from monitor.timeofday import WIB


@dataclass(frozen=True)
class FloodPolicy:
    max_messages: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.max_messages < 0 or self.per_seconds <= 0:
            raise ValueError("flood policy needs max_messages >= 0 and per_seconds > 0")


def humanise_seconds(seconds: float) -> str:
    """600 -> '10 minutes', 3600 -> 'hour', 90 -> '90 seconds', 172800 -> '2 days'."""
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    for unit, size in units:
        if seconds >= size and (seconds % size == 0 or seconds >= 2 * size):
            count = round(seconds / size)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def _plural(count: int) -> str:
    return "1 new article" if count == 1 else f"{count} new articles"


def digest_title(items: Sequence[AlertMessage], period: str) -> str:
    """'12 new articles mention Vladimir Putin in the last 10 minutes'.

    Named after the actor in most items (ties: alphabetical), else the substantive topic in
    most items, else just the count. When the theme covers only some items, says how many.
    """
    total = len(items)
    actors = Counter(name for item in items for name in {a.name for a in item.actors})
    topics = Counter(
        name for item in items for name in {t.name for t in item.topics if t.substantive}
    )
    for counter, verb in ((actors, "mention"), (topics, "are about")):
        if counter:
            name, count = min(counter.items(), key=lambda kv: (-kv[1], kv[0]))
            if count == total:
                verb = (
                    verb if total != 1 else {"mention": "mentions", "are about": "is about"}[verb]
                )
                return f"{_plural(total)} {verb} {name} {period}"
            return f"{_plural(total)} {period}, {count} {verb} {name}"
    return f"{_plural(total)} {period}"


def make_digest(
    items: Sequence[AlertMessage],
    *,
    window_start: datetime,
    window_end: datetime,
    period: str | None = None,
) -> DigestMessage:
    """Collapse ``items`` (in the given order) into one digest message."""
    if period is None:
        seconds = (window_end - window_start).total_seconds()
        period = f"in the last {humanise_seconds(seconds)}"
    return DigestMessage(
        title=digest_title(items, period),
        items=tuple(items),
        window_start=window_start,
        window_end=window_end,
    )


class FloodGate:
    def __init__(self, policy: FloodPolicy) -> None:
        self.policy = policy

    def recent(self, sent_times: Sequence[datetime], now: datetime) -> int:
        """How many messages went out in the window ending at ``now``."""
        since = now - timedelta(seconds=self.policy.per_seconds)
        return sum(1 for t in sent_times if since < t <= now)

    def budget(self, sent_times: Sequence[datetime], now: datetime) -> int:
        return max(0, self.policy.max_messages - self.recent(sent_times, now))

    def next_free_slot(self, sent_times: Sequence[datetime], now: datetime) -> datetime:
        """When the next individual message may go out (``now`` if it may already)."""
        window = timedelta(seconds=self.policy.per_seconds)
        inside = sorted(t for t in sent_times if now - window < t <= now)
        excess = len(inside) - self.policy.max_messages
        if excess < 0:
            return now
        return inside[excess] + window

    def plan(
        self,
        pending: Sequence[AlertMessage],
        sent_times: Sequence[datetime],
        now: datetime,
    ) -> list[AlertMessage | DigestMessage]:
        """Individual messages while under the limit, then one digest for all the rest."""
        budget = self.budget(sent_times, now)
        if len(pending) <= budget:
            return list(pending)
        plan: list[AlertMessage | DigestMessage] = list(pending[:budget])
        window_start = now - timedelta(seconds=self.policy.per_seconds)
        plan.append(make_digest(pending[budget:], window_start=window_start, window_end=now))
        return plan


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local to ``tz``) when alerts are held; may cross midnight (22:00-06:00).

    ``start == end`` means no quiet hours at all.
    """

    start: time
    end: time
    tz: tzinfo = WIB

    def is_quiet(self, now: datetime) -> bool:
        local = now.astimezone(self.tz).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def window_around(self, now: datetime) -> tuple[datetime, datetime]:
        """The quiet window containing ``now``, or else the most recent one before it."""
        local = now.astimezone(self.tz)
        for days_back in range(3):
            day = local.date() - timedelta(days=days_back)
            start = datetime.combine(day, self.start, tzinfo=self.tz)
            end_day = day if self.start < self.end else day + timedelta(days=1)
            end = datetime.combine(end_day, self.end, tzinfo=self.tz)
            if start <= local:
                return start, end
        raise AssertionError("unreachable: a quiet window starts every day")

    def ends_at(self, now: datetime) -> datetime:
        """When the quiet period containing ``now`` ends (``now`` if not quiet)."""
        if not self.is_quiet(now):
            return now
        return self.window_around(now)[1]

    def summary(self, held: Sequence[AlertMessage], now: datetime) -> DigestMessage:
        """The morning summary of alerts held during the latest quiet window."""
        start, end = self.window_around(now)
        hours = f"{self.start:%H:%M}–{self.end:%H:%M} {start.tzname() or ''}".rstrip()
        period = (
            f"during quiet hours ({hours})" if self.start < self.end else f"overnight ({hours})"
        )
        return make_digest(held, window_start=start, window_end=min(end, now), period=period)
