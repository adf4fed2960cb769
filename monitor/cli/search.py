"""``pantau search QUERY``: full-text search over stored articles, with snippets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from monitor.cli import app
from monitor.cli.common import (
    ConfigOption,
    DbOption,
    JsonOption,
    cli_errors,
    print_json,
    settings_from,
)
from monitor.daemon import open_engine
from monitor.textsafe import for_terminal
from storage.engine import session_scope
from storage.search import MARK_CLOSE, MARK_OPEN, SearchHit, query_phrases, search

_RELATIVE = re.compile(r"^(\d+)\s*([dh])$")


def parse_since(value: str | None, *, now: datetime | None = None) -> datetime | None:
    """``7d`` / ``12h`` (ago), a date ``2025-01-31`` (midnight UTC) or an ISO date-time."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    rel = _RELATIVE.match(value)
    if rel:
        amount, unit = int(rel.group(1)), rel.group(2)
        delta = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
        return (now or datetime.now(UTC)) - delta
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: give a date (2025-01-31), a date-time (2025-01-31T08:00+07:00) "
            "or an age (7d, 12h)",
            param_hint="--since",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


SinceOption = typer.Option(
    None, "--since", help="Only articles published since: 2025-01-31, an ISO date-time, 7d, 12h."
)


def hit_json(hit: SearchHit) -> dict[str, object]:
    return {
        "article_id": hit.article_id,
        "title": hit.title,
        "url": hit.url,
        "source": hit.source,
        "published_at": hit.published_at.isoformat() if hit.published_at else None,
        "snippet": hit.snippet,
    }


def _marked(snippet: str) -> Text:
    """The snippet with the words found in bold, without the « » markers."""
    text = Text()
    pattern = re.compile(re.escape(MARK_OPEN) + "(.*?)" + re.escape(MARK_CLOSE))
    last = 0
    for m in pattern.finditer(snippet):
        text.append(snippet[last : m.start()])
        text.append(m.group(1), style="bold yellow")
        last = m.end()
    text.append(snippet[last:])
    return text


def _print_hits(console: Console, hits: list[SearchHit]) -> None:
    for hit in hits:
        date = hit.published_at.date().isoformat() if hit.published_at else "undated"
        console.print(Text(for_terminal(hit.title), style="bold"))
        console.print(Text(for_terminal(f"{date}  {hit.source}  {hit.url}"), style="dim"))
        console.print(_marked(for_terminal(hit.snippet)))
        console.print()


@app.command("search")
def search_command(
    query: str = typer.Argument(..., help='Words that must all appear; "quote" a phrase.'),
    topic: str | None = typer.Option(None, "--topic", help="Only articles matching this topic."),
    actor: str | None = typer.Option(
        None, "--actor", help="Only articles mentioning this actor (part of the name is enough)."
    ),
    since: str | None = SinceOption,
    source: str | None = typer.Option(None, "--source", help="Only this source (host name)."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="At most this many results."),
    config: Path | None = ConfigOption,
    db: Path | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Search stored articles (title and body) and show the best matches with snippets."""
    if not query_phrases(query):
        raise typer.BadParameter("the query has no words to search for", param_hint="QUERY")
    since_at = parse_since(since)
    with cli_errors():
        settings = settings_from(config, db)
        engine = open_engine(settings)
        try:
            with session_scope(engine) as session:
                hits = search(
                    session,
                    query,
                    topic=topic,
                    actor=actor,
                    since=since_at,
                    source=source,
                    limit=limit,
                )
        finally:
            engine.dispose()
    if json_out:
        for hit in hits:
            print_json(hit_json(hit))
        return
    console = Console()
    if not hits:
        Console(stderr=True).print("no stored article matches", highlight=False)
        return
    _print_hits(console, hits)
