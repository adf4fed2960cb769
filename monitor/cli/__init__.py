"""Command-line interface (typer + rich). Each command group lives in its own module."""

from __future__ import annotations

import typer

from monitor import __version__

app = typer.Typer(
    name="pantau",
    help="Pantau watches Indonesian news feeds and alerts on tracked actors and topics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's own help formatter: typer's rich one (0.29) labels every flag `<bool>` as if it
    # took a value. Sub-apps inherit the mode through the context.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pantau {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Pantau: a news-monitoring agent for Indonesian media."""


def _register() -> None:
    # Command modules register themselves on `app` when imported.
    from monitor.cli import alerts as _alerts  # noqa: F401
    from monitor.cli import db as _db  # noqa: F401
    from monitor.cli import export as _export  # noqa: F401
    from monitor.cli import feeds as _feeds  # noqa: F401
    from monitor.cli import match as _match  # noqa: F401
    from monitor.cli import relevance as _relevance  # noqa: F401
    from monitor.cli import replay as _replay  # noqa: F401
    from monitor.cli import run as _run  # noqa: F401
    from monitor.cli import search as _search  # noqa: F401
    from monitor.cli import status as _status  # noqa: F401  (status, config check)
    from monitor.cli import tail as _tail  # noqa: F401


def main() -> None:
    _register()
    app()
