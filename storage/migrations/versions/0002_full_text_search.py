"""Full-text search over articles (title, body).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

SQLite: an FTS5 external-content table over ``articles`` kept in sync by triggers, filled from
the rows already stored. PostgreSQL: a GIN index on a 'simple' tsvector of title and body. Both
live outside the SQLModel metadata; ``storage.search`` queries them and
``storage.migrate.include_name`` keeps them out of schema comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# unicode61 folds case and strips diacritics; a pruned (NULL) body simply indexes nothing.
_SQLITE_UP = (
    """
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, body, content='articles', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
    END
    """,
    """
    CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
    END
    """,
    """
    CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, body ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO articles_fts(rowid, title, body) VALUES (new.id, new.title, new.body);
    END
    """,
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
)

_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS articles_fts_au",
    "DROP TRIGGER IF EXISTS articles_fts_ad",
    "DROP TRIGGER IF EXISTS articles_fts_ai",
    "DROP TABLE IF EXISTS articles_fts",
)

# The expression must stay identical to storage.search.PG_DOCUMENT for the index to be used.
_PG_UP = """
    CREATE INDEX ix_articles_search ON articles USING gin ((
        setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'B')
    ))
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(_PG_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_articles_search")
