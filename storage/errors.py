"""Errors the storage layer raises: no SQLAlchemy or driver exception leaves ``storage``.

Every entry point that touches the database (``session_scope``, the advisory locks, the
migrations, ``ping``) runs under :func:`wrap_exceptions`, which turns SQLAlchemy's exceptions
into these, as lemon24/reader's storage wraps every sqlite3 error. The original exception stays
the ``__cause__``; ``detail`` keeps the driver's own words for messages that add context.

``storage`` never imports ``monitor``, so the root of Pantau's one exception tree lives here and
``monitor.errors`` re-exports it with the storage branch (its docstring draws the whole tree).
``transient`` is True exactly for lock and connection problems: trying again later may succeed.

    PantauError
    └── StorageError                the database could not do what was asked
        ├── UnavailableError        the database cannot be reached or written now (transient)
        │   └── LockedError         another connection holds a lock this work needs (transient)
        ├── DaemonRunningError      another daemon already serves this SQLite database
        ├── DuplicateError          a row with the same unique key is already stored
        ├── QueryError              the database refused a statement (schema, data, a bug)
        └── SchemaError             the database schema cannot be used as it is
            ├── SchemaTooNewError   the database was upgraded by a newer Pantau
            ├── SchemaOutdatedError the database needs ``pantau db upgrade`` (auto-upgrade off)
            └── SchemaMismatchError tables exist but are not a schema Pantau knows
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc


class PantauError(Exception):
    """Root of all errors Pantau raises deliberately."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if transient is not None:
            self.transient = transient


class StorageError(PantauError):
    """A database problem; ``detail`` is the database's own message (the message by default)."""

    def __init__(
        self, message: str, *, transient: bool | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message, transient=transient)
        self.detail = message if detail is None else detail


class UnavailableError(StorageError):
    """Cannot connect, the connection dropped, the disk is full: retry later."""

    transient = True
    summary = "database unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.summary}: {detail}", detail=detail)


class LockedError(UnavailableError):
    """A busy SQLite file, a PostgreSQL lock timeout or deadlock: retry later."""

    summary = "database locked by another connection"


class DaemonRunningError(StorageError):
    """A second daemon on one SQLite database: both would poll the same feeds and alert twice.
    Several workers sharing one database is a PostgreSQL feature."""

    def __init__(self, database: str, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"another Pantau daemon ({who}) is already running on {database}; stop it first "
            "(one daemon per SQLite database; several workers need PostgreSQL)",
            transient=False,
        )
        self.pid = pid


class DuplicateError(StorageError):
    """A unique key (canonical URL, feed URL, alert idempotency key) is already stored,
    typically by another worker that got there first."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"already stored: {detail}", detail=detail)


class QueryError(StorageError):
    """The database refused a statement: missing tables (not a Pantau database, or one at
    another schema), bad data or a bug in Pantau."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"database refused the query: {detail}", detail=detail)


class SchemaError(StorageError):
    """The database schema cannot be used by this version of Pantau."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class SchemaTooNewError(SchemaError):
    def __init__(self, current: str, head: str) -> None:
        super().__init__(
            f"database schema {current} is newer than this Pantau (head {head}): upgrade Pantau"
        )
        self.current = current
        self.head = head


class SchemaOutdatedError(SchemaError):
    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"database schema {current or 'empty'} is older than this Pantau (head {head}) "
            "and auto_upgrade is off: run `pantau db upgrade`"
        )
        self.current = current
        self.head = head


class SchemaMismatchError(SchemaError):
    """Tables exist without a recorded revision and do not match the first schema version."""


# --- the boundary ------------------------------------------------------------------------------

# SQLSTATEs of PostgreSQL lock trouble: lock_not_available, deadlock_detected,
# serialization_failure. SQLite reports SQLITE_BUSY / SQLITE_LOCKED (and extended codes).
_PG_LOCKED = frozenset({"55P03", "40P01", "40001"})
_PG_UNIQUE = "23505"
_SQLITE_UNIQUE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _detail(exc: sa_exc.SQLAlchemyError) -> str:
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else None
    return str(orig if orig is not None else exc).strip()


def _is_locked(orig: object) -> bool:
    name = str(getattr(orig, "sqlite_errorname", ""))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    return getattr(orig, "sqlstate", None) in _PG_LOCKED


def _is_unique_violation(orig: object) -> bool:
    if getattr(orig, "sqlstate", None) == _PG_UNIQUE:
        return True
    return str(getattr(orig, "sqlite_errorname", "")) in _SQLITE_UNIQUE


def storage_error(exc: sa_exc.SQLAlchemyError) -> StorageError:
    """The storage error that stands for a SQLAlchemy exception."""
    detail = _detail(exc)
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else None
    if isinstance(exc, sa_exc.IntegrityError) and _is_unique_violation(orig):
        return DuplicateError(detail)
    if _is_locked(orig):
        return LockedError(detail)
    connection_lost = isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    if connection_lost or isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,  # no pooled connection came free in time
    ):
        return UnavailableError(detail)
    return QueryError(detail)


@contextmanager
def wrap_exceptions() -> Iterator[None]:
    """Raise any SQLAlchemy exception from the block as the matching :class:`StorageError`."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise storage_error(exc) from exc
