"""``pantau db upgrade | stats | prune``: the database's schema, size and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from monitor.cli import app
from monitor.cli.common import (
    ConfigOption,
    DbOption,
    JsonOption,
    cli_errors,
    print_json,
    settings_from,
)
from monitor.config import Settings
from monitor.daemon import open_engine
from monitor.errors import StorageError, UnavailableError
from storage import migrate, retention
from storage.engine import hide_password, make_engine, session_scope

db_app = typer.Typer(
    name="db", help="The database: schema upgrades, statistics, retention.", no_args_is_help=True
)
app.add_typer(db_app, name="db")


def shown_url(url: str) -> str:
    return hide_password(url)


def _revision_before(settings: Settings) -> str | None:
    engine = make_engine(settings.database_url)
    try:
        return migrate.current_revision(engine)
    except UnavailableError as exc:
        raise StorageError(
            f"cannot open the database {shown_url(settings.database_url)}: {exc.detail}",
            transient=exc.transient,
        ) from exc
    finally:
        engine.dispose()


@db_app.command("upgrade")
def upgrade_command(config: Path | None = ConfigOption, db: Path | None = DbOption) -> None:
    """Apply the schema migrations this Pantau ships (also done at start-up by default)."""
    with cli_errors():
        settings = settings_from(config, db)
        before = _revision_before(settings)
        engine = open_engine(settings, upgrade=True)
        try:
            after = migrate.current_revision(engine)
        finally:
            engine.dispose()
    where = shown_url(settings.database_url)
    if before == after:
        typer.echo(f"{where}: schema already at {after} (head)")
    else:
        typer.echo(f"{where}: schema upgraded from {before or 'empty'} to {after}")


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _stats_table(stats: dict[str, Any]) -> Table:
    table = Table(title=f"Database {stats['database']}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("schema", f"{stats['schema_revision']} (head {stats['schema_head']})")
    table.add_row("size", _size(stats["database_bytes"]))
    for name, count in stats["tables"].items():
        table.add_row(name, str(count))
    table.add_row("articles with body", str(stats["articles_with_body"]))
    for key in ("oldest_article_seen_at", "newest_article_seen_at"):
        value = stats[key]
        table.add_row(key.replace("_", " "), value.isoformat(" ", "seconds") if value else "-")
    return table


@db_app.command("stats")
def stats_command(
    config: Path | None = ConfigOption, db: Path | None = DbOption, json_out: bool = JsonOption
) -> None:
    """Rows per table, database size and the time span of stored articles."""
    with cli_errors():
        settings = settings_from(config, db)
        engine = open_engine(settings)
        try:
            with session_scope(engine) as session:
                stats = retention.stats(session)
            stats = {
                "database": shown_url(settings.database_url),
                "schema_revision": migrate.current_revision(engine),
                "schema_head": migrate.head_revision(),
                **stats,
            }
        finally:
            engine.dispose()
    if json_out:
        print_json({k: v.isoformat() if isinstance(v, datetime) else v for k, v in stats.items()})
    else:
        Console().print(_stats_table(stats))


@db_app.command("prune")
def prune_command(
    days: int = typer.Option(
        ..., "--days", min=1, help="Drop the bodies of articles first seen more than DAYS ago."
    ),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Free space: old article bodies are removed; titles, metadata and matches are kept."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with cli_errors():
        settings = settings_from(config, db)
        engine = open_engine(settings)
        try:
            with session_scope(engine) as session:
                pruned = retention.prune_bodies(session, cutoff)
        finally:
            engine.dispose()
    if json_out:
        print_json({"pruned": pruned, "older_than": cutoff.isoformat()})
    else:
        typer.echo(
            f"pruned the bodies of {pruned} article(s) first seen before "
            f"{cutoff.isoformat(' ', 'seconds')}"
        )
