"""``pantau run``: the polling daemon (``--once``: poll every due feed once and exit)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import typer

from monitor.cli import app
from monitor.cli.common import ConfigOption, DbOption, cli_errors, settings_from
from monitor.notify import Notifier
from monitor.service import run_daemon


def _setup_daemon_logging(verbose: bool) -> None:
    # A daemon's log is its operator console: INFO by default (journald keeps it).
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore", "apscheduler", "trafilatura", "htmldate", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
    _setup_daemon_logging(verbose)
    with cli_errors():
        settings = settings_from(config, db)
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
        typer.echo(f"{report.polls} feed(s) polled" + (f": {counts}" if counts else ""), err=True)
