"""One story, one alert: URL variants, syndicated copies, restarts and follow-ups, through the
real pipeline against pages served on 127.0.0.1, on SQLite and on PostgreSQL."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from sqlmodel import col, select

from monitor.alert.outbox import message_from_row
from monitor.config import load_settings
from monitor.daemon.runtime import Runtime, open_runtime
from monitor.demo.sitebuilder import load_corpus, render_page
from monitor.models import FeedEntry
from monitor.paths import default_seeds_dir
from storage import repo
from storage.engine import make_engine, session_scope
from storage.tables import AlertRow, ArticleRow
from tests.loopback import LoopbackServer, Response, serve

CORPUS = load_corpus(default_seeds_dir())
SEED = next(d for d in CORPUS.docs if d.path.name.startswith("002"))  # Stoltenberg -> Rutte


def _page(server: LoopbackServer, path: str, canonical: str | None = None) -> bytes:
    page = render_page(SEED, CORPUS, lambda p: server.url(p))
    if canonical:
        page = page.replace(f'href="{server.url(SEED.url_path)}"', f'href="{canonical}"', 1)
    return page.encode()


def _other_portal_page(title: str, paragraphs: list[str]) -> bytes:
    """A second portal's template: different navigation, byline, widgets and footer."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="id"><head><meta charset="utf-8">
<title>{html.escape(title)} | Kabar Nusantara</title></head><body>
<div id="topbar"><a href="/">Home</a> | <a href="/dunia">Dunia</a>
 | <a href="/video">Video</a></div>
<div class="container"><div class="read__content">
<h1>{html.escape(title)}</h1>
<p class="byline">Penulis: Tim Kabar Nusantara | Editor: Dewi Lestari</p>
{body}
</div>
<div class="widget">Video Pilihan: Banjir Rob Landa Pesisir Utara Jakarta</div>
<div class="widget">Jangan lewatkan: Promo akhir pekan di aplikasi kami</div>
</div>
<footer>Kabar Nusantara &copy; 2024 - Semua hak dilindungi. Kontak | Karir | Iklan</footer>
</body></html>""".encode()


def _entry(url: str, title: str = "") -> FeedEntry:
    return FeedEntry(entry_id=url, link=url, title=title, published=SEED.published)


@pytest.fixture
def db(db_url: str) -> str:
    return db_url


async def _runtime(
    stack: AsyncExitStack, db: str, public_url: Callable[[str], str] | None = None
) -> Runtime:
    settings = load_settings(None, env={}, overrides={"database": {"url": db}})
    return await open_runtime(settings, stack, allow_private=True, public_url=public_url)


@pytest.fixture
async def two_portals() -> AsyncIterator[tuple[LoopbackServer, LoopbackServer]]:
    with serve() as a, serve() as b:
        yield a, b


def _portal_names(a: LoopbackServer, b: LoopbackServer) -> Callable[[str], str]:
    hosts = {a.url(""): "https://www.kompas.example", b.url(""): "https://www.detik.example"}

    def public(url: str) -> str:
        for served, public_base in hosts.items():
            if url.startswith(served):
                return public_base + url[len(served) :]
        return url

    return public


def _alerts(db: str) -> list[AlertRow]:
    engine = make_engine(db)
    with session_scope(engine) as session:
        rows = list(session.exec(select(AlertRow).order_by(col(AlertRow.id))).all())
    engine.dispose()
    return rows


def _articles(db: str) -> list[ArticleRow]:
    engine = make_engine(db)
    with session_scope(engine) as session:
        rows = list(session.exec(select(ArticleRow).order_by(col(ArticleRow.id))).all())
    engine.dispose()
    return rows


async def test_same_article_under_six_url_variants_is_stored_once(db: str) -> None:
    with serve() as server:
        path = SEED.url_path
        server.route(path, Response(200, _page(server, path), {"content-type": "text/html"}))
        amp_path = "/amp" + path
        amp = _page(server, amp_path, canonical=server.url(path))
        server.route(amp_path, Response(200, amp, {"content-type": "text/html"}))
        variants = [
            server.url(path),
            server.url(path) + "?utm_source=twitter&utm_medium=social&utm_campaign=x",
            server.url(path) + "?fbclid=IwAR3abc123",
            server.url(path) + "#komentar",
            server.url(path) + "?amp=1",
            server.url(amp_path),
        ]
        async with AsyncExitStack() as stack:
            rt = await _runtime(stack, db)
            outcomes = [await rt.pipeline.process_entry(_entry(u), feed_id=None) for u in variants]
    assert [o.status for o in outcomes] == ["stored"] + ["duplicate"] * 5, [
        (o.status, o.reason) for o in outcomes
    ]
    assert len({o.canonical_url for o in outcomes}) == 1
    assert len(_articles(db)) == 1
    assert len(_alerts(db)) == 1


async def test_syndicated_copy_joins_the_story_and_does_not_alert_again(
    db: str, two_portals: tuple[LoopbackServer, LoopbackServer]
) -> None:
    a, b = two_portals
    a.route(SEED.url_path, Response(200, _page(a, SEED.url_path), {"content-type": "text/html"}))
    trimmed = list(SEED.body_paragraphs[:-1])  # last paragraph cut by the second portal
    copy = _other_portal_page("Rutte Resmi Gantikan Stoltenberg Pimpin Aliansi", trimmed)
    b.route("/dunia/rutte-gantikan-stoltenberg", Response(200, copy, {"content-type": "text/html"}))
    async with AsyncExitStack() as stack:
        rt = await _runtime(stack, db, public_url=_portal_names(a, b))
        first = await rt.pipeline.process_entry(_entry(a.url(SEED.url_path)), feed_id=None)
        second = await rt.pipeline.process_entry(
            _entry(b.url("/dunia/rutte-gantikan-stoltenberg")), feed_id=None
        )
        report = await rt.outbox.deliver_due()
    assert first.status == "stored"
    assert second.status == "duplicate" and second.duplicate_kind in ("exact", "near")
    assert second.story_id == first.story_id
    assert not second.alerted
    assert len(_alerts(db)) == 1 and report.sent == 1
    assert len(_articles(db)) == 2  # the copy is kept, attached to the story
    engine = make_engine(db)
    with session_scope(engine) as session:
        assert first.story_id is not None
        assert repo.story_sources(session, first.story_id) == ["kompas.example", "detik.example"]
        row = session.exec(select(AlertRow)).one()
        message = message_from_row(row, repo.story_sources(session, row.story_id)[1:])
    engine.dispose()
    assert message.also_reported_by == ("detik.example",)


async def test_restart_between_original_and_copy_keeps_one_story_and_one_alert(
    db: str, two_portals: tuple[LoopbackServer, LoopbackServer]
) -> None:
    a, b = two_portals
    a.route(SEED.url_path, Response(200, _page(a, SEED.url_path), {"content-type": "text/html"}))
    copy = _other_portal_page("Stoltenberg Serahkan Jabatan ke Rutte", list(SEED.body_paragraphs))
    b.route("/copy", Response(200, copy, {"content-type": "text/html"}))
    async with AsyncExitStack() as stack:
        rt = await _runtime(stack, db, public_url=_portal_names(a, b))
        first = await rt.pipeline.process_entry(_entry(a.url(SEED.url_path)), feed_id=None)
    async with AsyncExitStack() as stack:  # a new process: the dedup index comes from the DB
        rt = await _runtime(stack, db, public_url=_portal_names(a, b))
        assert len(rt.dedup) == 1
        second = await rt.pipeline.process_entry(_entry(b.url("/copy")), feed_id=None)
    assert second.status == "duplicate" and second.story_id == first.story_id
    assert len(_alerts(db)) == 1


async def test_copy_naming_a_new_tracked_actor_raises_one_follow_up(
    db: str, two_portals: tuple[LoopbackServer, LoopbackServer]
) -> None:
    a, b = two_portals
    a.route(SEED.url_path, Response(200, _page(a, SEED.url_path), {"content-type": "text/html"}))
    added = (
        "Menteri Luar Negeri Rusia Sergei Lavrov menanggapi pergantian itu dengan menyebut "
        "bahwa Moskow tidak mengharapkan perubahan sikap NATO terhadap Ukraina di bawah Rutte."
    )
    updated = [*SEED.body_paragraphs, added]
    page = _other_portal_page("Rutte Pimpin NATO, Lavrov Bereaksi", updated)
    b.route("/updated", Response(200, page, {"content-type": "text/html"}))
    b.route("/updated-again", Response(200, page, {"content-type": "text/html"}))
    async with AsyncExitStack() as stack:
        rt = await _runtime(stack, db, public_url=_portal_names(a, b))
        first = await rt.pipeline.process_entry(_entry(a.url(SEED.url_path)), feed_id=None)
        update = await rt.pipeline.process_entry(_entry(b.url("/updated")), feed_id=None)
        again = await rt.pipeline.process_entry(_entry(b.url("/updated-again")), feed_id=None)
    assert update.story_id == first.story_id and update.follow_up
    assert not again.alerted, "the same new actor must not raise a second follow-up"
    rows = _alerts(db)
    assert [r.kind for r in rows] == ["alert", "follow_up"]
    follow = json.loads(rows[1].payload)["follow_up"]
    assert "Sergei Lavrov" in follow and "Lavrov menanggapi" in follow


async def test_five_different_seed_articles_are_five_stories(db: str) -> None:
    with serve() as server:
        for doc in CORPUS.docs:
            page = render_page(doc, CORPUS, lambda p: server.url(p)).encode()
            server.route(doc.url_path, Response(200, page, {"content-type": "text/html"}))
        async with AsyncExitStack() as stack:
            rt = await _runtime(stack, db)
            outcomes = [
                await rt.pipeline.process_entry(_entry(server.url(d.url_path)), feed_id=None)
                for d in CORPUS.docs
            ]
    assert [o.status for o in outcomes] == ["stored"] * 5
    assert len({o.story_id for o in outcomes}) == 5  # no pair of the 10 merged
