"""Shared CLI plumbing: settings loading, error reporting, output helpers."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from monitor.cli.drivers import require_database_driver
from monitor.config import Settings, load_settings
from monitor.daemon.logs import TerminalFormatter
from monitor.errors import PantauError
from monitor.textsafe import for_terminal

ConfigOption = typer.Option(
    None, "--config", "-c", help="Configuration TOML file (default: $PANTAU_CONFIG or built-in)."
)
DbOption = typer.Option(None, "--db", help="SQLite database file (overrides the configuration).")
JsonOption = typer.Option(False, "--json", help="Print JSON lines instead of a table.")


def err_console() -> Console:
    return Console(stderr=True)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn Pantau's typed errors into one clear message and a non-zero exit, no traceback."""
    try:
        yield
    except PantauError as exc:
        err_console().print(
            f"[bold red]error:[/] {escape(for_terminal(exc.message, multiline=True))}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console().print("interrupted")
        raise typer.Exit(130) from None


def settings_from(config: Path | None, db: Path | None = None, **overrides: Any) -> Settings:
    extra: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if db is not None:
        extra.setdefault("database", {})["url"] = f"sqlite:///{db.resolve()}"
    return require_database_driver(load_settings(config, overrides=extra))


def setup_logging(verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def shown(text: object) -> str:
    """Feed or database text for a rich markup string: escape sequences and control characters
    removed, ``[...]`` escaped so it is printed, not read as markup."""
    return escape(for_terminal(str(text)))


def print_json(obj: Any, out: Callable[[str], None] = typer.echo) -> None:
    out(json.dumps(obj, ensure_ascii=False, default=str))
