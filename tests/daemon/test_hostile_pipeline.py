"""Hostile and broken input end to end: feed on a real loopback server -> the daemon's poller ->
the real pipeline -> SQLite. Each hostile entry is refused or skipped with a clear log line,
nothing of it is stored, and the other entries of the same feed are stored all the same.

The unit tests of each guard live in test_fetch.py, test_netguard.py and test_parse.py; these
tests prove the guards hold when wired together and that nothing is lost around them.

Article pages live on 127.0.0.1, trusted as the test's own site (tests/pollharness.py); every
other host (169.254.169.254, 10.0.0.5, ``localhost``) goes through the private-address guard,
which refuses before any connection is attempted.
"""

from __future__ import annotations

import gzip
import io
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_settings
from monitor.daemon.runtime import load_matcher, open_engine
from monitor.daemon.service import run_daemon
from monitor.match.matcher import Matcher
from storage import repo
from storage.engine import session_scope
from storage.tables import ArticleRow
from tests.fakenews import FakeArticle, fake_article
from tests.loopback import LoopbackServer, Request, Response
from tests.pollharness import DEADLINE, open_daemon, rss, serve_article, serve_feed, settings_for

MOJIBAKE = ("Ã", "â€", "Â", "\ufffd")


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher(load_settings(None, env={}))


def refusals(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if "skipped" in r.getMessage())


# --- private addresses -------------------------------------------------------------------------


async def test_article_links_to_internal_addresses_are_refused_and_the_rest_stored(
    tmp_path: Path,
    loopback: LoopbackServer,
    matcher: Matcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    good = [serve_article(loopback, f"/artikel/{i}", fake_article(i)) for i in range(2)]
    # Would be a perfectly good article, if the guard let the fetcher reach it.
    serve_article(loopback, "/rahasia", fake_article(9))
    loopback.route(
        "/artikel/alih",
        Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"}),
    )
    hostile = [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://10.0.0.5/admin",
        f"http://localhost:{loopback.port}/rahasia",
        loopback.url("/artikel/alih"),
    ]
    serve_feed(loopback, rss([("Berita", link) for link in [good[0], *hostile, good[1]]]))
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        outcome = await daemon.poll()
        assert outcome.status == "ok"
        assert (outcome.new, outcome.stored, outcome.retry) == (6, 2, 0)
        assert set(daemon.articles()) == set(good)
        # Refused for good: marked seen, never fetched again on the next polls.
        assert set(hostile) <= daemon.seen_links()
    log = refusals(caplog)
    assert "refused to connect to 169.254.169.254: it is a link-local address" in log
    assert "refused to connect to 10.0.0.5: it is a private address" in log
    assert "refused to connect to localhost (resolves to" in log and "loopback address" in log
    assert f"reached by redirect from {loopback.url('/artikel/alih')}" in log
    assert loopback.requests_for("/rahasia") == []


async def test_daemon_refuses_internal_article_links_unless_allowed_in_config(
    tmp_path: Path, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    serve_article(loopback, "/artikel/lokal", fake_article(3))
    links = ["http://169.254.169.254/latest/meta-data/", loopback.url("/artikel/lokal")]
    serve_feed(loopback, rss([("Berita", link) for link in links]))
    feeds_file = tmp_path / "feeds.toml"
    feeds_file.write_text(f'[[feed]]\nurl = "{loopback.url("/rss.xml")}"\n', encoding="utf-8")
    settings = settings_for(tmp_path / "pantau.db", feeds_file=str(feeds_file))
    report = await run_daemon(
        settings, once=True, env={}, alert_stream=io.StringIO(), handle_signals=False
    )
    # The feed URL is the operator's own choice (trusted); the links inside it are not.
    assert report.by_status == {"ok": 1}
    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            assert repo.count_rows(session, ArticleRow) == 0
    finally:
        engine.dispose()
    log = refusals(caplog)
    assert "169.254.169.254: it is a link-local address" in log
    assert "refused to connect to 127.0.0.1: it is a loopback address" in log
    assert loopback.requests_for("/artikel/lokal") == []


# --- content types and encodings ---------------------------------------------------------------


async def test_pdf_and_image_links_are_not_parsed_as_articles(
    tmp_path: Path,
    loopback: LoopbackServer,
    matcher: Matcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    pdf = b"%PDF-1.4\n" + fake_article(5).text.encode() + b"\n%%EOF"
    loopback.route("/laporan.pdf", Response(body=pdf, headers={"content-type": "application/pdf"}))
    jpeg = b"\xff\xd8\xff\xe0" + bytes(4000)
    loopback.route("/foto.jpg", Response(body=jpeg, headers={"content-type": "image/jpeg"}))
    good = serve_article(loopback, "/artikel/0", fake_article(0))
    links = [loopback.url("/laporan.pdf"), loopback.url("/foto.jpg"), good]
    serve_feed(loopback, rss([("Berita", link) for link in links]))
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        outcome = await daemon.poll()
        assert (outcome.stored, outcome.retry) == (1, 0)
        assert set(daemon.articles()) == {good}
        assert set(links) <= daemon.seen_links()
    log = refusals(caplog)
    assert f"{loopback.url('/laporan.pdf')} is application/pdf, not one of the types" in log
    assert f"{loopback.url('/foto.jpg')} is image/jpeg, not one of the types" in log


RUSSIAN_QUOTE = "«Мы не отступим»"
ENCODINGS = {
    # path: (encoding of the bytes, <meta charset>, Content-Type header, text that must survive)
    "cp1252-labelled-utf8": ("cp1252", "utf-8", "text/html; charset=utf-8", "“kafé” dan ’"),
    "utf8-labelled-cp1252": ("utf-8", "windows-1252", "text/html; charset=ISO-8859-1", "“kafé” ’"),
    "utf8-with-bom": ("utf-8-sig", None, "text/html", "“naïve” ’"),
    "latin1-only-in-http-header": ("iso-8859-1", None, "text/html; charset=iso-8859-1", "kafé"),
    "cp1251-only-in-http-header": (
        "cp1251",
        None,
        "text/html; charset=windows-1251",
        RUSSIAN_QUOTE,
    ),
    "cp1251-only-in-meta": ("cp1251", "windows-1251", "text/html", RUSSIAN_QUOTE),
    "utf16-with-bom": ("utf-16", None, "text/html", "“naïve” ’"),
}


async def test_pages_with_lying_or_missing_charset_labels_are_stored_without_mojibake(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher
) -> None:
    expected: dict[str, str] = {}
    for i, (name, (encoding, meta, content_type, special)) in enumerate(ENCODINGS.items()):
        base = fake_article(20 + i)
        quoted = f"Seorang diplomat menyebut pertemuan itu {special} menurut catatan redaksi."
        article = FakeArticle(
            base.slug, base.title, (base.paragraphs[0], quoted, *base.paragraphs[1:]), base.actors
        )
        body = article.html(charset=meta).encode(encoding)
        loopback.route(f"/{name}", Response(body=body, headers={"content-type": content_type}))
        expected[loopback.url(f"/{name}")] = special
    serve_feed(loopback, rss([("", link) for link in expected]))
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        outcome = await daemon.poll()
        assert outcome.stored == len(ENCODINGS)
        stored = daemon.articles()
    for url, special in expected.items():
        text = f"{stored[url].title}\n{stored[url].body}"
        assert special in text, f"{url}: {special!r} not in stored text"
        assert not [m for m in MOJIBAKE if m in text], f"{url}: mojibake in {text[:300]!r}"


# --- hostile servers ---------------------------------------------------------------------------


def _huge_page(loopback: LoopbackServer) -> Any:
    def route(_req: Request) -> None:
        h = loopback.handler()
        h.send_response(200)
        h.send_header("content-type", "text/html")
        h.send_header("connection", "close")
        h.end_headers()
        chunk = b"<p>" + b"Putin NATO Ukraina " * 800 + b"</p>\n"
        try:
            for _ in range(400):  # ~6 MB if nobody stops reading
                h.wfile.write(chunk)
        except OSError:
            pass
        h.close_connection = True

    return route


def _slow_drip(loopback: LoopbackServer) -> Any:
    def route(_req: Request) -> None:
        h = loopback.handler()
        h.send_response(200)
        h.send_header("content-type", "text/html")
        h.send_header("content-length", "100000")
        h.end_headers()
        try:
            for _ in range(60):  # one byte every 0.1 s: never trips a per-read timeout
                h.wfile.write(b"<")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        h.close_connection = True

    return route


async def test_oversized_bomb_and_drip_pages_are_skipped_and_a_slow_one_is_retried(
    tmp_path: Path,
    loopback: LoopbackServer,
    matcher: Matcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    bomb = gzip.compress(b"<html><body>" + b"\0" * (64 * 1024 * 1024), compresslevel=9)
    loopback.route("/besar", _huge_page(loopback))
    loopback.route(
        "/bom",
        Response(body=bomb, headers={"content-type": "text/html", "content-encoding": "gzip"}),
    )
    loopback.route("/lambat", _slow_drip(loopback))
    good = [serve_article(loopback, f"/artikel/{i}", fake_article(i)) for i in range(2)]
    hostile = [loopback.url(p) for p in ("/besar", "/bom", "/lambat")]
    serve_feed(loopback, rss([("Berita", link) for link in [good[0], *hostile, good[1]]]))
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        first = await daemon.poll()
        assert (first.status, first.stored, first.retry) == ("ok", 2, 1)
        assert set(daemon.articles()) == set(good)
        seen = daemon.seen_links()
        assert {hostile[0], hostile[1]} <= seen
        assert hostile[2] not in seen  # a timeout may be the network's fault: try again later

        # Next poll: the slow page answers normally now and is stored; the refused ones are
        # not fetched again.
        serve_article(loopback, "/lambat", fake_article(7))
        second = await daemon.poll(hours_later=1)
        assert (second.new, second.stored, second.retry) == (1, 1, 0)
        assert set(daemon.articles()) == {*good, hostile[2]}
    assert len(loopback.requests_for("/besar")) == 1
    assert len(loopback.requests_for("/bom")) == 1
    log = refusals(caplog)
    assert f"{hostile[0]} is larger than the 262,144-byte limit" in log
    assert f"{hostile[1]} is larger than the 262,144-byte limit after decompression" in log
    assert f"gave up on {hostile[2]} after {DEADLINE:g} s" in log


# --- feeds -------------------------------------------------------------------------------------


async def test_guid_that_changes_while_the_link_stays_is_not_stored_twice(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher
) -> None:
    link = serve_article(loopback, "/artikel/satu", fake_article(11))
    serve_feed(loopback, rss([("Satu", link)], guids=["guid-1"]))
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        assert (await daemon.poll()).stored == 1
        # The CMS re-publishes: new GUID, same article (plus a tracking parameter), and the
        # same GUID twice in one feed.
        tracked = link + "?utm_source=rss&utm_medium=feed"
        serve_feed(
            loopback,
            rss([("Satu (diperbarui)", tracked), ("Satu lagi", link)], guids=["guid-2", "guid-2"]),
        )
        second = await daemon.poll(hours_later=1)
        assert (second.new, second.stored) == (1, 0)
        assert list(daemon.articles()) == [link]
        assert len(daemon.alerts()) == 1
    assert len(loopback.requests_for("/artikel/satu")) == 1


async def test_relative_undated_entries_of_a_malformed_feed_are_stored_with_absolute_urls(
    tmp_path: Path, loopback: LoopbackServer, matcher: Matcher
) -> None:
    serve_article(loopback, "/berita/relatif", fake_article(12))
    serve_article(loopback, "/berita/mutlak", fake_article(13))
    # A bare "&" makes the XML ill-formed (feedparser's bozo), the first item has no date and
    # a relative link; the last item is cut off.
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>A & B</title>'
        "<item><title>Putin & NATO</title><link>berita/relatif</link></item>"
        f"<item><title>Dua</title><link>{loopback.url('/berita/mutlak')}</link>"
        "<pubDate>Sen, 10 Nov 2025 08:00:00 +0700</pubDate></item>"
        "<item><title>Tiga"
    ).encode()
    serve_feed(loopback, body)
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        outcome = await daemon.poll()
        assert (outcome.status, outcome.stored) == ("ok", 2)
        stored = daemon.articles()
    relative = stored[loopback.url("/berita/relatif")]
    assert relative.published_at is not None


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<rss version="2.0"><channel><title>&lol2;</title></channel></rss>'
)


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"<!DOCTYPE html><html><body><h1>Login</h1></body></html>", "text/xml", "not a feed"),
        (b"", "application/rss+xml", "empty"),
        (BILLION_LAUGHS, "application/rss+xml", "DOCTYPE"),
        (b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html", "text/html"),
    ],
    ids=["html-labelled-xml", "empty-body", "billion-laughs", "html-content-type"],
)
async def test_unusable_feed_is_logged_and_backed_off_not_dropped(
    tmp_path: Path,
    loopback: LoopbackServer,
    matcher: Matcher,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    words: str,
) -> None:
    loopback.route("/rss.xml", Response(body=body, headers={"content-type": content_type}))
    async with open_daemon(tmp_path / "pantau.db", loopback, matcher) as daemon:
        before = datetime.now(UTC)
        outcome = await daemon.poll()
        feed = daemon.feed()
    assert outcome.status == "error"
    assert words.lower() in (outcome.error or "").lower()
    assert feed.consecutive_failures == 1 and feed.enabled and not feed.retired
    assert feed.last_error == outcome.error
    assert feed.next_poll_at >= before + timedelta(seconds=30)  # backed off, not hammered
    assert any(loopback.url("/rss.xml") in r.getMessage() for r in caplog.records)
