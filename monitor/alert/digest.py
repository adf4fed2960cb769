"""Scheduled digests and quiet hours: when a pending alert may go out, and as what.

Pure functions over (pending alerts, when each became due, send history, now); the outbox does
the I/O. A rule with ``digest = "hourly"`` (or ``"daily"`` at ``digest_at``) holds its alerts
until the next digest time and sends them as ONE message. A channel with quiet hours holds
everything due inside the window; when it ends, the held alerts go out together as one morning
summary (or alone, when only one was held). Each collapsed message costs one message of the
channel's flood budget, and nothing beyond the budget is sent: it waits for the next free slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Literal

from monitor.alert.flood import FloodGate, QuietHours, digest_title, make_digest
from monitor.alert.message import AlertMessage, DigestMessage
from monitor.timeofday import WIB

_PERIOD = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


@dataclass(frozen=True)
class DigestSchedule:
    """When a digest rule's held alerts go out: every hour on the hour, or daily at ``at``."""

    every: Literal["hourly", "daily"]
    at: time = time(7, 0)
    tz: tzinfo = WIB

    @property
    def period(self) -> timedelta:
        return _PERIOD[self.every]

    @property
    def label(self) -> str:
        return "Hourly digest" if self.every == "hourly" else "Daily digest"

    def next_after(self, when: datetime) -> datetime:
        """The first digest time strictly after ``when``."""
        local = when.astimezone(self.tz)
        if self.every == "hourly":
            slot = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        else:
            slot = datetime.combine(local.date(), self.at, tzinfo=self.tz)
            if slot <= local:
                slot = datetime.combine(local.date() + timedelta(days=1), self.at, tzinfo=self.tz)
        return slot


@dataclass(frozen=True)
class Pending:
    """A pending alert and when it would have gone out with no quiet hours in the way: its
    creation for an ordinary rule, its digest time for a digest rule."""

    message: AlertMessage
    due: datetime


def hold_until(due: datetime, now: datetime, quiet: QuietHours | None) -> datetime | None:
    """When an alert due at ``due`` may go out, or None if it may go out ``now``."""
    release = due if due > now else now
    if quiet is not None and quiet.is_quiet(release):
        release = quiet.ends_at(release)
    return release if release > now else None


def _held_overnight(item: Pending, quiet: QuietHours | None, now: datetime) -> bool:
    if quiet is None:
        return False
    start, end = quiet.window_around(now)
    return start <= item.due < end <= now


def morning_summary(
    quiet: QuietHours, held: Sequence[AlertMessage], now: datetime
) -> DigestMessage:
    """'Morning summary: 7 new articles mention Vladimir Putin while you were away (22:00–06:00
    WIB)' listing every alert held in the latest quiet window."""
    summary = quiet.summary(held, now)
    start = summary.window_start
    hours = f"{quiet.start:%H:%M}–{quiet.end:%H:%M} {start.tzname() or ''}".rstrip()
    label = "Morning summary" if quiet.end < time(12, 0) else "Quiet-hours summary"
    title = digest_title(held, f"while you were away ({hours})")
    return replace(summary, title=f"{label}: {title}")


def scheduled_digest(
    schedule: DigestSchedule, items: Sequence[Pending], now: datetime
) -> DigestMessage:
    """'Hourly digest: 3 new articles mention Vladimir Putin in the last hour'."""
    end = max(i.due for i in items)
    start = min(i.due for i in items) - schedule.period
    digest = make_digest([i.message for i in items], window_start=start, window_end=min(end, now))
    period = "in the last hour" if schedule.every == "hourly" else "in the last day"
    return replace(digest, title=f"{schedule.label}: {digest_title(digest.items, period)}")


@dataclass(frozen=True)
class DeliveryPlan:
    messages: list[AlertMessage | DigestMessage] = field(default_factory=list)
    deferred: list[AlertMessage] = field(default_factory=list)  # over budget: next free slot


def plan_round(
    gate: FloodGate,
    pending: Sequence[Pending],
    sent_times: Sequence[datetime],
    now: datetime,
    *,
    quiet: QuietHours | None = None,
    schedules: Mapping[str, DigestSchedule] | None = None,
) -> DeliveryPlan:
    """What to send now for alerts that are all due (none held): the morning summary first,
    then one digest per digest rule, then the rest one by one while they fit the budget, else
    collapsed into one flood digest. Whatever the budget cannot take is deferred."""
    schedules = schedules or {}
    held = [p.message for p in pending if _held_overnight(p, quiet, now)]
    by_rule: dict[str, list[Pending]] = {}
    plain: list[AlertMessage] = []
    for p in pending:
        if _held_overnight(p, quiet, now):
            continue
        if p.message.rule in schedules:
            by_rule.setdefault(p.message.rule, []).append(p)
        else:
            plain.append(p.message)
    units: list[AlertMessage | DigestMessage] = []
    if held:
        assert quiet is not None
        units.append(held[0] if len(held) == 1 else morning_summary(quiet, held, now))
    units += [scheduled_digest(schedules[rule], items, now) for rule, items in by_rule.items()]
    budget = gate.budget(sent_times, now)
    plan = DeliveryPlan(messages=units[:budget])
    for unit in units[budget:]:
        plan.deferred.extend(unit.items if isinstance(unit, DigestMessage) else (unit,))
    room = budget - len(plan.messages)
    if not plain:
        return plan
    if room <= 0:
        plan.deferred.extend(plain)
    elif len(plain) <= room:
        plan.messages.extend(plain)
    else:
        window_start = now - timedelta(seconds=gate.policy.per_seconds)
        plan.messages.append(make_digest(plain, window_start=window_start, window_end=now))
    return plan
