"""Full-text search on SQLite FTS5 and PostgreSQL, over the replayed seed corpus."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

import monitor.cli.search  # noqa: F401  (registers `pantau search`)
from monitor.cli import app
from monitor.config import load_settings
from monitor.demo.replay import run_replay
from monitor.demo.sitebuilder import load_corpus
from monitor.paths import default_seeds_dir
from storage import repo
from storage.engine import make_engine, session_scope
from storage.migrate import upgrade
from storage.search import query_phrases, search
from storage.tables import ArticleRow, MatchRow

SEEDS = default_seeds_dir()
# Seed file prefix -> public URL, as the replay stores it.
SEED_URL = {d.path.name[:3]: d.url for d in load_corpus(SEEDS).docs}


def _seeds(urls: list[str]) -> list[str]:
    by_url = {u: k for k, u in SEED_URL.items()}
    return [by_url.get(u, u) for u in urls]


@pytest.fixture(scope="module")
def replayed(module_db_url: str) -> Iterator[str]:
    """The five seed articles replayed through the real pipeline into a fresh database."""
    settings = load_settings(None, env={}, overrides={"database": {"url": module_db_url}})
    report = asyncio.run(run_replay(SEEDS, settings, alert_stream=io.StringIO()))
    assert report.summary()["stored"] == 5, [(i.path.name, i.outcome.reason) for i in report.items]
    yield module_db_url


@pytest.fixture
def session(replayed: str) -> Iterator[Session]:
    engine = make_engine(replayed)
    try:
        with session_scope(engine) as s:
            yield s
    finally:
        engine.dispose()


def test_rutte_finds_the_article_about_his_appointment(session: Session) -> None:
    hits = search(session, "Rutte")
    assert _seeds([h.url for h in hits]) == ["002"]
    assert "«Rutte»" in hits[0].snippet
    assert hits[0].title.startswith("Jens Stoltenberg Mundur Sebagai Sekjen NATO")


def test_sekjen_nato_ranks_the_articles_about_the_secretary_general_first(
    session: Session,
) -> None:
    hits = search(session, "Sekjen NATO")
    found = _seeds([h.url for h in hits])
    assert set(found[:2]) == {"000", "002"}, found
    assert all("«" in h.snippet for h in hits)
    # As a phrase: 001 writes "Sekretaris Jenderal (Sekjen) NATO", punctuation does not count.
    phrase = search(session, '"Sekjen NATO"')
    assert set(_seeds([h.url for h in phrase])) == {"000", "001", "002"}


def test_laut_hitam_finds_the_black_sea_articles(session: Session) -> None:
    hits = search(session, '"Laut Hitam"')
    assert set(_seeds([h.url for h in hits])) == {"003", "004"}
    assert all("Laut" in h.snippet and "Hitam" in h.snippet for h in hits)


def test_search_ignores_case_and_punctuation(session: Session) -> None:
    assert [h.article_id for h in search(session, "rutte!")] == [
        h.article_id for h in search(session, "RUTTE")
    ]
    # No query syntax leaks through to FTS5 or to_tsquery: quotes, brackets, stars are dropped.
    assert [h.article_id for h in search(session, 'rutte" (*: ^')] == [
        h.article_id for h in search(session, "Rutte")
    ]
    assert search(session, "Rutte OR Putin") == []  # OR is just a word here
    assert search(session, "  ,,  ") == []
    assert search(session, "kata-yang-tidak-ada-di-korpus") == []


def test_since_keeps_only_recent_articles(session: Session) -> None:
    hits = search(session, "NATO", since=datetime(2025, 1, 1, tzinfo=UTC))
    assert set(_seeds([h.url for h in hits])) == {"000", "001", "004"}
    assert all(h.published_at and h.published_at >= datetime(2025, 1, 1, tzinfo=UTC) for h in hits)


def test_actor_and_topic_filters_use_the_stored_matches(session: Session) -> None:
    with_rutte = set(
        session.exec(
            select(MatchRow.article_id).where(
                MatchRow.kind == "actor", MatchRow.name == "Mark Rutte"
            )
        ).all()
    )
    assert with_rutte
    hits = search(session, "NATO", actor="rutte")
    assert {h.article_id for h in hits} == with_rutte
    on_us_russia = set(
        session.exec(
            select(MatchRow.article_id).where(
                MatchRow.kind == "topic", MatchRow.name == "us_russia"
            )
        ).all()
    )
    hits = search(session, "NATO", topic="us_russia")
    assert {h.article_id for h in hits} == on_us_russia


def test_source_filter_and_limit(session: Session) -> None:
    source = session.exec(select(ArticleRow.source)).first()
    assert source
    assert len(search(session, "NATO", source=source)) == 5
    assert search(session, "NATO", source="elsewhere.example") == []
    assert len(search(session, "NATO", limit=2)) == 2


def test_cli_search_prints_json_lines_with_snippets(replayed: str) -> None:
    result = CliRunner().invoke(
        app,
        ["search", "Laut Hitam", "--json", "--since", "2024-01-01"],
        env={"PANTAU_DATABASE_URL": replayed},
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["url"] for r in rows} == {SEED_URL["003"], SEED_URL["004"]}
    assert all("«" in r["snippet"] for r in rows)


def test_cli_search_shows_titles_and_dates(replayed: str) -> None:
    result = CliRunner().invoke(app, ["search", "Rutte"], env={"PANTAU_DATABASE_URL": replayed})
    assert result.exit_code == 0, result.output
    assert "Jens Stoltenberg Mundur Sebagai Sekjen NATO" in result.stdout
    assert "2024-10-01" in result.stdout


def test_cli_search_rejects_a_bad_since(replayed: str) -> None:
    result = CliRunner().invoke(
        app, ["search", "NATO", "--since", "last tuesday"], env={"PANTAU_DATABASE_URL": replayed}
    )
    assert result.exit_code == 2
    assert "--since" in result.output


# --- the index follows the articles table -----------------------------------------------------


def _store(session: Session, n: int, title: str, body: str) -> int:
    article_id, _ = repo.save_article(
        session,
        repo.NewArticle(
            canonical_url=f"https://warta.example/{n}",
            url=f"https://warta.example/{n}",
            source="warta.example",
            title=title,
            body=body,
            body_hash=f"h{n}",
            signature=None,
            published_at=datetime(2025, 3, n, tzinfo=UTC),
            seen_at=datetime(2025, 3, n, tzinfo=UTC),
        ),
        [],
        story_id=None,
    )
    return article_id


def test_index_follows_inserts_updates_and_deletes(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            first = _store(s, 1, "Kapal perang di Laut Hitam", "Armada Rusia berlayar.")
            _store(s, 2, "Rapat NATO", "Para menteri bertemu di Brussel.")
        with session_scope(engine) as s:
            assert [h.article_id for h in search(s, "armada")] == [first]
            row = s.get(ArticleRow, first)
            assert row is not None
            row.body = "Kapal selam berlabuh di Sevastopol."
        with session_scope(engine) as s:
            assert search(s, "armada") == []
            assert [h.article_id for h in search(s, "Sevastopol")] == [first]
            s.delete(s.get(ArticleRow, first))
        with session_scope(engine) as s:
            assert search(s, "Sevastopol") == []
            assert [h.title for h in search(s, "brussel")] == ["Rapat NATO"]
            assert s.exec(select(col(ArticleRow.id))).all() != []
    finally:
        engine.dispose()


def test_query_words_and_phrases() -> None:
    assert query_phrases('Sekjen  NATO "Laut Hitam" Uni-Eropa sekjen') == [
        ("sekjen",),
        ("nato",),
        ("laut", "hitam"),
        ("uni", "eropa"),
    ]
    assert query_phrases('"" ( * : ') == []
