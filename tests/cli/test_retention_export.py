"""Retention (pruning bodies, stats) and the analysts' export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

import monitor.cli.db  # registers `pantau db`
import monitor.cli.export  # noqa: F401  (registers `pantau export`)
from monitor.cli import app
from storage import repo
from storage.engine import make_engine, session_scope
from storage.export import FIELDS, match_rows, write_csv, write_jsonl
from storage.migrate import upgrade
from storage.retention import prune_bodies, stats
from storage.search import search
from storage.tables import ArticleRow

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


def _article(n: int, title: str, body: str, seen: datetime) -> repo.NewArticle:
    return repo.NewArticle(
        canonical_url=f"https://warta.example/{n}",
        url=f"https://warta.example/{n}?ref=rss",
        source="warta.example",
        title=title,
        body=body,
        body_hash=f"hash{n}",
        signature=b"\x01\x02",
        published_at=seen - timedelta(hours=1),
        seen_at=seen,
    )


RUTTE = repo.NewMatch(
    kind="actor", name="Mark Rutte", via="name", term="Rutte", start=0, end=5, snippet="Rutte ..."
)
NATO = repo.NewMatch(
    kind="topic",
    name="nato",
    via="term",
    term="NATO",
    start=10,
    end=14,
    snippet='=HYPERLINK("x") NATO',
    score=2.5,
    substantive=True,
    count=3,
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """Two articles: one seen 40 days ago (Rutte, NATO matches, an alert), one two days ago."""
    upgrade(db_url)
    eng = make_engine(db_url)
    with session_scope(eng) as s:
        repo.save_article(
            s,
            _article(1, "Rutte jadi Sekjen NATO", "Armada berlayar ke Laut Hitam.", OLD),
            [RUTTE, NATO],
            story_id=None,
            alerts=[repo.NewAlert(rule="default", channel="console", payload="{}")],
        )
        repo.save_article(
            s,
            _article(2, "Rapat menteri NATO", "Para menteri bertemu di Brussel.", RECENT),
            [NATO],
            story_id=None,
        )
    yield eng
    eng.dispose()


def test_prune_drops_old_bodies_and_keeps_metadata_and_matches(engine: Engine) -> None:
    with session_scope(engine) as s:
        assert prune_bodies(s, NOW - timedelta(days=30)) == 1
    with session_scope(engine) as s:
        old = repo.article_id_by_url(s, "https://warta.example/1")
        assert old is not None
        row = s.get(ArticleRow, old)
        assert row is not None
        assert row.body is None
        assert (row.title, row.body_hash, row.signature) == (
            "Rutte jadi Sekjen NATO",
            "hash1",
            b"\x01\x02",
        )
        assert [m.name for m in repo.matches_for(s, old)] == ["Mark Rutte", "nato"]
        recent = s.get(ArticleRow, repo.article_id_by_url(s, "https://warta.example/2"))
        assert recent is not None and recent.body == "Para menteri bertemu di Brussel."
        # Still found by its title, no longer by words of the pruned body.
        assert [h.article_id for h in search(s, "Rutte")] == [old]
        assert search(s, "Laut Hitam") == []
        assert prune_bodies(s, NOW - timedelta(days=30)) == 0


def test_stats_count_rows_and_report_size_and_time_span(engine: Engine) -> None:
    with session_scope(engine) as s:
        prune_bodies(s, NOW - timedelta(days=30))
        result = stats(s)
    assert result["tables"]["articles"] == 2
    assert result["tables"]["matches"] == 3
    assert result["tables"]["alerts"] == 1
    assert result["tables"]["stories"] == 2
    assert result["articles_with_body"] == 1
    assert result["database_bytes"] > 0
    assert result["oldest_article_seen_at"] == OLD
    assert result["newest_article_seen_at"] == RECENT


def test_export_rows_carry_the_match_and_its_article(engine: Engine) -> None:
    with session_scope(engine) as s:
        rows = list(match_rows(s))
        since = list(match_rows(s, since=NOW - timedelta(days=7)))
    assert [(r["name"], r["url"]) for r in rows] == [
        ("Mark Rutte", "https://warta.example/1"),
        ("nato", "https://warta.example/1"),
        ("nato", "https://warta.example/2"),
    ]
    assert set(rows[0]) == set(FIELDS)
    assert rows[1]["substantive"] is True and rows[1]["count"] == 3 and rows[1]["score"] == 2.5
    assert rows[0]["seen_at"] == OLD.isoformat()
    assert [r["url"] for r in since] == ["https://warta.example/2"]


def test_jsonl_and_csv_round_trip(engine: Engine) -> None:
    with session_scope(engine) as s:
        rows = list(match_rows(s))
    out = io.StringIO()
    assert write_jsonl(rows, out) == 3
    assert [json.loads(line) for line in out.getvalue().splitlines()] == rows
    out = io.StringIO()
    assert write_csv(rows, out) == 3
    read = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(read[0]) == list(FIELDS)
    assert read[0]["title"] == "Rutte jadi Sekjen NATO"
    # A cell a spreadsheet would run as a formula is defused.
    assert read[1]["snippet"] == '\'=HYPERLINK("x") NATO'


def test_cli_export_csv_to_a_file(engine: Engine, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "matches.csv"
    result = CliRunner().invoke(
        app,
        ["export", "--format", "csv", "--output", str(target)],
        env={"PANTAU_DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    assert "exported 3 match(es)" in result.output
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert [r["name"] for r in rows] == ["Mark Rutte", "nato", "nato"]


def test_cli_export_jsonl_to_stdout_since(engine: Engine, db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["export", "--since", "7d"], env={"PANTAU_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["url"] for r in rows] == ["https://warta.example/2"]


def test_cli_prune_then_stats(engine: Engine, db_url: str) -> None:
    runner = CliRunner()
    env = {"PANTAU_DATABASE_URL": db_url}
    pruned = runner.invoke(app, ["db", "prune", "--days", "30"], env=env)
    assert pruned.exit_code == 0, pruned.output
    assert "pruned the bodies of 1 article(s)" in pruned.output
    result = runner.invoke(app, ["db", "stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tables"]["articles"] == 2
    assert data["articles_with_body"] == 1
    assert data["schema_revision"] == data["schema_head"]
    assert data["oldest_article_seen_at"] == OLD.isoformat()
    table = runner.invoke(app, ["db", "stats"], env=env)
    assert table.exit_code == 0, table.output
    assert "articles with body" in table.stdout


def test_cli_prune_needs_a_positive_number_of_days(engine: Engine, db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["db", "prune", "--days", "0"], env={"PANTAU_DATABASE_URL": db_url}
    )
    assert result.exit_code == 2
