"""Work only one worker may do at a time, across processes: PostgreSQL advisory locks.

This module is the one place that names advisory-lock keys. Two kinds of lock are used:

- a session-level lock (:func:`try_exclusive`, keyed by :func:`lock_key`) lives as long as the
  connection that took it, so a worker killed mid-work frees it at once (the server drops its
  connection) and nobody waits for a timeout;
- a transaction-level lock (:func:`serialise_story_decisions`, the schema upgrade) is waited
  for and held until the transaction ends.

SQLite has no such locks and a SQLite database serves one daemon (it serialises writers
anyway), so there every lock is granted at once; :func:`one_daemon` makes sure it is one: an
exclusive ``flock`` on a file beside the database, held while the daemon runs and dropped by the
kernel when its process dies (no stale lock after a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from storage.errors import DaemonRunningError, wrap_exceptions

# Fixed keys, older than lock_key(): kept as they are so that workers of different Pantau
# versions sharing one database still exclude each other.
STORY_DECISIONS_KEY = 0x50414E54  # "PANT": story decisions (new story or copy) across workers
SCHEMA_UPGRADE_KEY = 0x70616E746175  # "pantau": schema migrations


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory lock key space)."""
    digest = hashlib.sha256(f"pantau:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold_for_transaction(conn: Connection, key: int) -> None:
    """Wait for the advisory lock ``key`` and hold it until ``conn``'s transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def serialise_story_decisions(session: Session) -> None:
    """Make this transaction the only one deciding stories (new story or copy) until it ends,
    so two workers never open two stories for one event."""
    if session.get_bind().dialect.name == "postgresql":
        hold_for_transaction(session.connection(), STORY_DECISIONS_KEY)


@contextmanager
def try_exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock ``name`` for the block unless another worker holds it; yields whether
    this worker holds it (the block should skip the work when it does not)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = {"key": lock_key(name)}
    with wrap_exceptions(), engine.connect() as conn:
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


def daemon_lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".daemon-lock")


@contextmanager
def one_daemon(engine: Engine) -> Iterator[None]:
    """Hold the daemon lock of ``engine``'s SQLite file for the block (PostgreSQL, or an
    in-memory database: nothing to hold, several workers are welcome). Raises
    :class:`DaemonRunningError` naming the other daemon's pid when it is taken."""
    name = engine.url.database or ""
    if engine.dialect.name != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        yield
        return
    database = Path(name).resolve()
    path = daemon_lock_path(database)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonRunningError(str(database), _holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing drops the flock


def _holder(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    return None
