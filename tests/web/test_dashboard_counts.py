"""The dashboard counts what an analyst expects (issue #17): "today" is the WIB day an article
was seen, the daily chart counts articles (an article on two topics is one article), and the
latest list marks syndicated copies and the items that alerted. Real SQLite, real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from monitor.health import HealthProbe
from monitor.metrics import Metrics
from monitor.web import StatusServer, create_app
from storage import outbox as outbox_rows
from storage import repo
from storage.engine import create_schema, make_engine, session_scope
from storage.tables import AlertRow

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # 10:00 WIB on Saturday 21 November


def article(n: int, source: str, seen: datetime, published: datetime | None) -> repo.NewArticle:
    url = f"https://{source.lower()}.example/berita/{n}"
    return repo.NewArticle(
        canonical_url=url,
        url=url,
        source=source,
        title=f"NATO dan perang Ukraina, laporan {source} {n}",
        body="Sekjen NATO Mark Rutte membahas perang di Ukraina.",
        body_hash=f"hash-{n}",
        signature=None,
        published_at=published,
        seen_at=seen,
        duplicate_kind=None,
    )


def topic(name: str, score: float) -> repo.NewMatch:
    return repo.NewMatch("topic", name, "term", name, 0, 4, f"{name} disebut", score, True)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'pantau.db'}")
    create_schema(eng)
    with session_scope(eng) as session:
        # Seen at 06:00 WIB today (still yesterday in UTC), published yesterday evening;
        # matches two topics and alerted on Slack.
        _, story = repo.save_article(
            session,
            article(1, "Kompas", NOW - timedelta(hours=4), NOW - timedelta(hours=13)),
            [topic("nato", 2.0), topic("ukraine", 1.0)],
            story_id=None,
            alerts=[repo.NewAlert("default", "slack", '{"title": "NATO"}')],
        )
        # Detik's syndicated copy of the same story, seen an hour later: no alert of its own.
        copy = article(2, "Detik", NOW - timedelta(hours=3), None)
        repo.save_article(
            session,
            replace(copy, duplicate_kind="near"),
            [topic("nato", 1.5)],
            story_id=story,
        )
        # Another story, seen yesterday afternoon (WIB).
        repo.save_article(
            session,
            article(3, "Tempo", NOW - timedelta(hours=19), None),
            [topic("ukraine", 1.2)],
            story_id=None,
        )
    with session_scope(eng) as session:
        alert = session.exec(select(AlertRow)).one()
        outbox_rows.mark_delivered(session, alert.id, status="sent", sent_at=NOW)
    yield eng
    eng.dispose()


def chart_values(page: str) -> dict[str, int]:
    """Day label -> the sum of the stacked chart's segments that day."""
    charts = page.split('id="charts"', 1)[1].split("</figure>", 1)[0]
    days: dict[str, int] = {}
    for day, value in re.findall(r"<title>[^<]*? · (\d\d \w{3}): (\d+)</title>", charts):
        days[day] = days.get(day, 0) + int(value)
    return days


def latest_block(page: str, source: str) -> str:
    blocks = page.split('<article class="match">')[1:]
    return next(b for b in blocks if f"laporan {source}" in b)


async def test_dashboard_counts_articles_by_day_seen_and_marks_copies_and_alerts(
    engine: Engine,
) -> None:
    probe = HealthProbe()
    probe.heartbeat("scheduler")
    app = create_app(engine=engine, metrics=Metrics.create(), health=probe, clock=lambda: NOW)
    async with StatusServer(app, port=0) as server, httpx.AsyncClient() as client:
        page = (await client.get(server.url + "/")).text

    cards = dict(re.findall(r'<div class="k">([^<]+)</div><div class="v">([^<]+)</div>', page))
    assert cards["Matches today"] == "2"  # Kompas and Detik, seen today in WIB
    # Today's column: two articles, although they carry three topic matches.
    assert chart_values(page) == {"21 Nov": 2, "20 Nov": 1}

    kompas, detik, tempo = (latest_block(page, s) for s in ("Kompas", "Detik", "Tempo"))
    assert "alerted on slack" in kompas and "copy" not in kompas
    assert "copy, first reported by Kompas" in detik and "alerted" not in detik
    assert "copy" not in tempo and "alerted" not in tempo
