"""``pantau feeds``: add, remove, list, import/export OPML, and check one feed before adding it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Engine

from monitor.cli import app
from monitor.cli.common import (
    ConfigOption,
    DbOption,
    JsonOption,
    cli_errors,
    print_json,
    settings_from,
    setup_logging,
    shown,
)
from monitor.config import Settings
from monitor.daemon import (
    add_feed,
    feeds_file_path,
    fetch_policy,
    load_feeds_file,
    open_engine,
    sync_feeds,
    zone_for,
)
from monitor.errors import ConfigError
from monitor.fetch import FEED_ACCEPT, FEED_TYPES, Fetcher, parse_max_age, validators
from monitor.models import FeedSpec, FetchResult, ParsedFeed
from monitor.parse import check_feed_url, parse_feed, parse_opml, render_opml
from monitor.timeofday import WIB
from storage import feed_state, repo
from storage.engine import session_scope
from storage.tables import Feed

feeds_app = typer.Typer(help="Manage the feeds Pantau watches.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")


def _file_specs(settings: Settings) -> list[FeedSpec]:
    path = feeds_file_path(settings)
    if settings.feeds_file is None and not path.is_file():
        return []
    return load_feeds_file(path)


def _engine(settings: Settings) -> Engine:
    """The database with the feeds file synced in, so every command sees the same list."""
    engine = open_engine(settings)
    with session_scope(engine) as session:
        sync_feeds(
            session,
            _file_specs(settings),
            default_interval=settings.schedule.default_interval,
            now=datetime.now(UTC),
        )
    return engine


def _when(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if at else None


def health_word(feed: Feed) -> str:
    if feed.retired:
        return "retired"
    if not feed.enabled:
        return "disabled"
    return "healthy" if feed.healthy else "unhealthy"


def feed_json(feed: Feed) -> dict[str, Any]:
    return {
        "url": feed.url,
        "name": feed.name,
        "status": health_word(feed),
        "reason": feed.unhealthy_reason,
        "last_poll": _when(feed.last_polled_at),
        "last_success": _when(feed.last_success_at),
        "next_poll": None if feed.retired or not feed.enabled else _when(feed.next_poll_at),
        "interval_seconds": feed.interval_seconds,
        "failures": feed.consecutive_failures,
        "last_error": feed.last_error,
    }


# --- add / remove / list -------------------------------------------------------------------


@feeds_app.command("add")
def add_command(
    url: str = typer.Argument(..., help="The feed URL (RSS, Atom or RDF)."),
    name: str = typer.Option("", "--name", help="A display name (default: the URL)."),
    interval: float | None = typer.Option(
        None, "--interval", min=1, help="Starting poll interval in seconds (then adaptive)."
    ),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Start watching a feed (first poll: its backlog is stored without alerting)."""
    with cli_errors():
        settings = settings_from(config, db)
        spec = FeedSpec(url=check_feed_url(url, "feed"), name=name, interval=interval)
        engine = _engine(settings)
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            feed, created = add_feed(
                session, spec, default_interval=settings.schedule.default_interval, now=now
            )
            if not created and feed.retired:  # re-adding brings a retired (410) feed back
                assert feed.id is not None
                feed_state.reinstate(session, feed.id, now)
                created = True
        engine.dispose()
    typer.echo(f"{'added' if created else 'already watched'}: {spec.url}")


@feeds_app.command("remove")
def remove_command(
    url: str = typer.Argument(..., help="The feed URL as listed by `pantau feeds list`."),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Stop watching a feed (its stored articles stay)."""
    with cli_errors():
        settings = settings_from(config, db)
        url = url.strip()
        if any(spec.url == url for spec in _file_specs(settings)):
            raise ConfigError(
                f"{url} is listed in {feeds_file_path(settings)}; delete it there "
                "(or set enabled = false) instead"
            )
        engine = _engine(settings)
        with session_scope(engine) as session:
            feed = feed_state.feed_by_url(session, url)
            if feed is None or feed.id is None:
                raise ConfigError(f"{url} is not a watched feed (see `pantau feeds list`)")
            feed_state.delete_feed(session, feed.id)
        engine.dispose()
    typer.echo(f"removed: {url}")


@feeds_app.command("list")
def list_command(
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Every feed with its health (healthy, unhealthy, retired), last and next poll."""
    with cli_errors():
        settings = settings_from(config, db)
        engine = _engine(settings)
        with session_scope(engine) as session:
            feeds = list(repo.list_feeds(session))
        engine.dispose()
    if json_out:
        for feed in feeds:
            print_json(feed_json(feed))
        return
    console = Console()
    console.print(feeds_table(feeds, console.width))


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _clock(when: datetime | None) -> str:
    return when.astimezone(WIB).strftime("%m-%d %H:%M") if when else "never"


def feeds_table(feeds: list[Feed], width: int) -> Table:
    """One feed per row (name over URL), every cell one line: fits ``width`` columns (80 too).

    Long names, URLs, statuses and errors end in an ellipsis instead of wrapping a row over a
    screen; ``--json`` has them whole. Times are WIB, like ``pantau status``.
    """
    rows = []
    for feed in feeds:
        row = feed_json(feed)
        rows.append(
            (
                [feed.name, feed.url] if feed.name and feed.name != feed.url else [feed.url],
                row["status"] + (f" ({row['reason']})" if row["reason"] else ""),
                _clock(feed.last_polled_at),
                _clock(feed.next_poll_at) if row["next_poll"] else "-",
                str(row["failures"]),
                " ".join((row["last_error"] or "").split()),
            )
        )
    status_w = min(12, max([6, *(len(r[1]) for r in rows)]))
    fixed = status_w + 11 + 11 + 4
    # Rich draws 7 vertical rules and pads each of the 6 cells by one space on either side.
    free = max(20, width - fixed - 7 - 2 * 6)
    feed_w = max(10, free * 2 // 3)
    error_w = max(10, free - feed_w)
    table = Table(title=f"{len(feeds)} feeds", title_justify="left")
    table.add_column("feed", width=feed_w, no_wrap=True)
    table.add_column("status", width=status_w, no_wrap=True)
    table.add_column("last poll", width=11, no_wrap=True)
    table.add_column("next poll", width=11, no_wrap=True)
    table.add_column("fail", width=4, justify="right", no_wrap=True)
    table.add_column("last error", width=error_w, no_wrap=True)
    for lines, status, last, nxt, failures, error in rows:
        table.add_row(
            escape("\n".join(_short(line, feed_w) for line in lines)),
            escape(_short(status, status_w)),
            last,
            nxt,
            failures,
            escape(_short(error, error_w)),
        )
    return table


# --- OPML ----------------------------------------------------------------------------------


@feeds_app.command("import-opml")
def import_opml_command(
    file: Path = typer.Argument(..., help="An OPML file exported by a feed reader."),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Add every feed of an OPML file (already watched feeds are left as they are)."""
    with cli_errors():
        settings = settings_from(config, db)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from exc
        specs = parse_opml(data, str(file))
        engine = _engine(settings)
        added = 0
        with session_scope(engine) as session:
            for spec in specs:
                _, created = add_feed(
                    session,
                    spec,
                    default_interval=settings.schedule.default_interval,
                    now=datetime.now(UTC),
                )
                added += created
        engine.dispose()
    typer.echo(f"{file}: {len(specs)} feeds, {added} added, {len(specs) - added} already watched")


@feeds_app.command("export-opml")
def export_opml_command(
    file: Path | None = typer.Argument(None, help="Where to write (default: standard output)."),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Write the watched feeds (not retired) as OPML 2.0."""
    with cli_errors():
        settings = settings_from(config, db)
        engine = _engine(settings)
        with session_scope(engine) as session:
            feeds = [f for f in repo.list_feeds(session) if not f.retired]
        engine.dispose()
        text = render_opml(feeds)
        if file is None:
            typer.echo(text, nl=False)
            return
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot write: {exc.strerror}") from exc
    typer.echo(f"wrote {len(feeds)} feeds to {file}", err=True)


# --- check ----------------------------------------------------------------------------------


async def _fetch_one(settings: Settings, url: str) -> FetchResult:
    async with Fetcher(fetch_policy(settings)) as fetcher:
        # The operator typed this URL: it may be anywhere, loopback included.
        return await fetcher.fetch(url, trusted=True, accept=FEED_ACCEPT, allowed_types=FEED_TYPES)


def check_report(result: FetchResult, parsed: ParsedFeed) -> dict[str, Any]:
    etag, last_modified = validators(result.headers)
    return {
        "url": result.url,
        "final_url": result.final_url,
        "status": result.status,
        "content_type": result.headers.get("content-type"),
        "etag": etag,
        "last_modified": last_modified,
        "cache_max_age": parse_max_age(result.headers.get("cache-control")),
        "bytes": len(result.content),
        "title": parsed.title,
        "ttl_minutes": parsed.ttl_minutes,
        "bozo": parsed.bozo,
        "diagnostics": list(parsed.diagnostics),
        "entry_count": len(parsed.entries),
        "entries": [
            {
                "id": e.entry_id,
                "link": e.link,
                "title": e.title,
                "published": _when(e.published),
            }
            for e in parsed.entries
        ],
    }


@feeds_app.command("check")
def check_command(
    url: str = typer.Argument(..., help="The feed URL to try."),
    tz: str | None = typer.Option(
        None, "--tz", help="Zone for dates without one (default WIB; WITA, WIT, IANA names)."
    ),
    config: Path | None = ConfigOption,
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Fetch and parse one feed without storing anything: diagnostics and entries."""
    setup_logging(False)
    with cli_errors():
        settings = settings_from(config)
        check_feed_url(url, "feed")
        zone = zone_for(tz, "--tz")
        result = asyncio.run(_fetch_one(settings, url))
        parsed = parse_feed(
            result.content,
            url=result.final_url,
            content_type=result.headers.get("content-type"),
            default_tz=zone,
        )
    report = check_report(result, parsed)
    if json_out:
        print_json(report)
        return
    console = Console()
    console.print(
        f"[bold]{shown(report['title'] or '(untitled feed)')}[/]  {shown(report['final_url'])}"
    )
    console.print(
        f"HTTP {report['status']}, {report['content_type'] or 'no content type'}, "
        f"{report['bytes']:,} bytes; ETag {report['etag'] or '-'}; Last-Modified "
        f"{report['last_modified'] or '-'}; max-age {report['cache_max_age'] or '-'}; "
        f"ttl {report['ttl_minutes'] or '-'} min",
        highlight=False,
    )
    for note in report["diagnostics"]:
        console.print(f"[yellow]note:[/] {shown(note)}", highlight=False)
    table = Table(title=f"{report['entry_count']} entries")
    for column in ("published (UTC)", "title", "link", "id"):
        table.add_column(column, overflow="fold")
    for entry in report["entries"]:
        table.add_row(
            entry["published"] or "null",
            shown(entry["title"]),
            shown(entry["link"]),
            shown(entry["id"]),
        )
    console.print(table)
