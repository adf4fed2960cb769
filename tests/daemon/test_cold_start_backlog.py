"""A cold start with a backlog of large real pages loses nothing (issue 21, break 3).

The extraction deadline used to count the time a page waited in the queue, and an overrun was
permanent: on a cold start with a backlog, every page queued behind the first few timed out and
was marked seen for good. Here 200 entries (the 100 longest real Indonesian articles of the
labelled corpus, ``tests/data/relevance/corpus.jsonl``, each in a 100 KB portal-like page,
linked twice) reach two worker processes at once, with a per-page deadline shorter than the
whole backlog's work but far above one page's: every entry is processed, none is skipped.
(The saved pages of ``../shared/corpus/articles`` are reserved for outside evaluation and are
not used.)
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from sqlmodel import func, select

from monitor import events
from monitor.daemon.service import run_daemon
from storage.engine import make_engine, session_scope
from storage.tables import SeenEntry
from tests import factories
from tests.factories import write_feeds_file
from tests.loopback import LoopbackServer, Response
from tests.pollharness import rss

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "data" / "relevance" / "corpus.jsonl"
DEADLINE = 0.75  # seconds of work per page; one page takes ~15 ms, the backlog ~3 CPU-s


def real_pages(count: int) -> list[bytes]:
    """The ``count`` longest Indonesian articles of the labelled corpus as portal pages."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    longest = sorted((r for r in rows if r["lang"] == "id"), key=lambda r: -len(r["text"]))
    # A portal page's weight: menus, a long "more news" rail, tracking scripts (~150 KB).
    nav = "".join(
        f"<li class='menu-item'><a href='/kanal/{k}'>Kanal {k}</a><ul>"
        + "".join(f"<li><a href='/kanal/{k}/{j}'>Sub {j}</a></li>" for j in range(12))
        + "</ul></li>"
        for k in range(40)
    )
    related = "".join(
        f"<li><a href='/berita/lain/{k}'><img src='/img/{k}.jpg' alt=''>"
        f"<span>Berita lain nomor {k} yang juga menarik dibaca hari ini</span></a></li>"
        for k in range(300)
    )
    script = (
        "<script>"
        + "".join(f"window.dataLayer.push({{'event':'view','slot':{k}}});" for k in range(800))
        + "</script>"
    )
    pages = []
    for row in longest[:count]:
        body = "".join(
            f"<p>{html.escape(p.strip())}</p>" for p in row["text"].split("\n") if p.strip()
        )
        pages.append(
            (
                f"<!DOCTYPE html><html lang='id'><head><meta charset='utf-8'>"
                f"<title>{html.escape(row['title'])}</title>{script}</head><body>"
                f"<header><nav><ul>{nav}</ul></nav></header><main><article>"
                f"<h1>{html.escape(row['title'])}</h1>{body}</article>"
                f"<aside><h2>Berita terkait</h2><ul>{related}</ul></aside></main>"
                "<footer><p>Hak cipta dilindungi undang-undang.</p></footer></body></html>"
            ).encode()
        )
    return pages


async def test_cold_start_backlog_of_real_pages_is_processed_without_a_skip(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    items = []
    for i, page in enumerate(real_pages(100)):
        for copy in range(2):
            path = f"/berita/{i}-{copy}.html"
            loopback.route(
                path, Response(body=page, headers={"content-type": "text/html; charset=utf-8"})
            )
            items.append((f"Berita {i}", loopback.url(path)))
    loopback.route(
        "/backlog.xml", Response(body=rss(items), headers={"content-type": "application/rss+xml"})
    )
    write_feeds_file(tmp_path / "feeds.toml", [loopback.url("/backlog.xml")])
    settings = factories.daemon_settings(
        tmp_path,
        schedule={
            "extract_workers": 2,
            "extract_timeout": DEADLINE,
            "extract_attempts": 1,  # an overrun would be a skip at once
            "per_host_delay": 0.0,
            "per_host_concurrency": 16,
        },
    )
    report = await run_daemon(settings, once=True, allow_private=True, env={}, handle_signals=False)
    assert report.by_status["ok"] == 1, report.outcomes
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            seen = session.exec(select(func.count()).select_from(SeenEntry)).one()
            skipped = events.skipped_entries(session, limit=100)
    finally:
        engine.dispose()
    assert [e.data["url"] for e in skipped] == []
    assert seen == len(items)
