"""Alembic environment for Pantau, run through ``storage.migrate`` (it hands over a connection)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage import tables as _tables  # noqa: F401  (registers the tables on the metadata)
from storage.engine import make_engine
from storage.migrate import include_name


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        include_name=include_name,
        compare_type=True,
        # SQLite cannot ALTER most things: later migrations use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Pantau's migrations run online only: use `pantau db upgrade`")
run()
