"""Export of matches for analysts: one row per match with its article, as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.tables import ArticleRow, MatchRow

FIELDS: tuple[str, ...] = (
    "match_id",
    "article_id",
    "story_id",
    "kind",
    "name",
    "via",
    "term",
    "start",
    "end",
    "snippet",
    "score",
    "substantive",
    "count",
    "title",
    "url",
    "source",
    "published_at",
    "seen_at",
)

# Spreadsheet programs run cells starting with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def match_rows(
    session: Session, *, since: datetime | None = None, batch: int = 500
) -> Iterator[dict[str, Any]]:
    """Every match (oldest first) with its article, optionally only of articles published
    since ``since``; streamed from the database in batches of ``batch``."""
    stmt = (
        select(MatchRow, ArticleRow)
        .join(ArticleRow, col(ArticleRow.id) == col(MatchRow.article_id))
        .order_by(col(MatchRow.id))
        .execution_options(yield_per=batch)
    )
    if since is not None:
        # Like search: by publication date, by first sighting when the date is unknown.
        stmt = stmt.where(func.coalesce(ArticleRow.published_at, ArticleRow.seen_at) >= since)
    for m, a in session.exec(stmt):
        yield {
            "match_id": m.id,
            "article_id": a.id,
            "story_id": a.story_id,
            "kind": m.kind,
            "name": m.name,
            "via": m.via,
            "term": m.term,
            "start": m.start,
            "end": m.end,
            "snippet": m.snippet,
            "score": m.score,
            "substantive": m.substantive,
            "count": m.count,
            "title": a.title,
            "url": a.canonical_url,
            "source": a.source,
            "published_at": _iso(a.published_at),
            "seen_at": _iso(a.seen_at),
        }


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One JSON object per line (UTF-8 kept readable); returns the number of rows."""
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """CSV with a header row; text that a spreadsheet would run as a formula is quoted with '."""
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        n += 1
    return n
