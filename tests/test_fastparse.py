"""The fastfeedparser fast path gives exactly what parse_feed gives, or hands over to it.

Every real feed of shared/corpus/feeds (feedparser's quirk files and the Indonesian portals)
and a set of hostile or unusual inputs go through both; entries (ids, links, titles,
summaries, dates), feed title and TTL must be equal, and refusals must be the same error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ParseError, UnsafeXMLError
from monitor.parse.fast import fast_path_used, parse_feed_fast, raw_dates
from monitor.parse.feed import parse_feed
from tests.conftest import SHARED

FEED_URL = "https://feeds.example.invalid/rss/"
CORPUS_FILES = sorted(
    str(p.relative_to(SHARED)) for p in (SHARED / "corpus" / "feeds").glob("*/*.xml")
)


def _same_as_parse_feed(content: bytes, content_type: str | None = None) -> None:
    try:
        expected = parse_feed(content, url=FEED_URL, content_type=content_type)
    except ParseError as exc:
        with pytest.raises(type(exc)) as caught:
            parse_feed_fast(content, url=FEED_URL, content_type=content_type)
        assert str(caught.value) == str(exc)
        return
    got = parse_feed_fast(content, url=FEED_URL, content_type=content_type)
    assert got.entries == expected.entries
    assert (got.title, got.ttl_minutes) == (expected.title, expected.ttl_minutes)


@pytest.mark.parametrize("relative", CORPUS_FILES)
def test_fast_path_reads_every_corpus_feed_exactly_as_parse_feed(
    shared_dir: Path, relative: str
) -> None:
    _same_as_parse_feed((shared_dir / relative).read_bytes())


def test_fast_path_is_taken_for_the_indonesian_portal_feeds(shared_dir: Path) -> None:
    feeds = sorted((shared_dir / "corpus" / "feeds" / "indonesian").glob("*.xml"))
    used = [fast_path_used(parse_feed_fast(p.read_bytes(), url=FEED_URL)) for p in feeds]
    assert sum(used) >= len(feeds) - 2, "the fast path should serve nearly every real feed"


RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Kabar</title>
<link>https://kabar.example/</link><ttl>15</ttl>
<item><title>Putin bertemu Xi</title><link>https://kabar.example/a/1</link>
<pubDate>Sen, 03 Mar 2025 10:00:00</pubDate><description>Ringkas &amp; padat</description></item>
<item><title>NATO rapat</title><link>/a/2</link><dc:date>2025-03-03 11:30</dc:date></item>
</channel></rss>"""


def test_zone_less_dates_are_read_as_wib_like_parse_feed() -> None:
    feed = parse_feed_fast(RSS, url=FEED_URL)
    assert fast_path_used(feed)
    assert feed.entries[1].published == datetime(2025, 3, 3, 4, 30, tzinfo=UTC)
    _same_as_parse_feed(RSS)


def test_relative_links_ttl_and_summaries_match_parse_feed() -> None:
    feed = parse_feed_fast(RSS, url=FEED_URL)
    assert feed.entries[1].link == "https://feeds.example.invalid/a/2"
    assert feed.ttl_minutes == 15
    assert feed.entries[0].summary == "Ringkas & padat"
    _same_as_parse_feed(RSS)


def test_billion_laughs_is_refused_like_parse_feed() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<rss><channel><item><title>&b;</title><link>https://x.example/1</link></item>"
        b"</channel></rss>"
    )
    with pytest.raises(UnsafeXMLError):
        parse_feed_fast(bomb, url=FEED_URL)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n",
        b"<!DOCTYPE html><html><head><title>Not found</title></head><body>404</body></html>",
        b"<?xml version='1.0'?><note><to>x</to></note>",
    ],
    ids=["empty", "blank", "html-page", "other-xml"],
)
def test_non_feeds_raise_the_same_error_as_parse_feed(content: bytes) -> None:
    _same_as_parse_feed(content)


def test_truncated_feed_falls_back_to_parse_feed() -> None:
    truncated = RSS[: RSS.index(b"<item><title>NATO")] + b"<item><title>NATO rap"
    feed = parse_feed_fast(truncated, url=FEED_URL)
    assert not fast_path_used(feed)
    _same_as_parse_feed(truncated)


def test_markup_in_titles_and_cp1252_bytes_match_parse_feed() -> None:
    odd = (
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>&lt;b&gt;Zelensky&lt;/b&gt; \x93kunjungi\x94 Kyiv</title>"
        b"<link>https://x.example/z</link><guid>z-1</guid></item></channel></rss>"
    )
    _same_as_parse_feed(odd, "application/rss+xml; charset=iso-8859-1")


def test_entry_dates_come_from_the_entry_not_its_atom_source() -> None:
    block = (
        "<title>x</title><source><updated>2001-01-01T00:00:00Z</updated></source>"
        "<updated>2025-01-02T03:04:05+07:00</updated><published>2025-01-01T00:00:00Z</published>"
    )
    assert raw_dates(block) == {
        "updated": "2025-01-02T03:04:05+07:00",
        "published": "2025-01-01T00:00:00Z",
    }
