"""``pantau export``: every match with its article, as JSON lines or CSV, for analysts."""

from __future__ import annotations

import enum
import sys
from pathlib import Path

import typer

from monitor.cli import app
from monitor.cli.common import ConfigOption, DbOption, cli_errors, err_console, settings_from
from monitor.cli.search import SinceOption, parse_since
from monitor.daemon import open_engine
from monitor.errors import PantauError
from storage.engine import session_scope
from storage.export import match_rows, write_csv, write_jsonl


class ExportFormat(enum.StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@app.command("export")
def export_command(
    fmt: ExportFormat = typer.Option(ExportFormat.jsonl, "--format", help="jsonl or csv."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file (default: standard output)."
    ),
    since: str | None = SinceOption,
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Export the stored matches (one row per topic or actor found, with its article)."""
    since_at = parse_since(since)
    writer = write_csv if fmt is ExportFormat.csv else write_jsonl
    with cli_errors():
        settings = settings_from(config, db)
        engine = open_engine(settings)
        try:
            with session_scope(engine) as session:
                rows = match_rows(session, since=since_at)
                if output is None:
                    count = writer(rows, sys.stdout)
                else:
                    try:
                        with output.open("w", encoding="utf-8", newline="") as fh:
                            count = writer(rows, fh)
                    except OSError as exc:
                        raise PantauError(f"{output}: cannot write: {exc.strerror}") from exc
        finally:
            engine.dispose()
    if output is not None:
        err_console().print(f"exported {count} match(es) to {output}", highlight=False)
