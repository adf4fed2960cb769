"""Random bytes through the stages a hostile server can reach, chained as the pipeline chains
them: feed body -> parse_feed; page body -> decode -> extract_article -> strip_furniture ->
Matcher.match. None may raise anything but its stage's documented error (ParseError for feeds,
ExtractError for pages), and what comes out must be usable.

test_parse.py fuzzes parse_feed with plain random bytes and text inside one RSS skeleton and
test_match_properties.py fuzzes the matcher with text; these go through the whole chain with
inputs shaped like what servers really send (markup around random content, lying charsets).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import load_settings
from monitor.daemon.runtime import load_matcher
from monitor.errors import ExtractError, ParseError
from monitor.extract.article import extract_article
from monitor.extract.furniture import strip_furniture
from monitor.match.matcher import Matcher, matched_text
from monitor.parse.decode import decode_html
from monitor.parse.feed import parse_feed

FEED_URL = "https://feeds.example.invalid/rss/"
PAGE_URL = "https://news.example.invalid/artikel/1"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CHARSETS = st.sampled_from(
    ["utf-8", "windows-1252", "iso-8859-1", "utf-16", "shift_jis", "koi8-r", "bogus-9", ""]
)
CONTENT_TYPES = st.sampled_from(
    [
        "text/html",
        "text/html; charset=utf-8",
        "text/html; charset=windows-1251",
        "text/html; charset=utf-16",
        "text/html; charset=nonsense",
        None,
    ]
)
WORDS = st.sampled_from(
    [
        "Putin",
        "NATO",
        "Ukraina",
        "Sekjen NATO",
        "AS",
        "Rusia",
        "Zelensky",
        "Biden",
        "Baca juga:",
        "&amp;",
        "&#0;",
        "&#x110000;",
        "<",
        ">",
        "]]>",
        "<!--",
        "\x00",
        "\ufeff",
        "\u202e",
        "é",
        "Ã©",
        "â€™",
        "\r\n",
        "\n\n",
        " ",
    ]
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_matcher(load_settings(None, env={}))


def through_page_stages(matcher: Matcher, content: bytes, content_type: str | None) -> None:
    """What the pipeline does with a page body; only ExtractError may come out."""
    try:
        article = extract_article(content, PAGE_URL, content_type=content_type)
    except ExtractError as exc:
        assert PAGE_URL in str(exc)
        return
    body = strip_furniture(article.body)
    result = matcher.match(article.title, body, article.published)
    text = matched_text(article.title, body)
    for hit in [h for t in result.topics for h in t.hits] + [
        h for a in result.actors for h in a.hits
    ]:
        assert 0 <= hit.span.start < hit.span.end <= len(text)
    assert article.published is None or article.published.tzinfo is not None


@st.composite
def html_pages(draw: st.DrawFn) -> bytes:
    """Markup around random text: article-shaped, so extraction often succeeds."""
    charset = draw(CHARSETS)
    paragraphs = draw(
        st.lists(
            st.lists(st.one_of(WORDS, st.text(max_size=40)), min_size=3, max_size=30).map(" ".join),
            min_size=1,
            max_size=8,
        )
    )
    title = draw(st.text(max_size=80))
    junk = draw(st.text(max_size=60))
    meta = f'<meta charset="{charset}">' if charset else ""
    page = (
        f"<!DOCTYPE html><html><head>{meta}<title>{title}</title>"
        f'<meta property="article:published_time" content="{junk}"></head><body>'
        f"<article><h1>{title}</h1>{''.join(f'<p>{p}</p>' for p in paragraphs)}</article>"
        f"{junk}</body></html>"
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1", "utf-8-sig"]))
    raw = page.encode(encoding, errors="replace")
    cut = draw(st.integers(min_value=0, max_value=len(raw)))
    return raw if draw(st.booleans()) else raw[:cut]


@FUZZ
@given(content=st.binary(max_size=3000), content_type=CONTENT_TYPES)
def test_random_bytes_as_a_page_only_ever_raise_extract_error(
    matcher: Matcher, content: bytes, content_type: str | None
) -> None:
    through_page_stages(matcher, content, content_type)


@FUZZ
@given(content=html_pages(), content_type=CONTENT_TYPES)
def test_random_article_markup_goes_through_extraction_and_matching(
    matcher: Matcher, content: bytes, content_type: str | None
) -> None:
    through_page_stages(matcher, content, content_type)


@settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=2000), label=st.one_of(st.none(), st.text(max_size=20)))
def test_page_decoding_never_fails_whatever_the_label(content: bytes, label: str | None) -> None:
    text = decode_html(content, label)
    assert isinstance(text, str)
    if label is None and content.isascii() and b"<" not in content:
        assert text == content.decode("ascii")  # plain ASCII is never altered


FEED_SKELETONS = (
    '<?xml version="1.0" encoding="{cs}"?><rss version="2.0"><channel><title>{a}</title>'
    "<item><title>{b}</title><link>{c}</link><guid>{a}</guid><pubDate>{d}</pubDate></item>"
    "</channel></rss>",
    '<?xml version="1.0" encoding="{cs}"?><feed xmlns="http://www.w3.org/2005/Atom">'
    '<title>{a}</title><entry><title>{b}</title><link href="{c}"/><id>{a}</id>'
    "<updated>{d}</updated></entry></feed>",
    '<?xml version="1.0" encoding="{cs}"?><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
    "<channel><title>{a}</title></channel><item><title>{b}</title><link>{c}</link>"
    "<dc:date>{d}</dc:date></item></rdf:RDF>",
)


@FUZZ
@given(
    skeleton=st.sampled_from(FEED_SKELETONS),
    declared=CHARSETS,
    encoding=st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1"]),
    parts=st.lists(st.one_of(WORDS, st.text(max_size=30)), min_size=4, max_size=4),
    content_type=st.sampled_from(
        ["application/rss+xml", "text/xml; charset=utf-8", "text/xml; charset=koi8-r", None]
    ),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=600)),
)
def test_feeds_of_every_dialect_with_random_content_only_ever_raise_parse_error(
    skeleton: str,
    declared: str,
    encoding: str,
    parts: list[str],
    content_type: str | None,
    cut: int | None,
) -> None:
    a, b, c, d = parts
    document = skeleton.format(cs=declared or "utf-8", a=a, b=b, c=c, d=d)
    content = document.encode(encoding, errors="replace")[:cut]
    try:
        feed = parse_feed(content, url=FEED_URL, content_type=content_type)
    except ParseError as exc:
        assert FEED_URL in str(exc) or "DOCTYPE" in str(exc) or str(exc)
        return
    for entry in feed.entries:
        assert entry.entry_id
        assert entry.link.startswith(("http://", "https://"))
        assert entry.published is None or entry.published.utcoffset() is not None
        assert entry.published is None or entry.published <= datetime(10000, 1, 1, tzinfo=UTC)
