"""Schema migrations on SQLite and PostgreSQL: fresh databases, old databases, newer databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

import monitor.cli.db  # noqa: F401  (registers `pantau db`)
from monitor.cli import app
from monitor.config import load_settings
from monitor.daemon.runtime import open_engine
from monitor.errors import StorageError
from storage import migrate
from storage.engine import make_engine, session_scope
from storage.errors import SchemaMismatchError, SchemaOutdatedError, SchemaTooNewError
from storage.search import search

HEAD = migrate.head_revision()


def _exec(url: str, *statements: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _scalar(url: str, statement: str) -> object:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement)).scalar_one()
    finally:
        engine.dispose()


# Rows as revision 0001 stores them (naive UTC timestamps), written with plain SQL so that the
# test does not depend on today's table classes.
FIRST_VERSION_ROWS = (
    "INSERT INTO feeds (id, url, name, source, enabled, retired, interval_seconds, next_poll_at,"
    " consecutive_failures, healthy, initial_poll_done, polls, created_at) VALUES"
    " (1, 'https://warta.example/rss', 'Warta', 'warta.example', TRUE, FALSE, 900,"
    " '2025-01-01 00:00:00', 0, TRUE, TRUE, 3, '2025-01-01 00:00:00')",
    "INSERT INTO stories (id, title, first_article_id, created_at, updated_at) VALUES"
    " (1, 'Rutte jadi Sekjen NATO', 1, '2025-01-02 00:00:00', '2025-01-02 00:00:00')",
    "INSERT INTO articles (id, canonical_url, url, source, feed_id, title, body, body_hash,"
    " published_at, seen_at, story_id) VALUES (1, 'https://warta.example/a/1',"
    " 'https://warta.example/a/1?utm=x', 'warta.example', 1, 'Rutte jadi Sekjen NATO',"
    " 'Mark Rutte resmi menjabat Sekretaris Jenderal NATO.', 'h1', '2025-01-02 00:00:00',"
    " '2025-01-02 01:00:00', 1)",
    'INSERT INTO matches (article_id, kind, name, via, term, start, "end", snippet, score,'
    " substantive, count) VALUES (1, 'actor', 'Mark Rutte', 'name', 'Rutte', 0, 5, 'Rutte',"
    " 0.0, FALSE, 1)",
    "INSERT INTO alerts (idempotency_key, story_id, article_id, rule, channel, kind, status,"
    " attempts, next_attempt_at, payload, created_at) VALUES ('1:default:console', 1, 1,"
    " 'default', 'console', 'alert', 'sent', 1, '2025-01-02 01:00:00', '{}',"
    " '2025-01-02 01:00:00')",
)


def test_fresh_database_is_upgraded_to_the_schema_in_code(db_url: str) -> None:
    assert migrate.current_revision(db_url) is None
    assert migrate.upgrade(db_url) == HEAD
    assert migrate.current_revision(db_url) == HEAD
    assert migrate.schema_diffs(db_url) == []


def test_schema_comparison_notices_a_missing_index(db_url: str) -> None:
    # Guards the comparison above: it must see drift, not just report nothing.
    migrate.upgrade(db_url)
    _exec(db_url, "DROP INDEX ix_articles_source")
    diffs = migrate.schema_diffs(db_url)
    assert any(d[0] == "add_index" and d[1].name == "ix_articles_source" for d in diffs), diffs


def test_upgrade_twice_changes_nothing(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.upgrade(db_url) == HEAD
    assert migrate.schema_diffs(db_url) == []


def test_upgrading_a_first_version_database_keeps_its_rows(db_url: str) -> None:
    assert migrate.upgrade(db_url, "0001") == "0001"
    _exec(db_url, *FIRST_VERSION_ROWS)

    assert migrate.upgrade(db_url) == HEAD

    for table in ("feeds", "stories", "articles", "matches", "alerts"):
        assert _scalar(db_url, f"SELECT count(*) FROM {table}") == 1, table
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            hits = search(session, "Rutte")
    finally:
        engine.dispose()
    # The search index is built over the rows that were already there.
    assert [h.url for h in hits] == ["https://warta.example/a/1"]
    assert hits[0].published_at == datetime(2025, 1, 2, tzinfo=UTC)


def test_database_made_before_migrations_is_adopted_and_upgraded(db_url: str) -> None:
    # What create_all of the first schema left behind: the tables, no alembic_version.
    migrate.upgrade(db_url, "0001")
    _exec(db_url, "DROP TABLE alembic_version", *FIRST_VERSION_ROWS)

    assert migrate.upgrade(db_url) == HEAD

    assert _scalar(db_url, "SELECT count(*) FROM articles") == 1
    assert migrate.schema_diffs(db_url) == []


def test_database_with_unknown_tables_is_not_adopted(db_url: str) -> None:
    _exec(db_url, "CREATE TABLE articles (id INTEGER PRIMARY KEY, headline TEXT)")
    with pytest.raises(SchemaMismatchError, match="not Pantau's first schema"):
        migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        assert inspect(engine).get_table_names() == ["articles"]  # left untouched
    finally:
        engine.dispose()


def test_database_newer_than_the_code_is_refused_with_a_clear_message(db_url: str) -> None:
    migrate.upgrade(db_url)
    _exec(db_url, "UPDATE alembic_version SET version_num = '9001'")

    with pytest.raises(SchemaTooNewError) as caught:
        migrate.upgrade(db_url)
    assert str(caught.value) == (
        f"database schema 9001 is newer than this Pantau (head {HEAD}): upgrade Pantau"
    )
    with pytest.raises(SchemaTooNewError):
        migrate.check(db_url)
    assert migrate.current_revision(db_url) == "9001"


def test_start_up_maps_a_newer_schema_to_a_storage_error(db_url: str) -> None:
    migrate.upgrade(db_url)
    _exec(db_url, "UPDATE alembic_version SET version_num = '9001'")
    settings = load_settings(None, env={}, overrides={"database": {"url": db_url}})
    with pytest.raises(StorageError) as caught:
        open_engine(settings)
    assert caught.value.message == (
        f"database schema 9001 is newer than this Pantau (head {HEAD}): upgrade Pantau"
    )
    assert caught.value.transient is False


def test_start_up_upgrades_automatically_by_default(db_url: str) -> None:
    settings = load_settings(None, env={}, overrides={"database": {"url": db_url}})
    engine = open_engine(settings)
    engine.dispose()
    assert migrate.current_revision(db_url) == HEAD


def test_without_auto_upgrade_an_old_database_asks_for_db_upgrade(db_url: str) -> None:
    migrate.upgrade(db_url, "0001")
    settings = load_settings(
        None, env={}, overrides={"database": {"url": db_url, "auto_upgrade": False}}
    )
    with pytest.raises(StorageError, match="run `pantau db upgrade`"):
        open_engine(settings)
    with pytest.raises(SchemaOutdatedError):
        migrate.check(db_url)
    assert migrate.current_revision(db_url) == "0001"


def test_cli_db_upgrade_reports_the_revisions(tmp_path: Path) -> None:
    db = f"{tmp_path}/pantau.db"
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert first.exit_code == 0, first.output
    assert f"schema upgraded from empty to {HEAD}" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--db", db])
    assert again.exit_code == 0, again.output
    assert f"schema already at {HEAD} (head)" in again.output


def test_cli_db_upgrade_refuses_a_newer_database_without_traceback(tmp_path: Path) -> None:
    db = f"{tmp_path}/pantau.db"
    migrate.upgrade(f"sqlite:///{db}")
    _exec(f"sqlite:///{db}", "UPDATE alembic_version SET version_num = '9001'")
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", db])
    assert result.exit_code == 2
    assert "is newer than this Pantau" in result.output
    assert "Traceback" not in result.output
