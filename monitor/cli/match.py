"""``pantau match``: run the matcher over text or HTML files and explain what fired."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from monitor.cli import app
from monitor.cli.common import shown
from monitor.errors import PantauError
from monitor.extract import extract_article
from monitor.match import Lexicon, Matcher, load_relevance_model
from monitor.models import MatchResult
from monitor.parse import decode_html
from monitor.paths import default_config_dir

_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}


@dataclass(frozen=True)
class _Document:
    path: Path
    title: str
    body: str
    published: datetime | None


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _parse_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise _fail(f"--date {value!r}: expected YYYY-MM-DD, e.g. 2024-10-01") from None
    return day.replace(hour=12, tzinfo=UTC)


def _looks_like_html(path: Path, raw: bytes) -> bool:
    head = raw[:512].lstrip().lower()
    return path.suffix.lower() in _HTML_SUFFIXES or head.startswith((b"<!doctype html", b"<html"))


def _split_text(text: str) -> tuple[str, str]:
    """A text file's first non-empty line is its title, the rest its body."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            return line.strip(), "\n".join(lines[i + 1 :])
    return "", ""


def load_document(path: Path, date: datetime | None) -> _Document:
    """Read a text or HTML file; PantauError (or OSError) when it cannot be used."""
    raw = path.read_bytes()
    if _looks_like_html(path, raw):
        article = extract_article(decode_html(raw), path.resolve().as_uri())
        return _Document(path, article.title, article.body, date or article.published)
    title, body = _split_text(raw.decode("utf-8", errors="replace"))
    return _Document(path, title, body, date)


def _load_or_report(path: Path, date: datetime | None) -> _Document | None:
    """Load one file, or print one clear error line for it and return None."""
    try:
        return load_document(path, date)
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "is a directory, expected a text or HTML file"
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
    except PantauError as exc:
        reason = exc.message
    typer.echo(f"error: {path}: {reason}", err=True)
    return None


def result_json(doc: _Document, result: MatchResult) -> dict[str, Any]:
    """The stable ``--json`` line for one file."""
    return {
        "path": str(doc.path),
        "title": doc.title,
        "published": doc.published.date().isoformat() if doc.published else None,
        "topics": [
            {
                "name": t.name,
                "score": t.score,
                "substantive": t.substantive,
                # Added with the relevance model: its probability and what drove it most.
                "confidence": t.confidence,
                "drivers": [{"feature": name, "weight": weight} for name, weight in t.drivers],
            }
            for t in result.topics
        ],
        "actors": [
            {"name": a.name, "via": a.via, "count": a.count, "snippets": list(a.snippets)}
            for a in result.actors
        ],
    }


def _table(doc: _Document, result: MatchResult) -> Table:
    date = doc.published.date().isoformat() if doc.published else "today"
    table = Table(
        title=f"{shown(doc.path)} — {shown(doc.title or '(untitled)')} [{date}]",
        title_justify="left",
    )
    table.add_column("kind")
    table.add_column("name")
    table.add_column("verdict / via")
    table.add_column("score / count", justify="right")
    table.add_column("first hit", overflow="fold")
    for t in result.topics:
        first = t.hits[0] if t.hits else None
        fired = f"[{first.term}] {first.snippet}" if first else ""
        verdict = "substantive" if t.substantive else "passing"
        if t.confidence is not None:
            verdict += f" ({t.confidence:.2f})"
        table.add_row("topic", t.name, verdict, f"{t.score:g}", shown(fired))
    for a in result.actors:
        first = a.hits[0] if a.hits else None
        fired = f"[{first.term}] {first.snippet}" if first else ""
        table.add_row("actor", a.name, a.via, str(a.count), shown(fired))
    if result.is_empty:
        table.add_row("-", "no tracked topic or actor", "", "", "")
    return table


@app.command("match")
def match_command(
    paths: list[Path] = typer.Argument(..., help="Text or HTML files to match."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON line per file."),
    date: str | None = typer.Option(
        None, "--date", help="Publication date YYYY-MM-DD for role resolution (default: today)."
    ),
    config_dir: Path | None = typer.Option(
        None, "--config-dir", help="Directory with topics.toml and actors.toml."
    ),
    model: str = typer.Option(
        "bundled", "--model", help='Relevance model: "bundled", "rules" or a model file.'
    ),
) -> None:
    """Show which topics and actors each file mentions, and which term fired where."""
    published = _parse_date(date)
    try:
        lexicon = Lexicon.load(config_dir or default_config_dir())
        matcher = Matcher(lexicon, load_relevance_model(model))
    except PantauError as exc:
        raise _fail(exc.message) from None
    console = Console()
    failed = 0
    for path in paths:
        doc = _load_or_report(path, published)
        if doc is None:
            failed += 1
            continue
        result = matcher.match(doc.title, doc.body, doc.published)
        if as_json:
            typer.echo(json.dumps(result_json(doc, result), ensure_ascii=False))
        else:
            console.print(_table(doc, result))
    if failed:
        # A file that cannot be read is a usage error, like a bad option: exit 2.
        raise typer.Exit(2)
