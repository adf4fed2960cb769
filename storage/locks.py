"""Work only one worker may do at a time, across processes: PostgreSQL advisory locks.

A session-level advisory lock lives as long as the connection that took it, so a worker killed
mid-work frees it at once (the server drops its connection) and nobody waits for a timeout.
SQLite has no such locks and a SQLite database serves one daemon, so there the lock is always
granted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory lock key space)."""
    digest = hashlib.sha256(f"pantau:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def try_exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block unless another worker holds it; yields whether
    this worker holds it (the block should skip the work when it does not)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = {"key": lock_key(name)}
    with engine.connect() as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar())
        conn.commit()  # the lock outlives the transaction; the connection holds it
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                conn.commit()
            except SQLAlchemyError:
                conn.invalidate()  # a closed connection frees its locks on the server
