"""Engine and session set-up for SQLite (embedded default) and PostgreSQL.

:func:`session_scope` is the storage boundary: database exceptions leave it as
:mod:`storage.errors` (``wrap_exceptions``), never as SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine

from storage import tables as _tables  # noqa: F401  (registers the tables)
from storage.errors import wrap_exceptions

SQLITE_BUSY_TIMEOUT_MS = 30_000

Transaction: TypeAlias = Session
"""An open unit of work from :func:`session_scope`: what the query functions take. Code outside
``storage`` only hands it on to them."""


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _on_sqlite_connect)
    else:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
    return engine


def create_schema(engine: Engine) -> None:
    SQLModel.metadata.create_all(engine)


def ping(engine: Engine) -> None:
    """Ask the database for an answer (``SELECT 1``); raises a StorageError when it cannot."""
    with wrap_exceptions(), engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Transaction]:
    """One transaction: committed on success, rolled back on any exception. Database errors
    leave it as storage errors (``storage.errors``)."""
    with wrap_exceptions(), Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
