"""``pantau run``: the polling daemon (``--once``: poll every due feed once and exit)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import typer

from monitor.cli import app
from monitor.cli.common import ConfigOption, DbOption, cli_errors, settings_from
from monitor.daemon import Notifier, RedactingFilter, run_daemon, setup_logging
from monitor.secrets import configured_secrets
from monitor.textsafe import for_terminal


def _setup_daemon_logging(verbose: bool) -> RedactingFilter:
    # A daemon's log is its operator console: INFO by default (journald keeps it), JSON lines
    # under systemd, human-readable on a terminal, secrets redacted either way.
    redacting = setup_logging(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redacting


@app.command("run")
def run_command(
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    once: bool = typer.Option(
        False, "--once", help="Poll every due feed once, deliver alerts, and exit (cron, tests)."
    ),
    allow_private: bool = typer.Option(
        False,
        "--allow-private",
        help="Allow article links to loopback/private addresses (local test sites only).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Watch the configured feeds until SIGTERM/SIGINT; exits 0 after a clean shutdown."""
    redacting = _setup_daemon_logging(verbose)
    with cli_errors():
        settings = settings_from(config, db)
        for secret in configured_secrets(settings.alerts.channels, os.environ):
            redacting.add_secret(secret)
        report = asyncio.run(
            run_daemon(
                settings,
                once=once,
                allow_private=True if allow_private else None,
                alert_stream=sys.stderr,
                # The edge of the program: systemd's environment is read here, once.
                notifier=Notifier.from_env(os.environ),
            )
        )
    if once:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(report.by_status.items()))
        summary = f"{report.polls} feed(s) polled" + (f": {counts}" if counts else "")
        if _every_poll_failed(report.by_status):
            first = next((o for o in report.outcomes if o.error), None)
            # Each fetch error names its URL.
            cause = f" (first: {for_terminal(first.error)})" if first and first.error else ""
            typer.echo(f"error: every feed failed: {summary}{cause}", err=True)
            raise typer.Exit(1)
        typer.echo(summary, err=True)


_FAILED = ("error", "crashed")


def _every_poll_failed(by_status: Mapping[str, int]) -> bool:
    """``--once`` under cron: a run that fetched nothing at all must not look like success."""
    attempts = sum(by_status.values())
    return attempts > 0 and sum(by_status.get(s, 0) for s in _FAILED) == attempts
