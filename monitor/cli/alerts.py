"""``pantau alerts list | retry | test``: look at the outbox, requeue failures, test a channel."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.alert import Channel, failed_alerts, retry_failed, test_channel
from monitor.cli import app
from monitor.cli.common import (
    ConfigOption,
    DbOption,
    JsonOption,
    cli_errors,
    print_json,
    shown,
)
from monitor.cli.status import settings_for
from monitor.config import ChannelSettings
from monitor.daemon import build_channels, open_engine
from monitor.errors import AlertDeliveryError
from monitor.textsafe import for_terminal
from monitor.timeofday import WIB
from storage import overview
from storage.engine import session_scope

alerts_app = typer.Typer(
    name="alerts",
    help="Look at the alert outbox, retry failed alerts, test a channel.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(alerts_app, name="alerts")


def alert_json(a: overview.AlertView) -> dict[str, Any]:
    return {
        "id": a.id,
        "channel": a.channel,
        "rule": a.rule,
        "kind": a.kind,
        "status": a.status,
        "attempts": a.attempts,
        "title": a.title,
        "url": a.url,
        "created_at": a.created_at.isoformat(),
        "sent_at": a.sent_at.isoformat() if a.sent_at else None,
        "next_attempt_at": a.next_attempt_at.isoformat(),
        "error": a.last_error or None,
    }


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def alerts_table(rows: list[overview.AlertView], *, title: str) -> Table:
    table = Table(title=title)
    table.add_column("id", justify="right", min_width=3)
    table.add_column("status", min_width=7)
    table.add_column("channel", min_width=7)
    table.add_column("created", min_width=11)
    table.add_column("article", min_width=12)
    table.add_column("error", min_width=12, overflow="fold")
    for a in rows:
        status = {"failed": "[red]failed[/]", "sent": "[green]sent[/]"}.get(a.status, a.status)
        table.add_row(
            str(a.id),
            status,
            shown(a.channel),
            a.created_at.astimezone(WIB).strftime("%m-%d %H:%M"),
            shown(_short(for_terminal(a.title), 34)),
            shown(a.last_error),
        )
    return table


@alerts_app.command("list")
def list_command(
    failed: bool = typer.Option(False, "--failed", help="Only alerts that gave up."),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest N alerts."),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """The newest alerts in the outbox (or only the failed ones), newest first."""
    with cli_errors():
        settings = settings_for(config, db)
        engine = open_engine(settings)
        try:
            if failed:
                rows = [overview.alert_view(r) for r in failed_alerts(engine)]
                rows = sorted(rows, key=lambda a: -a.id)[:limit]
            else:
                with session_scope(engine) as session:
                    rows = overview.alerts(session, limit=limit)
        finally:
            engine.dispose()
    if json_out:
        for a in rows:
            print_json(alert_json(a))
        return
    console = Console(highlight=False, soft_wrap=True)
    if not rows:
        console.print("No failed alerts." if failed else "No alerts yet.")
        return
    console.print(alerts_table(rows, title="Failed alerts" if failed else "Alerts"))
    if failed:
        console.print("Fix the cause, then: pantau alerts retry")


@alerts_app.command("retry")
def retry_command(
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Put every failed alert back in the queue; the running daemon sends them on its next pass."""
    with cli_errors():
        settings = settings_for(config, db)
        engine = open_engine(settings)
        try:
            count = retry_failed(engine, datetime.now(UTC))
        finally:
            engine.dispose()
    if json_out:
        print_json({"requeued": count})
    elif count:
        typer.echo(f"{count} failed alert(s) put back in the queue; the daemon will send them.")
    else:
        typer.echo("No failed alerts to retry.")


_HINTS = (
    ("dns lookup failed", "check the host name in the channel's URL and this machine's DNS."),
    ("tls certificate", "the server's certificate is not trusted: check the host, or set cafile."),
    ("tls handshake", "the server does not speak TLS on that port, or refuses our TLS version."),
    ("connection refused", "nothing listens there: check host and port, and any firewall."),
    ("timed out", "the server did not answer in time: check the network path and the timeout."),
    ("authentication", "the server refused the login: check the username and password."),
    ("http 401", "the server refused our credentials: check the token or webhook URL."),
    ("http 403", "the server refused our credentials: check the token or webhook URL."),
    ("http 404", "the URL does not exist (any more): the webhook may have been revoked."),
    ("http 410", "the webhook was deleted on the other side: create a new one."),
    ("http 429", "the service is rate limiting us: wait and try again."),
    ("server error", "the service itself failed: try again later."),
)


def hint_for(message: str) -> str | None:
    """A next step for the operator, from the plain-words error."""
    low = message.lower()
    for needle, hint in _HINTS:
        if needle in low:
            return hint
    return None


async def _send_test(channel: Channel) -> str:
    try:
        return await test_channel(channel)
    finally:
        await channel.aclose()


FILE_CHANNELS = frozenset({"jsonl"})  # a test record there would land in production data


def _untested_file_line(c: ChannelSettings) -> str:
    where = c.options.get("path") or "its file"
    return (
        f"skipped: channel {c.name!r} ({c.type}) appends to {where}; a test record would land "
        f"among the real alerts. Name it with --channel {c.name} or pass --include-files."
    )


def _deliver(channel: Channel, err: Console) -> bool:
    """Send the test message through one channel; report the outcome in plain words."""
    try:
        typer.echo(asyncio.run(_send_test(channel)))
    except AlertDeliveryError as exc:
        err.print(f"[bold red]failed:[/] {escape(exc.message)}")
        hint = hint_for(exc.message)
        if hint:
            err.print(f"[bold]hint:[/] {escape(hint)}")
        return False
    return True


@alerts_app.command("test")
def test_command(
    channel: str | None = typer.Option(
        None,
        "--channel",
        help="Test this channel only (a JSON-lines file too). Default: every channel but files.",
    ),
    include_files: bool = typer.Option(
        False, "--include-files", help="Also write a test record into JSON-lines file channels."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Send a clearly-labelled test alert through the channels and say exactly what went wrong."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    with cli_errors():
        settings = settings_for(config, None)
        chosen = [c for c in settings.alerts.channels if channel in (None, c.name)]
        if not chosen:
            names = ", ".join(c.name for c in settings.alerts.channels) or "none"
            err.print(
                f"[bold red]error:[/] no channel named {escape(repr(channel))} "
                f"(defined: {escape(names)})"
            )
            raise typer.Exit(2)
        if channel is None and not include_files:
            for c in chosen:
                if c.type in FILE_CHANNELS:
                    err.print(escape(_untested_file_line(c)))
            chosen = [c for c in chosen if c.type not in FILE_CHANNELS]
        built = build_channels(chosen, os.environ, stdout=sys.stdout)
        delivered = [_deliver(built[c.name], err) for c in chosen]
    if not all(delivered):
        raise typer.Exit(1)
