"""Reading and pruning the ``events`` table (``repo.append_event`` writes it).

Rows are handed out by id, the order consumers resume in; what the rows mean, and how a reader
copes with ids that commit out of order, is ``monitor.events``' business.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from storage.tables import Event


def events_after(session: Session, after_id: int, *, limit: int) -> list[Event]:
    """Up to ``limit`` events with ids above ``after_id``, oldest first."""
    query = select(Event).where(col(Event.id) > after_id).order_by(col(Event.id)).limit(limit)
    return list(session.exec(query).all())


def events_before(session: Session, before_id: int | None, *, limit: int) -> list[Event]:
    """Up to ``limit`` events with ids below ``before_id`` (None: any), newest first."""
    query = select(Event).order_by(col(Event.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(Event.id) < before_id)
    return list(session.exec(query).all())


def events_of_type(session: Session, type_: str, *, limit: int) -> list[Event]:
    """The last ``limit`` events of one type, newest first."""
    query = (
        select(Event).where(col(Event.type) == type_).order_by(col(Event.id).desc()).limit(limit)
    )
    return list(session.exec(query).all())


def last_event_id(session: Session) -> int:
    """The newest event id, 0 when there is none."""
    return int(session.exec(select(func.max(Event.id))).one() or 0)


def last_event_id_before(session: Session, when: datetime) -> int:
    """The newest id of the events created before ``when``, 0 when there is none."""
    found = session.exec(select(func.max(Event.id)).where(col(Event.created_at) < when)).one()
    return int(found or 0)


def prune_events(session: Session, older_than: datetime) -> int:
    """Delete events created before ``older_than``; returns how many went.

    The newest event is always kept so ids never restart (SQLite reuses the highest free id)."""
    newest = last_event_id(session)
    result = session.exec(
        delete(Event).where(col(Event.created_at) < older_than, col(Event.id) < newest)
    )
    return int(result.rowcount or 0)
