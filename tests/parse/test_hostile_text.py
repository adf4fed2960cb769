"""Hostile text in feeds (issue #21): control characters and huge fields are sanitised and
capped once, at the parse boundary, so both database backends store the same thing."""

from __future__ import annotations

import html

import pytest
from sqlmodel import select

from monitor.config import load_settings
from monitor.daemon.runtime import load_matcher
from monitor.match.matcher import Matcher
from monitor.parse.feed import (
    ID_CHARS,
    SUMMARY_CHARS,
    TITLE_CHARS,
    TRUNCATION_MARK,
    clean_text,
    parse_feed,
)
from storage.engine import session_scope
from storage.tables import SeenEntry
from tests.fakenews import fake_article
from tests.loopback import LoopbackServer
from tests.pollharness import open_daemon, serve_article, serve_feed

FEED_URL = "http://berita.example/rss"


def _feed(items: list[tuple[str, str, str]], *, summary: str = "") -> bytes:
    """RSS of (guid, title, link); the text goes in raw (no escaping of control chars)."""
    parts = [
        f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>'
        f"<link>{html.escape(link)}</link><description>{summary}</description></item>"
        for guid, title, link in items
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Uji</title>'
        f"{''.join(parts)}</channel></rss>"
    ).encode()


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher(load_settings(None, env={}))


def test_nul_and_control_characters_are_removed_from_every_field() -> None:
    body = _feed(
        [("id\x00-1\x07", "Ju\x00dul\x1b[31m &#0;berita\ttab", "http://berita.example/1")],
        summary="ring\x00kasan\x08",
    )
    (entry,) = parse_feed(body, url=FEED_URL).entries
    assert entry.entry_id == "id-1"
    assert "\x00" not in entry.title and "\x1b" not in entry.title
    assert entry.title.startswith("Judul[31m")
    assert entry.summary == "ringkasan"


def test_lone_surrogates_are_removed() -> None:
    assert clean_text("a\ud800b\udfffc") == "abc"


def test_huge_fields_are_cut_with_the_marker() -> None:
    long_id = "x" * 10_000
    body = _feed(
        [
            (long_id, "A" * 4_000_000, "http://berita.example/1"),
            (long_id + "y", "B", "http://berita.example/2"),
        ],
        summary="kata " * 20_000,
    )
    first, second = parse_feed(body, url=FEED_URL).entries
    assert len(first.title) == TITLE_CHARS and first.title.endswith(TRUNCATION_MARK)
    assert len(first.summary) <= SUMMARY_CHARS and first.summary.endswith(TRUNCATION_MARK)
    assert len(first.entry_id) == ID_CHARS and TRUNCATION_MARK in first.entry_id
    # Two long ids sharing their start stay two entries.
    assert second.entry_id != first.entry_id and len(second.entry_id) == ID_CHARS


def test_an_over_long_link_skips_its_entry_with_a_note() -> None:
    link = "http://berita.example/" + "p" * 5000
    parsed = parse_feed(
        _feed([("a", "Judul", link), ("b", "Dua", "http://berita.example/2")]), url=FEED_URL
    )
    assert [e.entry_id for e in parsed.entries] == ["b"]
    assert any("5,022-character link" in note for note in parsed.diagnostics)


async def test_feed_with_nul_in_id_and_title_and_a_huge_title_is_stored_on_both_backends(
    db_url: str, loopback: LoopbackServer, matcher: Matcher
) -> None:
    links = [serve_article(loopback, f"/artikel/{i}", fake_article(i)) for i in range(2)]
    body = _feed(
        [
            ("guid\x00satu", "Rutte\x00 bahas NATO", links[0]),
            # 200 KB: the harness caps feed bodies at 256 KiB; the 4 MB title is parsed above.
            ("guid-dua", "T" * 200_000, links[1]),
        ]
    )
    serve_feed(loopback, body)
    async with open_daemon(db_url, loopback, matcher) as daemon:  # type: ignore[arg-type]
        outcome = await daemon.poll()
        assert outcome.status == "ok", outcome.error
        assert (outcome.new, outcome.stored) == (2, 2)
        articles = daemon.articles()
        assert articles[links[0]].title == "Rutte bahas NATO"
        big = articles[links[1]].title
        assert len(big) == TITLE_CHARS and big.endswith(TRUNCATION_MARK)
        with session_scope(daemon.engine) as session:
            ids = {s.entry_id for s in session.exec(select(SeenEntry)).all()}
        assert ids == {"guidsatu", "guid-dua"}
        # The feed changes (so it is parsed again): nothing new, the ids match what was stored.
        serve_feed(loopback, body + b"<!-- dua -->")
        again = await daemon.poll(hours_later=2)
        assert (again.status, again.entries, again.new) == ("ok", 2, 0)
