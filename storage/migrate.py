"""Schema migrations: Alembic run programmatically from the scripts shipped in this package.

Start-up calls :func:`upgrade` (or :func:`check` when auto-upgrade is off). A database can be:

- empty: every revision is applied;
- at a known revision: the missing revisions are applied, rows are kept;
- at a revision this code does not know (a newer Pantau upgraded it): ``SchemaTooNewError``,
  nothing is touched;
- made by ``create_all`` before migrations existed (tables, no ``alembic_version``): adopted
  when its tables and columns are exactly the first schema version (revision 0001), which is
  then stamped and upgraded from; anything else is ``SchemaMismatchError`` so that Pantau never
  guesses about a database it did not make.

On PostgreSQL the upgrade holds an advisory lock, so workers starting together upgrade once.
Database errors leave every entry point as storage errors (``storage.errors``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage import tables as _tables  # noqa: F401  (registers the tables)
from storage.engine import make_engine
from storage.errors import (
    SchemaMismatchError,
    SchemaOutdatedError,
    SchemaTooNewError,
    wrap_exceptions,
)
from storage.locks import SCHEMA_UPGRADE_KEY, hold_for_transaction
from storage.search import FTS_TABLE, PG_SEARCH_INDEX

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
_VERSION_TABLE = "alembic_version"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Leave the full-text search objects out of schema comparison: they live outside the
    SQLModel metadata (FTS5 virtual table and its shadow tables, the GIN expression index)."""
    if name is None:
        return True
    if type_ == "table" and name.startswith(FTS_TABLE):
        return False
    return not (type_ == "index" and name == PG_SEARCH_INDEX)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def is_known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


@contextmanager
def _engine(engine_or_url: Engine | str) -> Iterator[Engine]:
    if isinstance(engine_or_url, Engine):
        yield engine_or_url
        return
    engine = make_engine(engine_or_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _atomic_ddl(engine: Engine) -> Iterator[Engine]:
    """An engine whose transactions really cover DDL, so an upgrade is all or nothing.

    pysqlite runs CREATE/ALTER outside any transaction (it only opens one before DML): a crash
    or SIGKILL in the middle of the first start's migration would leave half a schema that no
    later start accepts (SchemaMismatchError). For a SQLite file, migrations therefore run on a
    separate engine with the driver's own transaction handling off and an explicit
    ``BEGIN IMMEDIATE`` (SQLAlchemy's documented pysqlite recipe). PostgreSQL DDL is already
    transactional; in-memory databases cannot be opened twice and are used as they are.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        yield engine
        return
    ddl_engine = make_engine(engine.url.render_as_string(hide_password=False))

    def autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(ddl_engine, "connect", autocommit_driver)
    event.listen(ddl_engine, "begin", begin)
    try:
        yield ddl_engine
    finally:
        ddl_engine.dispose()


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


@wrap_exceptions()
def current_revision(engine_or_url: Engine | str) -> str | None:
    """The revision recorded in the database, None for a database without one."""
    with _engine(engine_or_url) as engine, engine.connect() as conn:
        return _current(conn)


def _user_tables(conn: Connection) -> dict[str, set[str]]:
    insp = inspect(conn)
    return {
        t: {c["name"] for c in insp.get_columns(t)}
        for t in insp.get_table_names()
        if t != _VERSION_TABLE and include_name(t, "table", {})
    }


def _baseline_tables() -> dict[str, set[str]]:
    """Tables and columns of revision 0001, by applying it to a scratch in-memory database."""
    scratch = make_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
            return _user_tables(conn)
    finally:
        scratch.dispose()


def _adopt(conn: Connection, found: dict[str, set[str]]) -> None:
    baseline = _baseline_tables()
    if found != baseline:
        missing = sorted(set(baseline) - set(found))
        extra = sorted(set(found) - set(baseline))
        differ = sorted(t for t in set(found) & set(baseline) if found[t] != baseline[t])
        raise SchemaMismatchError(
            "database has tables but no schema revision and they are not Pantau's first schema "
            f"(missing tables: {missing or 'none'}, unknown tables: {extra or 'none'}, "
            f"tables with other columns: {differ or 'none'}): "
            "point Pantau at an empty database or one it created"
        )
    command.stamp(alembic_config(conn), BASELINE)


def _check_known(current: str | None) -> None:
    if current is not None and not is_known_revision(current):
        raise SchemaTooNewError(current, head_revision())


@wrap_exceptions()
def upgrade(engine_or_url: Engine | str, revision: str = "head") -> str | None:
    """Bring the database to ``revision`` (default: the newest); returns the revision reached.

    Raises SchemaTooNewError or SchemaMismatchError without changing anything.
    """
    with _engine(engine_or_url) as engine, _atomic_ddl(engine) as ddl, ddl.begin() as conn:
        hold_for_transaction(conn, SCHEMA_UPGRADE_KEY)
        current = _current(conn)
        _check_known(current)
        if current is None:
            found = _user_tables(conn)
            if found:
                _adopt(conn, found)
        command.upgrade(alembic_config(conn), revision)
        return _current(conn)


def check(engine_or_url: Engine | str) -> None:
    """Raise unless the database is exactly at head (used when auto-upgrade is off)."""
    current = current_revision(engine_or_url)
    _check_known(current)
    head = head_revision()
    if current != head:
        raise SchemaOutdatedError(current, head)


@wrap_exceptions()
def schema_diffs(engine_or_url: Engine | str) -> Sequence[Any]:
    """Differences between the database and the tables in code (empty when in sync)."""
    with _engine(engine_or_url) as engine, engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_name": include_name, "compare_type": True}
        )
        return list(compare_metadata(ctx, SQLModel.metadata))
