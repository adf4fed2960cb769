"""``pantau status`` (one screen: is it working?) and ``pantau config check``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from monitor import events
from monitor.alert import Channel
from monitor.cli import app
from monitor.cli.common import ConfigOption, DbOption, cli_errors, print_json, shown
from monitor.cli.drivers import database_driver_problem, require_database_driver
from monitor.config import Settings, load_settings
from monitor.daemon import (
    build_channels,
    feeds_file_path,
    load_feeds_file,
    load_matcher,
    open_engine,
)
from monitor.errors import PantauError
from monitor.timeofday import WIB
from monitor.web import ago, day_start, fmt_time
from storage import overview
from storage.engine import hide_password, session_scope

config_app = typer.Typer(
    name="config", help="Check the configuration.", no_args_is_help=True, add_completion=False
)
app.add_typer(config_app, name="config")


def settings_for(config: Path | None, db: Path | None) -> Settings:
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["database"] = {"url": f"sqlite:///{db.resolve()}"}
    return require_database_driver(load_settings(config, overrides=overrides))


SKIPPED_SHOWN = 5  # the last entries given up on, in ``pantau status``


def status_json(
    summary: overview.StatusSummary,
    feeds: list[overview.FeedHealth],
    database: str,
    skipped: Sequence[events.StoredEvent] = (),
    channels: Sequence[overview.ChannelHealth] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "database": database,
        "feeds": {
            "total": summary.feeds_total,
            "healthy": summary.feeds_healthy,
            "unhealthy": summary.feeds_unhealthy,
        },
        "unhealthy_feeds": [
            {"name": f.name, "url": f.url, "problem": f.problem, "failures": f.consecutive_failures}
            for f in feeds
            if not f.healthy and f.enabled
        ],
        "last_poll": summary.last_poll_at.isoformat() if summary.last_poll_at else None,
        "matches_today": summary.matches_today,
        "articles_today": summary.articles_today,
        "alerts": {"pending": summary.alerts_pending, "failed": summary.alerts_failed},
        "channels": [
            {
                "name": c.channel,
                "pending": c.pending,
                "queue_age_seconds": round(c.queue_age(now), 1),
                "failed": c.failed,
                "last_error": c.last_error or None,
            }
            for c in channels
        ],
        "skipped_entries": [
            {
                "url": e.data.get("url"),
                "reason": e.data.get("reason"),
                "attempts": e.data.get("attempts"),
                "at": e.created_at.isoformat(),
            }
            for e in skipped
        ],
    }


def status_lines(
    summary: overview.StatusSummary,
    feeds: list[overview.FeedHealth],
    now: datetime,
    skipped: Sequence[events.StoredEvent] = (),
    channels: Sequence[overview.ChannelHealth] = (),
) -> list[str]:
    """The status screen as rich-markup lines (database text escaped)."""
    s = summary
    feeds_state = (
        "[green]all healthy[/]"
        if not s.feeds_unhealthy
        else (f"[red]{s.feeds_unhealthy} unhealthy[/]")
    )
    last_poll = (
        f"{fmt_time(s.last_poll_at, WIB)} ({ago(s.last_poll_at, now)})"
        if s.last_poll_at
        else "[yellow]never[/]"
    )
    failed = (
        f", [red]{s.alerts_failed} failed[/] (pantau alerts list --failed)"
        if (s.alerts_failed)
        else ", 0 failed"
    )
    lines = [
        f"[bold]Feeds[/]       {s.feeds_healthy} healthy / {s.feeds_total} watched — {feeds_state}",
        f"[bold]Last poll[/]   {last_poll}",
        f"[bold]Today[/]       {s.matches_today} matching articles ({s.articles_today} stored)",
        f"[bold]Alerts[/]      {s.alerts_pending} pending{failed}",
    ]
    bad = [f for f in feeds if not f.healthy and f.enabled]
    if bad:
        lines.append("[bold]Unhealthy feeds[/]")
        for f in bad[:10]:
            lines.append(f"  [red]✗[/] {shown(f.name)}: {shown(f.problem or 'no details')}")
        if len(bad) > 10:
            lines.append(f"  … and {len(bad) - 10} more (pantau feeds list)")
    failing = [c for c in channels if c.failing]
    if failing:
        lines.append("[bold]Failing channels[/]")
        for c in failing:
            waited = ago(c.oldest_pending_at, now) if c.oldest_pending_at else "none pending"
            lines.append(
                f"  [red]✗[/] {shown(c.channel)}: {c.pending} pending (oldest {waited}): "
                f"{shown(c.last_error)}"
            )
    if skipped:
        lines.append("[bold]Skipped entries[/] (given up on; pantau tail --type entry.skipped)")
        for e in skipped:
            when = ago(e.created_at, now)
            url, reason = str(e.data.get("url", "")), str(e.data.get("reason", ""))
            lines.append(f"  [yellow]![/] {shown(url)} ({when}): {shown(reason)}")
    return lines


@app.command("status")
def status_command(
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """One screen: feed health, last poll, today's matches, pending and failed alerts."""
    with cli_errors():
        settings = settings_for(config, db)
        engine = open_engine(settings)
        now = datetime.now(UTC)
        try:
            with session_scope(engine) as session:
                summary = overview.status_summary(session, day_start=day_start(now, WIB))
                feeds = overview.feed_health(session)
                skipped = events.skipped_entries(session, limit=SKIPPED_SHOWN)
                channels = overview.channel_health(session)
        finally:
            engine.dispose()
    database = hide_password(settings.database_url)
    if json_out:
        print_json(status_json(summary, feeds, database, skipped, channels, now))
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]Pantau status[/]  [dim]{escape(database)}[/]")
    for line in status_lines(summary, feeds, now, skipped, channels):
        console.print(line)


# --- config check --------------------------------------------------------------------------------


async def _close(channels: dict[str, Channel]) -> None:
    for ch in channels.values():
        await ch.aclose()


def check_settings(settings: Settings, env: dict[str, str]) -> list[str]:
    """Problems beyond the schema: channel secrets, lexicons, the feeds file."""
    problems: list[str] = []
    driver = database_driver_problem(settings.database_url)
    if driver is not None:
        problems.append(driver)
    try:
        asyncio.run(_close(build_channels(settings.alerts.channels, env)))
    except PantauError as exc:
        problems.append(exc.message)
    try:
        load_matcher(settings)
    except PantauError as exc:
        problems.append(exc.message)
    try:
        load_feeds_file(feeds_file_path(settings))
    except PantauError as exc:
        problems.append(exc.message)
    return problems


def summary_lines(settings: Settings, source: str) -> list[str]:
    st = settings.status
    status = f"on, http://{st.host}:{st.port}/" if st.enabled else "off"
    channels = ", ".join(f"{c.name} ({c.type})" for c in settings.alerts.channels)
    rules = ", ".join(f"{r.name} → {'/'.join(r.channels)}" for r in settings.alerts.rules)
    return [
        f"{source}: configuration is valid",
        f"  database       {hide_password(settings.database_url)}",
        f"  data dir       {settings.data_dir}",
        f"  feeds file     {feeds_file_path(settings)}",
        f"  lexicons       {settings.lexicon_dir}",
        f"  polling        every {settings.schedule.default_interval:g}s "
        f"({settings.schedule.min_interval:g}–{settings.schedule.max_interval:g}s), "
        f"{settings.schedule.global_concurrency} at once",
        f"  alert rules    {rules or 'none'}",
        f"  channels       {channels or 'none'}",
        f"  status server  {status}",
    ]


@config_app.command("check")
def config_check_command(
    config: Path | None = ConfigOption,
) -> None:
    """Validate the configuration (file, environment overrides, secrets, lexicons, feeds)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    env = dict(os.environ)
    source = str(config or env.get("PANTAU_CONFIG") or "built-in defaults")
    warnings: list[str] = []
    try:
        settings = load_settings(config, env=env, warn=warnings.append)
    except PantauError as exc:
        for line in exc.message.splitlines():
            err.print(f"[bold red]error:[/] {escape(line)}")
        raise typer.Exit(2) from None
    for line in warnings:  # secrets written in the file: valid, but they belong elsewhere
        err.print(f"[bold yellow]warning:[/] {escape(line)}")
    problems = check_settings(settings, env)
    if problems:
        for line in problems:
            err.print(f"[bold red]error:[/] {escape(line)}")
        raise typer.Exit(2)
    console = Console(highlight=False, soft_wrap=True)
    for line in summary_lines(settings, source):
        console.print(escape(line))
