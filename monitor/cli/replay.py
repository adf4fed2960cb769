"""``pantau replay [DIR]``: the offline demo and end-to-end check."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from monitor.cli import app
from monitor.cli.common import (
    ConfigOption,
    JsonOption,
    cli_errors,
    print_json,
    settings_from,
    setup_logging,
    shown,
)
from monitor.config import load_settings
from monitor.demo import ReplayItem, ReplayReport, item_json, run_replay
from monitor.paths import default_seeds_dir
from storage.engine import hide_password


def _table(report: ReplayReport) -> Table:
    table = Table(title="Replay", show_lines=False)
    table.add_column("article")
    table.add_column("status")
    table.add_column("topics (* = substantive)")
    table.add_column("actors")
    table.add_column("alert")
    for item in report.items:
        o = item.outcome
        topics = ", ".join(f"{t.name}{'*' if t.substantive else ''}" for t in o.match.topics)
        actors = ", ".join(a.name + (" (role)" if a.via == "role" else "") for a in o.match.actors)
        status = o.status if not o.reason else f"{o.status}: {o.reason}"
        table.add_row(
            shown(o.title[:60] or item.path.name),
            shown(status),
            topics,
            actors,
            "yes" if o.alerted else "",
        )
    return table


REPLAY_DB = "replay.db"


def replay_database(config: Path | None) -> Path:
    """The demo's own SQLite file beside the daemon's: its demo feed must never be polled by
    ``pantau run``, nor its articles mixed with the real ones (``--db`` picks another file)."""
    return load_settings(config).data_dir / REPLAY_DB


@app.command("replay")
def replay_command(
    seeds_dir: Path | None = typer.Argument(
        None, help="Directory of .txt/.html articles (default: the bundled seed corpus)."
    ),
    config: Path | None = ConfigOption,
    db: Path | None = typer.Option(
        None, "--db", help=f"SQLite database file (default: {REPLAY_DB} in the data directory)."
    ),
    json_out: bool = JsonOption,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log each stage."),
) -> None:
    """Serve a directory of articles on 127.0.0.1 and run the whole pipeline against it."""
    setup_logging(verbose)
    directory = seeds_dir or default_seeds_dir()
    with cli_errors():
        settings = settings_from(config, db or replay_database(config))
        console = Console(stderr=json_out)

        def progress(item: ReplayItem) -> None:
            if not json_out:
                console.print(
                    f"  {item.outcome.status:<9} {shown(item.outcome.title[:70])}",
                    highlight=False,
                )

        report = asyncio.run(
            run_replay(directory, settings, alert_stream=sys.stderr, progress=progress)
        )
    if json_out:
        for item in report.items:
            print_json(item_json(item))
        print_json({"summary": report.summary()})
    else:
        console.print(_table(report))
        s = report.summary()
        console.print(
            f"{len(report.items)} articles: {s['stored']} stored, {s['duplicates']} duplicates, "
            f"{s['skipped']} skipped, {s['alerts']} alerts "
            f"(database: {shown(hide_password(settings.database_url))})",
            highlight=False,
        )
    failed = report.count("failed")
    if failed:
        raise typer.Exit(1)
