"""The durable alert outbox: payloads written with the match, delivered later, never twice.

An alert row is written in the same transaction as the article and matches it comes from
(``pipeline``). ``Outbox.deliver_due`` sends pending rows per channel, marks them sent, retries
transient failures with exponential back-off (honouring Retry-After) and gives up after the
channel's ``give_up_after`` with a visible failed row. Flood control collapses the excess into
one digest message. A channel's quiet hours hold its alerts until the window ends, then send them
as one morning summary; a digest rule's alerts wait for the next hourly/daily digest
(``monitor.alert.digest``). The idempotency key (story, rule, channel) is unique in the
database, so a story can never alert twice on one channel. Workers sharing a PostgreSQL database
take turns per channel (an advisory lock, freed at once if its holder dies), so no row is sent
by two of them.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from monitor import events
from monitor.alert.digest import DigestSchedule, Pending, hold_until, plan_round
from monitor.alert.flood import FloodGate, FloodPolicy, QuietHours
from monitor.alert.message import AlertMessage, DigestMessage
from monitor.backoff import backoff_delay
from monitor.errors import AlertDeliveryError
from monitor.metrics import Metrics
from monitor.models import ActorMention, MatchResult, Span, TermHit, TopicScore
from monitor.textsafe import for_terminal
from storage import outbox as outbox_rows
from storage import repo
from storage.engine import Transaction, session_scope
from storage.gate import StorageGate
from storage.locks import try_exclusive
from storage.tables import AlertRow

log = logging.getLogger(__name__)


def _hit(h: TermHit) -> dict[str, Any]:
    return {"term": h.term, "start": h.span.start, "end": h.span.end, "snippet": h.snippet}


def _unhit(d: Mapping[str, Any]) -> TermHit:
    return TermHit(str(d["term"]), Span(int(d["start"]), int(d["end"])), str(d["snippet"]))


def alert_payload(
    *,
    rule: str,
    title: str,
    url: str,
    source: str,
    published: datetime | None,
    match: MatchResult,
    follow_up: str | None = None,
) -> dict[str, Any]:
    """The JSON stored in an outbox row: everything a channel needs to render the alert."""
    return {
        "rule": rule,
        "title": title,
        "url": url,
        "source": source,
        "published": published.isoformat() if published else None,
        "topics": [
            {
                "name": t.name,
                "score": t.score,
                "substantive": t.substantive,
                "hits": [_hit(h) for h in t.hits[:3]],
            }
            for t in match.topics
        ],
        "actors": [
            {"name": a.name, "via": a.via, "count": a.count, "hits": [_hit(h) for h in a.hits[:3]]}
            for a in match.actors
        ],
        "follow_up": follow_up,
    }


def match_from_payload(payload: Mapping[str, Any]) -> MatchResult:
    topics = tuple(
        TopicScore(
            name=str(t["name"]),
            score=float(t["score"]),
            substantive=bool(t["substantive"]),
            hits=tuple(_unhit(h) for h in t.get("hits", [])),
        )
        for t in payload.get("topics", [])
    )
    actors = tuple(
        ActorMention(
            name=str(a["name"]),
            via=a["via"],
            count=int(a["count"]),
            hits=tuple(_unhit(h) for h in a.get("hits", [])),
        )
        for a in payload.get("actors", [])
    )
    return MatchResult(topics=topics, actors=actors)


def message_from_row(row: AlertRow, also_reported_by: Sequence[str] = ()) -> AlertMessage:
    payload = json.loads(row.payload)
    match = match_from_payload(payload)
    published = payload.get("published")
    return AlertMessage(
        story_id=row.story_id,
        article_id=row.article_id,
        rule=row.rule,
        title=str(payload.get("title", "")),
        url=str(payload.get("url", "")),
        source=str(payload.get("source", "")),
        published=datetime.fromisoformat(published) if published else None,
        topics=match.topics,
        actors=match.actors,
        also_reported_by=tuple(also_reported_by),
        follow_up=payload.get("follow_up"),
    )


@dataclass(frozen=True)
class DeliveryPolicy:
    flood: FloodPolicy = field(default_factory=lambda: FloodPolicy(20, 600.0))
    give_up_after: float = 6 * 3600.0
    retry_base: float = 30.0
    retry_max: float = 1800.0
    quiet: QuietHours | None = None  # hold alerts in this daily window, then one summary


@dataclass
class DeliveryReport:
    sent: int = 0
    digested: int = 0
    retried: int = 0
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


def retry_delay(attempts: int, policy: DeliveryPolicy, retry_after: float | None) -> float:
    # A channel's Retry-After is believed however long: give_up_after bounds the wait.
    return backoff_delay(
        attempts,
        base=policy.retry_base,
        cap=policy.retry_max,
        retry_after=retry_after,
        retry_after_cap=math.inf,
    )


class Outbox:
    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, Any],
        *,
        policies: Mapping[str, DeliveryPolicy] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notifier: events.EventNotifier | None = None,
        digests: Mapping[str, DigestSchedule] | None = None,
        metrics: Metrics | None = None,
        storage: StorageGate | None = None,
    ) -> None:
        self.engine = engine
        # Every database call goes through the gate, off the loop (storage.gate).
        self.storage = storage or StorageGate(engine)
        self.notifier = notifier  # woken after each commit that wrote alert events
        self.channels = dict(channels)
        self.policies = dict(policies or {})
        self.clock = clock
        self.digests = dict(digests or {})  # rule name -> when its held alerts go out
        self.metrics = metrics  # the daemon's: alerts by channel and status

    def _count(self, rows: Sequence[AlertRow], status: str) -> None:
        if self.metrics is not None:
            for row in rows:
                self.metrics.alerts.labels(row.channel, status).inc()

    def policy(self, channel: str) -> DeliveryPolicy:
        return self.policies.get(channel, DeliveryPolicy())

    def _due(self, row: AlertRow) -> datetime:
        """When ``row`` would go out without quiet hours: its digest time for a digest rule
        (a failed row put back by ``retry_failed`` joins the next digest), else when written."""
        schedule = self.digests.get(row.rule)
        if schedule is None:
            return row.created_at
        return schedule.next_after(row.created_at)

    def _sendable_from(self, row: AlertRow, quiet: QuietHours | None) -> datetime:
        """When ``row`` was first allowed out: the give-up clock starts there, not at a digest's
        or a quiet night's start."""
        due = self._due(row)
        return quiet.ends_at(due) if quiet is not None else due

    async def _hold(
        self, rows: list[AlertRow], now: datetime, quiet: QuietHours | None
    ) -> list[tuple[Pending, AlertRow]]:
        """Postpone the rows that must wait (quiet hours, a digest not due yet); the rest."""
        going: list[tuple[datetime, AlertRow]] = []
        held: dict[datetime, list[AlertRow]] = {}
        for row in rows:
            due = self._due(row)
            until = hold_until(due, now, quiet)
            if until is not None:
                held.setdefault(until, []).append(row)
            else:
                going.append((due, row))

        def sources(session: Transaction) -> list[list[str]]:
            return [repo.story_sources(session, _story(row)) for _, row in going]

        found = await self.storage.transaction(sources) if going else []
        ready = [
            (Pending(message_from_row(row, names[1:]), due), row)
            for (due, row), names in zip(going, found, strict=True)
        ]
        for until, waiting in held.items():
            await self._postpone(waiting, until)
        return ready

    async def deliver_due(self, *, limit: int = 500) -> DeliveryReport:
        """Send every due pending alert once; safe to call repeatedly."""
        report = DeliveryReport()
        now = self.clock()

        def due(session: Transaction, channel: str | None = None) -> list[AlertRow]:
            return list(repo.due_alerts(session, now, limit=limit, channel=channel))

        names = sorted({r.channel for r in await self.storage.transaction(due)})
        for name in names:
            # One deliverer per channel across workers, or two would send the same rows.
            async with self.storage.hold(try_exclusive(self.engine, f"outbox:{name}")) as held:
                if not held:
                    continue  # another worker is delivering this channel right now
                # What it left, read under the lock.
                rows = await self.storage.transaction(functools.partial(due, channel=name))
                if rows:
                    await self._deliver_channel(name, rows, now, report)
        return report

    async def _deliver_channel(
        self, name: str, rows: list[AlertRow], now: datetime, report: DeliveryReport
    ) -> None:
        policy = self.policy(name)
        channel = self.channels.get(name)
        if channel is None:
            await self._fail(rows, f"channel {name!r} is not configured", now, report)
            return
        ready = await self._hold(rows, now, policy.quiet)
        if not ready:
            return
        gate = FloodGate(policy.flood)
        since = now - timedelta(seconds=policy.flood.per_seconds)
        sent_times = await self.storage.transaction(
            functools.partial(_sent_times, channel=name, since=since)
        )
        if gate.budget(sent_times, now) <= 0:
            await self._postpone([r for _, r in ready], gate.next_free_slot(sent_times, now))
            return
        row_of = {id(p.message): r for p, r in ready}
        plan = plan_round(
            gate, [p for p, _ in ready], sent_times, now, quiet=policy.quiet, schedules=self.digests
        )
        if plan.deferred:
            planned_times = [*sent_times, *[now] * len(plan.messages)]
            wait_until = gate.next_free_slot(planned_times, now)
            await self._postpone([row_of[id(m)] for m in plan.deferred], wait_until)
        for planned in plan.messages:
            items = planned.items if isinstance(planned, DigestMessage) else (planned,)
            planned_rows = [row_of[id(m)] for m in items]
            try:
                await channel.send(planned)
            except AlertDeliveryError as exc:
                await self._after_failure(planned_rows, exc, policy, now, report)
                continue
            except Exception as exc:  # a channel bug must not kill delivery on the others
                log.exception("channel %s raised an unexpected error", name)
                err = AlertDeliveryError(f"{name}: unexpected error: {exc}", channel=name)
                await self._after_failure(planned_rows, err, policy, now, report)
                continue
            status = "digested" if isinstance(planned, DigestMessage) else "sent"
            await self._mark(planned_rows, status=status, sent_at=self.clock())
            self._count(planned_rows, status)
            if isinstance(planned, DigestMessage):
                log.info("alert digest of %d sent on %s", len(planned_rows), name)
            else:
                # One line, whatever the feed put in the title.
                log.info("alert sent on %s: %s", name, for_terminal(planned.title))
            report.messages += 1
            if status == "sent":
                report.sent += 1
            else:
                report.digested += len(planned_rows)

    async def _mark(self, rows: Sequence[AlertRow], *, status: str, sent_at: datetime) -> None:
        def mark(session: Transaction) -> None:
            for row in rows:
                db_row = outbox_rows.mark_delivered(session, row.id, status=status, sent_at=sent_at)
                if db_row is not None:
                    _append_alert_event(session, db_row, status=status)

        await self.storage.transaction(mark)
        self._notify()

    def _notify(self) -> None:
        if self.notifier is not None:
            self.notifier.notify()

    async def _postpone(self, rows: Sequence[AlertRow], until: datetime) -> None:
        ids = [row.id for row in rows]
        await self.storage.transaction(lambda session: outbox_rows.postpone(session, ids, until))

    async def _fail(
        self,
        rows: Sequence[AlertRow],
        error: str,
        now: datetime,
        report: DeliveryReport,
        *,
        logged: bool = False,
    ) -> None:
        def fail(session: Transaction) -> None:
            for row in rows:
                db_row = outbox_rows.mark_failed(session, row.id, error)
                if db_row is not None:
                    _append_alert_event(session, db_row, error=error)

        await self.storage.transaction(fail)
        self._notify()
        report.failed += len(rows)
        self._count(rows, "failed")
        report.errors.append(error)
        if not logged:
            log.error("alerts failed: %s", error)

    async def _after_failure(
        self,
        rows: Sequence[AlertRow],
        exc: AlertDeliveryError,
        policy: DeliveryPolicy,
        now: datetime,
        report: DeliveryReport,
    ) -> None:
        give_up = [
            r
            for r in rows
            if not exc.transient
            or (now - self._sendable_from(r, policy.quiet)).total_seconds() >= policy.give_up_after
        ]
        retry = [r for r in rows if r not in give_up]
        channel = rows[0].channel if rows else exc.channel
        if self.metrics is not None and channel:
            self.metrics.channel_last_failure.labels(channel).set(self.clock().timestamp())
        # One log line per failed attempt, whatever became of its rows.
        if retry:
            log.warning(
                "alert delivery on %s failed (%d alert(s) will be retried%s): %s",
                channel,
                len(retry),
                f", {len(give_up)} given up" if give_up else "",
                exc.message,
            )
        else:
            log.error(
                "alert delivery on %s failed, %d alert(s) given up: %s",
                channel,
                len(give_up),
                exc.message,
            )
        if give_up:
            reason = exc.message if not exc.transient else f"gave up: {exc.message}"
            await self._fail(give_up, reason, now, report, logged=True)
        if retry:
            # A delay (Retry-After above all) counts from the failed answer, not from the
            # start of the round: the reads before the send take time too.
            failed_at = self.clock()

            def next_attempt_at(attempts: int) -> datetime:
                delay = retry_delay(attempts, policy, exc.retry_after)
                return failed_at + timedelta(seconds=delay)

            def later(session: Transaction) -> None:
                for row in retry:
                    db_row = outbox_rows.retry_later(
                        session, row.id, error=exc.message, next_attempt_at=next_attempt_at
                    )
                    if db_row is not None:
                        _append_alert_event(session, db_row, error=exc.message, final=False)

            await self.storage.transaction(later)
            self._notify()
            report.retried += len(retry)
            self._count(retry, "retried")


def _story(row: AlertRow) -> int:
    assert row.story_id is not None
    return row.story_id


def _sent_times(session: Transaction, channel: str, since: datetime) -> list[datetime]:
    """When ``channel`` sent messages since ``since``: a digest's rows share one stamp and
    count once against the flood budget."""
    stamps = outbox_rows.delivery_stamps(session, channel, since)
    times = [t for t, s in stamps if s == "sent"]
    times += sorted({t for t, s in stamps if s == "digested"})
    return times


def _append_alert_event(
    session: Transaction,
    row: AlertRow,
    *,
    status: str = "",
    error: str | None = None,
    final: bool = True,
) -> None:
    """The documented ``alert.sent`` / ``alert.failed`` event for one outbox row."""
    assert row.id is not None
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {}
    common: dict[str, Any] = {
        "alert_id": row.id,
        "channel": row.channel,
        "rule": row.rule,
        "kind": row.kind,
        "story_id": row.story_id,
        "article_id": row.article_id,
        "title": str(payload.get("title", "")),
        "url": str(payload.get("url", "")),
        "attempts": row.attempts,
    }
    if error is None:
        data = events.alert_sent(status=status, **common)
        repo.append_event(session, events.ALERT_SENT, events.encode(data))
        return
    data = events.alert_failed(
        error=error, final=final, next_attempt_at=None if final else row.next_attempt_at, **common
    )
    repo.append_event(session, events.ALERT_FAILED, events.encode(data))


def failed_alerts(engine: Engine) -> list[AlertRow]:
    with session_scope(engine) as session:
        return outbox_rows.failed_alerts(session)


def retry_failed(engine: Engine, now: datetime) -> int:
    """Put failed alerts back in the queue (``pantau alerts retry``)."""
    with session_scope(engine) as session:
        return outbox_rows.requeue_failed(session, now)
