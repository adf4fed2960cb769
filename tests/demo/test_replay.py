"""End to end: the seed corpus replayed through the whole pipeline on a real loopback site, into
SQLite and into PostgreSQL (the ``--db`` CLI cases are SQLite files by definition)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from monitor.cli import _register, app
from monitor.demo.replay import ReplayReport, run_replay
from monitor.demo.sitebuilder import FURNITURE_MARKERS, build_site, load_corpus
from monitor.extract.article import extract_article
from monitor.paths import default_seeds_dir
from storage.engine import make_engine, session_scope
from storage.tables import AlertRow, ArticleRow
from tests import factories

SEEDS = default_seeds_dir()

# Issue 2's table: topics that must be substantive and actors that must be found, per seed.
EXPECTED = {
    "000": ({"nato"}, {"Donald Trump", "Mark Rutte"}),
    "001": (
        {"nato", "ukraine", "us_russia"},
        {"Jens Stoltenberg", "Vladimir Putin", "Joe Biden", "Volodymyr Zelensky"},
    ),
    "002": ({"nato", "ukraine"}, {"Jens Stoltenberg", "Mark Rutte", "Donald Trump"}),
    "003": ({"nato", "ukraine", "us_russia"}, {"Jens Stoltenberg", "Vladimir Putin"}),
    "004": (
        {"us_russia", "ukraine", "nato"},
        {"Lloyd Austin", "Sergei Shoigu", "Jens Stoltenberg", "Josep Borrell", "Joe Biden"},
    ),
}


def _replay(directory: Path, db: str) -> tuple[ReplayReport, str]:
    alerts = io.StringIO()
    report = asyncio.run(run_replay(directory, factories.settings(db), alert_stream=alerts))
    return report, alerts.getvalue()


def _rows(db: str, table: type[ArticleRow | AlertRow]) -> list[Any]:
    engine = make_engine(db)
    with session_scope(engine) as session:
        rows = list(session.exec(select(table)).all())
    engine.dispose()
    return rows


FirstRun = tuple[str, ReplayReport, str]


@pytest.fixture(scope="module")
def first_run(module_db_url: str) -> FirstRun:
    report, alerts = _replay(SEEDS, module_db_url)
    return module_db_url, report, alerts


def test_replay_stores_all_five_seed_articles(first_run: FirstRun) -> None:
    db, report, _ = first_run
    assert report.summary()["stored"] == 5, [(i.path.name, i.outcome.reason) for i in report.items]
    assert len(_rows(db, ArticleRow)) == 5


@pytest.mark.parametrize("seed", sorted(EXPECTED))
def test_replay_finds_each_seeds_topics_and_actors(first_run: FirstRun, seed: str) -> None:
    _, report, _ = first_run
    item = next(i for i in report.items if i.path.name.startswith(seed))
    topics, actors = EXPECTED[seed]
    substantive = {t.name for t in item.outcome.match.topics if t.substantive}
    found = {a.name for a in item.outcome.match.actors}
    assert topics <= substantive, f"seed {seed}: substantive topics {substantive}"
    assert actors <= found, f"seed {seed}: actors {found}"


def test_seed_000_resolves_sekjen_nato_role_to_rutte(
    first_run: FirstRun,
) -> None:
    _, report, _ = first_run
    item = next(i for i in report.items if i.path.name.startswith("000"))
    rutte = next(a for a in item.outcome.match.actors if a.name == "Mark Rutte")
    assert rutte.via == "role"


def _sentences(paragraphs: tuple[str, ...]) -> list[str]:
    out = []
    for p in paragraphs:
        if p.startswith("http"):
            continue
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", p) if s.strip()]
    return out


def _norm(text: str) -> str:
    # Private-use bullets (U+F0B7 in seed 004) are dropped by extraction; compare the words.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Co")
    return " ".join(text.split())


def test_extracted_body_of_each_seed_page_keeps_its_sentences() -> None:
    corpus = load_corpus(SEEDS)
    site = build_site(corpus, "http://127.0.0.1:8")
    for doc in corpus.docs:
        page = site.pages[doc.url_path][1]
        body = _norm(extract_article(page, "http://127.0.0.1:8" + doc.url_path).body)
        sentences = _sentences(doc.body_paragraphs)
        kept = [s for s in sentences if _norm(s) in body]
        assert len(kept) >= 0.95 * len(sentences), (
            f"{doc.path.name}: only {len(kept)}/{len(sentences)} sentences kept"
        )


def test_stored_bodies_carry_none_of_the_page_furniture(
    first_run: FirstRun,
) -> None:
    db, _, _ = first_run
    corpus = load_corpus(SEEDS)
    bodies = {a.canonical_url: a.body or "" for a in _rows(db, ArticleRow)}
    for doc in corpus.docs:
        body = bodies[doc.url]
        assert len(body) > 1000
        leaked = [m for m in FURNITURE_MARKERS if m in body]
        assert not leaked, f"{doc.path.name}: furniture in stored body: {leaked}"
        for headline in (d.title for d in corpus.docs if d is not doc):
            assert headline not in body, f"{doc.path.name}: sidebar headline leaked"


def test_each_seed_alerts_once_on_the_console(first_run: FirstRun) -> None:
    db, report, alerts = first_run
    assert report.summary()["alerts"] == 5
    assert report.delivery.sent == 5
    assert {r.status for r in _rows(db, AlertRow)} == {"sent"}
    for item in report.items:
        assert item.outcome.title in alerts


def test_second_replay_stores_and_alerts_nothing_new(
    first_run: FirstRun,
) -> None:
    db, _, _ = first_run
    report, alerts = _replay(SEEDS, db)
    summary = report.summary()
    assert summary["stored"] == 0
    assert summary["alerts"] == 0
    assert report.delivery.sent == 0
    assert alerts == ""
    assert len(_rows(db, ArticleRow)) == 5
    assert len(_rows(db, AlertRow)) == 5


def test_replay_cli_prints_json_lines_with_summary(tmp_path: Path) -> None:
    _register()
    result = CliRunner().invoke(app, ["replay", "--json", "--db", str(tmp_path / "p.db")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    articles, summary = lines[:-1], lines[-1]
    assert summary == {"summary": {"stored": 5, "duplicates": 0, "skipped": 0, "alerts": 5}}
    assert len(articles) == 5
    for a in articles:
        assert set(a) >= {"path", "url", "status", "story", "topics", "actors", "alerted"}
        assert a["status"] == "stored" and a["alerted"] is True
        assert all(set(t) == {"name", "substantive"} for t in a["topics"])
        assert all(set(x) == {"name", "via"} for x in a["actors"])
        assert a["url"].startswith("https://warta.pantau.example/")


def test_replay_cli_rejects_a_missing_directory_without_traceback(tmp_path: Path) -> None:
    _register()
    result = CliRunner().invoke(
        app, ["replay", str(tmp_path / "nope"), "--db", str(tmp_path / "x.db")]
    )
    assert result.exit_code == 2
    assert "not a directory" in result.output
    assert "Traceback" not in result.output


def test_replay_takes_any_directory_of_text_and_html_articles(
    tmp_path: Path, shared_dir: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # The one saved page of ../shared/corpus/articles not reserved for outside evaluation.
    page = "id_html_anpandu_antara-singlepage4.html"
    (corpus / page).write_bytes((shared_dir / "corpus" / "articles" / page).read_bytes())
    (corpus / "putin.txt").write_text(
        "Putin dan Biden Bahas Perang di Ukraina\n\n"
        "Presiden Rusia Vladimir Putin dan Presiden AS Joe Biden berbicara lewat telepon "
        "tentang perang di Ukraina pada 10 Desember 2021. Putin menuntut jaminan bahwa NATO "
        "tidak akan memperluas keanggotaan ke timur, sementara Biden memperingatkan Rusia "
        "tentang sanksi berat bila menyerang Ukraina.\n\n"
        "Gedung Putih menyebut pembicaraan AS-Rusia itu berlangsung terus terang. Kremlin "
        "mengatakan Putin siap melanjutkan dialog dengan Washington.\n",
        encoding="utf-8",
    )
    report, _ = _replay(corpus, f"sqlite:///{tmp_path / 'any.db'}")
    by_name = {i.path.name: i.outcome for i in report.items}
    assert set(by_name) == {page, "putin.txt"}
    putin = by_name["putin.txt"]
    assert putin.status == "stored"
    assert {"Vladimir Putin", "Joe Biden"} <= {a.name for a in putin.match.actors}
    # The real Indonesian page is about local news: fetched, extracted, not stored.
    assert by_name[page].status == "skipped"
    assert by_name[page].reason == "no tracked topic or actor"
