"""``pantau tail``: print matches as they are stored, straight from the database.

It reads the ``events`` table by id (``monitor.events``), so it works beside a running daemon on
the same host (SQLite in WAL mode lets it read while the daemon writes) or against the daemon's
PostgreSQL from anywhere. With ``--follow`` it polls every ``--interval`` seconds (0.5 by
default): a match shows up at most one interval after its transaction committed, plus, on
PostgreSQL only, up to ``GAP_GRACE`` s when an earlier transaction still holds a lower id.
Each line is flushed at once, so ``pantau tail -f --json | jq`` and log shippers see it live.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import Engine

from monitor import events
from monitor.alert import (
    DEFAULT_BACKUPS,
    DEFAULT_MAX_BYTES,
    RotatingJsonl,
    RotationPolicy,
    format_wib,
)
from monitor.cli import app
from monitor.cli.common import ConfigOption, DbOption, cli_errors, settings_from, setup_logging
from monitor.errors import QueryError, StorageError, UnavailableError
from monitor.events import Cursor, EventFilter, StoredEvent
from monitor.textsafe import for_terminal
from monitor.timeofday import WIB
from storage.engine import hide_password, make_engine, session_scope
from storage.types import utcnow

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Emit = Callable[[StoredEvent], None]


def parse_since(text: str, now: datetime) -> datetime:
    """'90s', '30m', '2h', '3d' ago, or an ISO date / date-time (without a zone: WIB)."""
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a duration like 30m, 2h, 3d or a date like 2026-02-02 "
            "or 2026-02-02T08:00+07:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=WIB)


def _names(data: object, key: str) -> list[str]:
    items = data.get(key, []) if isinstance(data, dict) else []
    return [str(i.get("name", "")) for i in items if isinstance(i, dict)]


def _printable(value: Any) -> Any:
    """Every string inside the event's data, safe for a terminal."""
    if isinstance(value, str):
        return for_terminal(value)
    if isinstance(value, dict):
        return {for_terminal(str(k)): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def render(event: StoredEvent) -> Text:
    """One terminal line: time · source · actors · topics — title <url> (other types: key=value).
    Feed text is printed without its escape sequences and control characters (``--json`` and
    ``--output`` keep it exact)."""
    data = _printable(dict(event.data))
    line = Text(format_wib(event.created_at), style="dim")
    if event.type != events.MATCH:
        line.append(f"  {event.type}  ", style="bold yellow")
        line.append(" ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, list | dict)))
        return line
    line.append(f"  {data.get('source', '')}", style="cyan")
    actors = _names(data, "actors")
    if actors:
        line.append(" · ")
        line.append(", ".join(actors), style="bold")
    topics = [
        f"{t.get('name')}{'*' if t.get('substantive') else ''}"
        for t in data.get("topics", [])
        if isinstance(t, dict)
    ]
    if topics:
        line.append(" · ")
        line.append(", ".join(topics), style="magenta")
    line.append(f" — {data.get('title', '')} ")
    url = str(data.get("url", ""))
    line.append(f"<{url}>", style=f"link {url}" if url.startswith("http") else "")
    return line


def starting_cursor(
    engine: Engine, flt: EventFilter, *, since: datetime | None, backlog: int, emit: Emit
) -> Cursor:
    """Print what comes before following (the last ``backlog`` matches unless ``since``)."""
    with session_scope(engine) as session:
        if since is not None:
            return Cursor(events.id_before(session, since))
        head = events.head_id(session)
        for event in events.recent_events(session, limit=backlog, filter=flt, up_to=head):
            emit(event)
    return Cursor(head)


def tail_events(
    engine: Engine,
    flt: EventFilter,
    cursor: Cursor,
    *,
    follow: bool,
    interval: float,
    emit: Emit,
) -> None:
    """Print events after ``cursor``; with ``follow``, keep polling until interrupted."""
    while True:
        with session_scope(engine) as session:
            page = events.read_page(
                session,
                cursor,
                limit=500,
                filter=flt,
                now=time.monotonic(),
                gap_grace=events.GAP_GRACE if follow else 0.0,
            )
        cursor = page.cursor
        for event in page.events:
            emit(event)
        if page.more:
            continue
        if not follow:
            return
        time.sleep(interval)


def _open_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).is_file():
            raise StorageError(
                f"{path}: no Pantau database here (start the daemon or run `pantau replay` "
                "first, or point --db / --config at the right one)"
            )
    return make_engine(url)


def _emitter(json_out: bool, output: Path | None, policy: RotationPolicy) -> Emit:
    if output is not None:
        sink = RotatingJsonl(output, policy)
        return lambda event: sink.write(event.envelope())
    if json_out:

        def emit_json(event: StoredEvent) -> None:
            sys.stdout.write(events.encode(event.envelope()) + "\n")
            sys.stdout.flush()

        return emit_json
    console = Console(highlight=False, soft_wrap=True)

    def emit_line(event: StoredEvent) -> None:
        console.print(render(event))
        console.file.flush()

    return emit_line


@app.command("tail")
def tail_command(
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new matches as they are stored."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON lines (the event envelope)."),
    topic: list[str] = typer.Option([], "--topic", help="Only this topic (repeatable)."),
    actor: list[str] = typer.Option([], "--actor", help="Only this actor (repeatable)."),
    event_type: list[str] = typer.Option(
        [], "--type", help="Event types to print (repeatable; default: match)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Start this long ago (30m, 2h, 3d) or at a date / date-time."
    ),
    lines: int = typer.Option(
        10, "--lines", "-n", min=0, help="Without --since: recent matches printed first."
    ),
    interval: float = typer.Option(
        0.5, "--interval", min=0.05, help="Seconds between database polls with --follow."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Append JSON lines to this file, rotated by size."
    ),
    max_bytes: int = typer.Option(
        DEFAULT_MAX_BYTES, "--max-bytes", min=1, help="--output size cap."
    ),
    backups: int = typer.Option(DEFAULT_BACKUPS, "--backups", min=0, help="--output files kept."),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
) -> None:
    """Print matches as they are stored (reads the database: runs beside the daemon)."""
    setup_logging()
    types = event_type or [events.MATCH]
    unknown = sorted(set(types) - set(events.EVENT_TYPES))
    if unknown:
        raise typer.BadParameter(
            f"unknown event type {unknown[0]!r} (known: {', '.join(events.EVENT_TYPES)})",
            param_hint="--type",
        )
    try:
        start = parse_since(since, utcnow()) if since else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    flt = EventFilter.of(topic, actor, types)
    emit = _emitter(json_out, output, RotationPolicy(max_bytes=max_bytes, backups=backups))
    with cli_errors(), _closed_pipe_is_fine():
        settings = settings_from(config, db)
        engine = _open_engine(settings.database_url)
        try:
            cursor = starting_cursor(engine, flt, since=start, backlog=lines, emit=emit)
            tail_events(engine, flt, cursor, follow=follow, interval=interval, emit=emit)
        except (UnavailableError, QueryError) as exc:
            raise StorageError(
                f"cannot read events from {hide_password(settings.database_url)}: "
                f"{hide_password(exc.detail)} "
                "(is this a Pantau database, upgraded to the current schema?)",
                transient=exc.transient,
            ) from exc
        finally:
            engine.dispose()


@contextlib.contextmanager
def _closed_pipe_is_fine() -> Iterator[None]:
    """``pantau tail -f | head`` ends quietly when the reader goes away."""
    try:
        yield
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
