"""Engine and session set-up for SQLite (embedded default) and PostgreSQL.

:func:`session_scope` is the storage boundary: database exceptions leave it as
:mod:`storage.errors` (``wrap_exceptions``), never as SQLAlchemy's.

A database URL may hold a password: errors show it through :func:`storage.urls.hide_password`
(re-exported here), the one function that masks it wherever a URL is shown. A new SQLite file
is created readable by its owner only (0600, whatever the umask); SQLite gives its -wal and
-shm files the same mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session, SQLModel, create_engine

from storage import tables as _tables  # noqa: F401  (registers the tables)
from storage.errors import StorageError, wrap_exceptions
from storage.urls import hide_password as hide_password  # re-exported: shown URLs

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


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 unless it exists (an existing file keeps the mode its
    owner gave it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError:  # it exists, or cannot be made: SQLite says why when it opens it
        return
    try:
        os.fchmod(fd, 0o600)  # a umask such as 0o277 would otherwise leave it unreadable
    finally:
        os.close(fd)


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for an in-memory database or a URI with options."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or parsed.query or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys on every connection.

    Raises StorageError (the URL shown without its password) when the URL cannot be used, and
    OSError when the SQLite file's folder cannot be created."""
    try:
        return _make_engine(url, echo=echo)
    except (ArgumentError, ValueError, ImportError) as exc:
        raise StorageError(
            f"cannot use the database URL {hide_password(url)}: {hide_password(str(exc))}; "
            "give sqlite:///PATH or postgresql://USER@HOST/DATABASE",
            transient=False,
        ) from None  # the original's message may hold the password


def _make_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        file = _sqlite_file(url)
        if file is not None:
            _create_private(file)
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
