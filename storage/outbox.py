"""The alert outbox's rows after they were written: delivery stamps and status changes.

``repo.save_article`` writes alerts and ``repo.due_alerts`` finds the ones to send; the
delivery policy (flood control, back-off, giving up) is ``monitor.alert.outbox``'s, which
decides and calls these to apply. Each change returns the updated row (None when it is gone),
so the caller can describe it in the event stream in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from storage.tables import AlertRow

DELIVERED = ("sent", "digested")


def delivery_stamps(session: Session, channel: str, since: datetime) -> list[tuple[datetime, str]]:
    """(sent_at, status) of the alerts ``channel`` delivered since ``since`` (sent or digested)."""
    rows = session.exec(
        select(AlertRow.sent_at, AlertRow.status).where(
            AlertRow.channel == channel,
            col(AlertRow.sent_at) >= since,
            col(AlertRow.status).in_(DELIVERED),
        )
    ).all()
    return [(sent_at, status) for sent_at, status in rows if sent_at is not None]


def mark_delivered(
    session: Session, alert_id: int | None, *, status: str, sent_at: datetime
) -> AlertRow | None:
    """Record a delivery (``status`` sent or digested): one more attempt, no error."""
    row = session.get(AlertRow, alert_id)
    if row is not None:
        row.status = status
        row.sent_at = sent_at
        row.attempts += 1
        row.last_error = None
    return row


def postpone(session: Session, alert_ids: Iterable[int | None], until: datetime) -> None:
    """Hold alerts back until ``until`` (quiet hours, a digest, flood control)."""
    for alert_id in alert_ids:
        row = session.get(AlertRow, alert_id)
        if row is not None:
            row.next_attempt_at = until


def mark_failed(session: Session, alert_id: int | None, error: str) -> AlertRow | None:
    """Give up on an alert: it stays visible as failed with its last error."""
    row = session.get(AlertRow, alert_id)
    if row is not None:
        row.status = "failed"
        row.last_error = error
    return row


def retry_later(
    session: Session,
    alert_id: int | None,
    *,
    error: str,
    next_attempt_at: Callable[[int], datetime],
) -> AlertRow | None:
    """Count a failed attempt and schedule the next one at ``next_attempt_at(attempts)``
    (attempts including this one: the back-off grows with them)."""
    row = session.get(AlertRow, alert_id)
    if row is not None:
        row.attempts += 1
        row.next_attempt_at = next_attempt_at(row.attempts)
        row.last_error = error
    return row


def failed_alerts(session: Session) -> list[AlertRow]:
    """Every alert given up on, oldest first."""
    query = select(AlertRow).where(AlertRow.status == "failed").order_by(col(AlertRow.id))
    return list(session.exec(query).all())


def requeue_failed(session: Session, now: datetime) -> int:
    """Put every failed alert back in the queue, due ``now``, with a fresh give-up clock;
    returns how many."""
    rows = session.exec(select(AlertRow).where(AlertRow.status == "failed")).all()
    for row in rows:
        row.status = "pending"
        row.next_attempt_at = now
        row.created_at = now  # restart the give-up clock
    return len(rows)
