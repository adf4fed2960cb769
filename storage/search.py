"""Full-text search over stored articles: SQLite FTS5 and PostgreSQL tsvector, one interface.

Both backends index title and body (migration 0002) and read a query the same way: words are
all required, a "quoted phrase" or a hyphenated word must appear as written, case and (on
SQLite) diacritics are ignored. Filters narrow by the topics and actors matched in an article,
its date and its source. Snippets mark the words found with « and ».

Indexing happens in the transaction that stores an article (the FTS5 triggers, the GIN index),
batches included: ``storage.batch`` gives the measurements behind that choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.sql.selectable import TextualSelect
from sqlmodel import Session

from storage.types import UTCDateTime

FTS_TABLE = "articles_fts"
PG_SEARCH_INDEX = "ix_articles_search"
MARK_OPEN = "«"
MARK_CLOSE = "»"

# Identical to the expression indexed by migration 0002, or PostgreSQL cannot use the index.
PG_DOCUMENT = (
    "(setweight(to_tsvector('simple'::regconfig, coalesce(a.title, '')), 'A') "
    "|| setweight(to_tsvector('simple'::regconfig, coalesce(a.body, '')), 'B'))"
)

_WORD = re.compile(r"[^\W_]+")
_CHUNK = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    title: str
    url: str
    source: str
    published_at: datetime | None
    snippet: str


def query_phrases(query: str) -> list[tuple[str, ...]]:
    """Split a query into phrases of lower-cased words; each phrase must match.

    ``Sekjen NATO`` -> [("sekjen",), ("nato",)]; ``"Laut Hitam"`` -> [("laut", "hitam")];
    punctuation is dropped, so no input can inject query syntax into either backend.
    """
    phrases: list[tuple[str, ...]] = []
    for quoted, bare in _CHUNK.findall(query):
        words = tuple(w.lower() for w in _WORD.findall(quoted or bare))
        if words and words not in phrases:
            phrases.append(words)
    return phrases


def fts5_query(phrases: list[tuple[str, ...]]) -> str:
    return " ".join('"' + " ".join(p) + '"' for p in phrases)


def tsquery(phrases: list[tuple[str, ...]]) -> str:
    return " & ".join("(" + " <-> ".join(p) + ")" for p in phrases)


def _filters(
    *, topic: str | None, actor: str | None, since: datetime | None, source: str | None
) -> tuple[str, dict[str, object]]:
    clauses: list[str] = []
    params: dict[str, object] = {}
    if topic:
        clauses.append(
            "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.kind = 'topic' "
            "AND lower(m.name) = :topic)"
        )
        params["topic"] = topic.lower()
    if actor:
        # Substring, so that --actor Rutte finds "Mark Rutte".
        clauses.append(
            "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.kind = 'actor' "
            "AND lower(m.name) LIKE :actor)"
        )
        params["actor"] = f"%{actor.lower()}%"
    if since is not None:
        clauses.append("coalesce(a.published_at, a.seen_at) >= :since")
        params["since"] = since
    if source:
        clauses.append("a.source = :source")
        params["source"] = source.lower()
    return "".join(f" AND {c}" for c in clauses), params


def _sqlite_sql(where: str) -> str:
    return (
        "SELECT a.id AS article_id, a.title AS title, a.canonical_url AS url, "
        "a.source AS source, a.published_at AS published_at, "
        f"snippet({FTS_TABLE}, -1, '{MARK_OPEN}', '{MARK_CLOSE}', '…', 16) AS snippet "
        f"FROM {FTS_TABLE} JOIN articles a ON a.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH :q{where} "
        f"ORDER BY bm25({FTS_TABLE}, 4.0, 1.0), a.published_at DESC, a.id "
        "LIMIT :limit"
    )


def _postgres_sql(where: str) -> str:
    options = (
        f"StartSel={MARK_OPEN}, StopSel={MARK_CLOSE}, MaxWords=24, MinWords=12, "
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
    return (
        "SELECT a.id AS article_id, a.title AS title, a.canonical_url AS url, "
        "a.source AS source, a.published_at AS published_at, "
        f"ts_headline('simple'::regconfig, coalesce(a.body, a.title), q, '{options}') "
        "AS snippet "
        "FROM articles a, to_tsquery('simple'::regconfig, :q) AS q "
        f"WHERE {PG_DOCUMENT} @@ q{where} "
        f"ORDER BY ts_rank_cd({PG_DOCUMENT}, q) DESC, a.published_at DESC NULLS LAST, a.id "
        "LIMIT :limit"
    )


def _statement(sql: str, params: dict[str, object]) -> TextualSelect:
    stmt = text(sql).columns(
        article_id=Integer(),
        title=String(),
        url=String(),
        source=String(),
        published_at=UTCDateTime(),
        snippet=String(),
    )
    if "since" in params:
        stmt = stmt.bindparams(bindparam("since", type_=UTCDateTime()))
    return stmt


def search(
    session: Session,
    query: str,
    *,
    topic: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    source: str | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Articles matching every word or phrase of ``query``, best first (at most ``limit``)."""
    phrases = query_phrases(query)
    if not phrases or limit <= 0:
        return []
    where, params = _filters(topic=topic, actor=actor, since=since, source=source)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        sql, q = _postgres_sql(where), tsquery(phrases)
    else:
        sql, q = _sqlite_sql(where), fts5_query(phrases)
    rows = conn.execute(_statement(sql, params), {"q": q, "limit": limit, **params})
    return [
        SearchHit(
            article_id=r.article_id,
            title=r.title,
            url=r.url,
            source=r.source,
            published_at=r.published_at,
            snippet=" ".join((r.snippet or "").split()),  # one line, whatever the body
        )
        for r in rows
    ]
