"""parse_feed on generated feeds: hostile XML, non-feeds, identity, links, dates, encodings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import ParseError, UnsafeXMLError
from monitor.models import ParsedFeed
from monitor.parse.dates import WITA
from monitor.parse.decode import repair_mojibake
from monitor.parse.feed import check_xml_safety, entry_identity, parse_feed

FEED_URL = "https://www.example.co.id/rss/terkini"


def rss(items: str, *, channel: str = "", version: str = "2.0", decl: str | None = None) -> str:
    head = decl if decl is not None else '<?xml version="1.0" encoding="utf-8"?>'
    return (
        f'{head}\n<rss version="{version}"><channel><title>Berita Terkini</title>'
        f"<link>https://www.example.co.id/</link>{channel}{items}</channel></rss>"
    )


def item(
    title: str = "Judul",
    link: str | None = "https://www.example.co.id/berita/1",
    guid: str | None = None,
    date: str | None = "Sen, 10 Nov 2025 08:00:00 +0700",
) -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


def parse(text: str | bytes, **kwargs: object) -> ParsedFeed:
    content = text.encode("utf-8") if isinstance(text, str) else text
    return parse_feed(content, url=FEED_URL, **kwargs)  # type: ignore[arg-type]


# --- hostile XML ----------------------------------------------------------------------

BILLION_LAUGHS_BODY = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    '<rss version="2.0"><channel><title>&lol4;</title>'
    "<item><title>&lol4;</title><link>https://x.example/1</link></item></channel></rss>"
)


def test_billion_laughs_with_doctype_on_the_xml_declaration_line_is_refused() -> None:
    # feedparser's DOCTYPE stripping only looks at the start of a line, so this one would
    # reach expat 2.5.0 intact.
    document = '<?xml version="1.0" encoding="utf-8"?>' + BILLION_LAUGHS_BODY
    with pytest.raises(UnsafeXMLError, match="billion laughs"):
        parse(document)


def test_billion_laughs_on_its_own_lines_is_refused() -> None:
    document = '<?xml version="1.0"?>\n' + BILLION_LAUGHS_BODY.replace("<!", "\n<!")
    with pytest.raises(UnsafeXMLError, match=FEED_URL):
        parse(document)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_entity_declaration_in_a_utf16_or_utf32_document_is_refused(encoding: str) -> None:
    document = '<?xml version="1.0" encoding="utf-16"?>' + BILLION_LAUGHS_BODY
    with pytest.raises(UnsafeXMLError):
        parse(document.encode(encoding))


def test_entity_declaration_after_a_long_comment_is_still_found() -> None:
    padding = "<!-- " + "x" * 100_000 + " -->"
    document = f'<?xml version="1.0"?><!DOCTYPE rss [{padding}<!ENTITY a "b">]><rss/>'
    with pytest.raises(UnsafeXMLError):
        parse(document)


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">',
        '<!ENTITY xxe PUBLIC "-//X//EN" "http://127.0.0.1:1/x.dtd">',
        '<!ENTITY % remote SYSTEM "http://127.0.0.1:1/evil.dtd"> %remote;',
    ],
)
def test_external_entity_is_refused_as_external(declaration: str) -> None:
    document = f'<?xml version="1.0"?><!DOCTYPE rss [{declaration}]>' + rss(
        item(title="&xxe;"), decl=""
    )
    with pytest.raises(UnsafeXMLError, match="external entity"):
        parse(document)


def test_netscape_rss091_doctype_without_entities_is_accepted() -> None:
    document = (
        '<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS'
        ' 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        + rss(item(), version="0.91", decl="")
    )
    assert len(parse(document).entries) == 1


def test_escaped_entity_markup_inside_an_article_is_not_mistaken_for_a_declaration() -> None:
    text = "Artikel tentang XML: &lt;!ENTITY lol &quot;lol&quot;&gt; berbahaya"
    feed = parse(rss(item(title=text)))
    assert [e.link for e in feed.entries] == ["https://www.example.co.id/berita/1"]


def test_safety_check_error_message_tells_the_operator_what_to_do() -> None:
    with pytest.raises(UnsafeXMLError) as caught:
        check_xml_safety('<!DOCTYPE a [<!ENTITY b "c">]><a/>', url=FEED_URL)
    assert FEED_URL in str(caught.value)
    assert "DOCTYPE" in str(caught.value)


# --- not a feed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!DOCTYPE html><html><head><title>Beranda</title></head><body>x</body></html>", None),
        (b"\n\n  <html lang='id'><body><a href='/rss'>RSS</a></body></html>", "text/html"),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
            b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
            "application/xhtml+xml",
        ),
    ],
)
def test_html_page_instead_of_feed_is_a_clear_parse_error(
    body: bytes, content_type: str | None
) -> None:
    with pytest.raises(ParseError, match="not a feed: the server returned an HTML page"):
        parse_feed(body, url=FEED_URL, content_type=content_type)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain", "binary/x"])
def test_real_feed_served_with_a_wrong_content_type_is_still_parsed(content_type: str) -> None:
    feed = parse(rss(item(title="Tetap terbaca")), content_type=content_type)
    assert [e.title for e in feed.entries] == ["Tetap terbaca"]
    assert not feed.bozo
    assert any("not an XML media type" in d for d in feed.diagnostics)


@pytest.mark.parametrize("body", [b"", b"   \r\n\t ", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_empty_body_is_a_clear_parse_error_worth_retrying(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty response body") as caught:
        parse_feed(body, url=FEED_URL)
    assert caught.value.transient


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><sitemap><url>https://x.example/</url></sitemap>',
        b'{"items": [{"title": "json feed"}]}',
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"<?xml version='1.0' encoding='utf-8'?>",
    ],
)
def test_bytes_that_are_not_a_feed_give_a_parse_error_naming_the_url(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed") as caught:
        parse_feed(body, url=FEED_URL)
    assert FEED_URL in str(caught.value)
    assert not isinstance(caught.value, UnsafeXMLError)


def test_malformed_xml_with_readable_entries_is_used_and_flagged_bozo() -> None:
    document = rss(item(title="Satu", link="https://x.example/1?a=1&b=2") + "<item><title>Dua")
    feed = parse(document)
    assert [e.link for e in feed.entries] == ["https://x.example/1?a=1&b=2"]
    assert feed.bozo
    assert any(d.startswith("malformed feed:") for d in feed.diagnostics)


def test_valid_feed_without_items_is_an_empty_result_not_an_error() -> None:
    feed = parse(rss(""))
    assert feed.entries == ()
    assert feed.title == "Berita Terkini"


# --- identity and links ---------------------------------------------------------------


def test_duplicate_guids_keep_the_first_entry_and_note_the_rest() -> None:
    items = (
        item(title="Pertama", link="https://x.example/a", guid="berita-42")
        + item(title="Kedua", link="https://x.example/b", guid="berita-42")
        + item(title="Ketiga", link="https://x.example/c", guid="berita-43")
    )
    feed = parse(rss(items))
    assert [(e.entry_id, e.title) for e in feed.entries] == [
        ("berita-42", "Pertama"),
        ("berita-43", "Ketiga"),
    ]
    assert any("duplicate entry id 'berita-42'" in d for d in feed.diagnostics)


def test_entry_without_guid_is_identified_by_its_link() -> None:
    feed = parse(rss(item(link="https://x.example/berita/7", guid=None)))
    assert feed.entries[0].entry_id == "https://x.example/berita/7"


def test_identity_falls_back_to_a_stable_hash_when_guid_and_link_are_missing() -> None:
    first = entry_identity("", "", "Judul sama")
    assert first.startswith("sha256:")
    assert first == entry_identity("  ", "", "Judul sama")
    assert first != entry_identity("", "", "Judul lain")
    assert entry_identity(" guid-1 ", "https://x.example/", "t") == "guid-1"


def test_relative_links_are_resolved_against_the_feed_url() -> None:
    items = item(title="A", link="/berita/2025/11/10/a") + item(title="B", link="b.html")
    feed = parse(rss(items))
    assert [e.link for e in feed.entries] == [
        "https://www.example.co.id/berita/2025/11/10/a",
        "https://www.example.co.id/rss/b.html",
    ]


def test_atom_xml_base_is_honoured_for_relative_links() -> None:
    document = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        ' xml:base="https://cdn.example.org/news/"><title>t</title>'
        '<entry><title>A</title><link href="2025/a.html"/><id>urn:a</id>'
        "<updated>2025-11-10T02:15:00Z</updated></entry></feed>"
    )
    assert parse(document).entries[0].link == "https://cdn.example.org/news/2025/a.html"


def test_link_wrapped_over_several_lines_is_joined() -> None:
    feed = parse(rss(item(link="\n   https://x.example/berita/\n   panjang-sekali  \n")))
    assert feed.entries[0].link == "https://x.example/berita/panjang-sekali"


def test_entries_without_a_usable_link_are_skipped_and_reported() -> None:
    items = (
        item(title="Tanpa tautan", link=None)
        + item(title="Skrip", link="javascript:alert(1)")
        + item(title="Ada tautan", link="https://x.example/ok")
    )
    feed = parse(rss(items))
    assert [e.title for e in feed.entries] == ["Ada tautan"]
    assert "skipped entry without link: Tanpa tautan" in feed.diagnostics
    assert "skipped entry without link: Skrip" in feed.diagnostics


# --- titles ---------------------------------------------------------------------------


def test_title_markup_is_stripped_entities_unescaped_and_whitespace_collapsed() -> None:
    title = "<![CDATA[\n\t  <b>NATO</b> &amp; Rusia:\n  “Kami siap”&nbsp;&#8212; kata   Menlu ]]>"
    feed = parse(rss(item(title=title)))
    assert feed.entries[0].title == "NATO & Rusia: “Kami siap” — kata Menlu"


def test_double_encoded_utf8_title_is_repaired() -> None:
    feed = parse(rss(item(title="Produk Lâ€™OrÃ©al dan â€œSkincareâ€\x9d")))
    assert feed.entries[0].title == "Produk L’Oréal dan “Skincare”"


@pytest.mark.parametrize(
    "text",
    ["Café “Kopi” – Rp 5.000 ±10%", "Ã sendirian", "Ucapan: “Â”", "Jakarta, 10/11 – 09.15"],
)
def test_mojibake_repair_leaves_correct_text_alone(text: str) -> None:
    assert repair_mojibake(text) == text


# --- dates ----------------------------------------------------------------------------


def test_wib_date_is_seven_hours_ahead_of_utc_unlike_feedparser() -> None:
    # feedparser reads "WIB" as UTC; the entry must say 01:00 UTC.
    feed = parse(rss(item(date="Mon, 10 Nov 2025 08:00:00 WIB")))
    assert feed.entries[0].published == datetime(2025, 11, 10, 1, 0, tzinfo=UTC)


def test_indonesian_day_and_month_names_are_understood() -> None:
    feed = parse(rss(item(date="Sab, 21 Nov 2026 10:00:00 +0700")))
    assert feed.entries[0].published == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_date_without_zone_uses_the_feed_default_zone() -> None:
    feed = parse(rss(item(date="10 Agustus 2025 14:30")), default_tz=WITA)
    assert feed.entries[0].published == datetime(2025, 8, 10, 6, 30, tzinfo=UTC)


def test_dc_date_and_atom_updated_are_used_when_there_is_no_pubdate() -> None:
    document = rss(
        "<item><title>x</title><link>https://x.example/1</link>"
        "<dc:date>2025-11-10T09:15:00+07:00</dc:date></item>"
    ).replace("<rss ", '<rss xmlns:dc="http://purl.org/dc/elements/1.1/" ')
    feed = parse(document)
    assert feed.entries[0].published == datetime(2025, 11, 10, 2, 15, tzinfo=UTC)


def test_feedparser_date_is_the_fallback_for_formats_we_do_not_read() -> None:
    feed = parse(rss(item(date="Κυρ, 11 Ιούλ 2004 12:00:00 EST")))
    assert feed.entries[0].published == datetime(2004, 7, 11, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize("date", [None, "", "kemarin sore"])
def test_missing_or_unreadable_date_is_none(date: str | None) -> None:
    feed = parse(rss(item(date=date)))
    assert feed.entries[0].published is None


# --- formats --------------------------------------------------------------------------

RSS_091 = rss(item(title="Versi 0.91"), version="0.91")
RSS_092 = rss(item(title="Versi 0.92"), version="0.92")
RSS_20 = rss(item(title="Versi 2.0"), version="2.0")
RSS_10 = (
    '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
    ' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    '<channel rdf:about="https://www.example.co.id/"><title>t</title>'
    "<link>https://www.example.co.id/</link></channel>"
    '<item rdf:about="https://www.example.co.id/berita/1"><title>Versi 1.0</title>'
    "<link>https://www.example.co.id/berita/1</link>"
    "<dc:date>2025-11-10T08:00:00+07:00</dc:date></item></rdf:RDF>"
)
ATOM_03 = (
    '<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">'
    "<title>t</title><entry><title>Versi Atom 0.3</title>"
    '<link rel="alternate" type="text/html" href="https://www.example.co.id/berita/1"/>'
    "<id>tag:example.co.id,2025:1</id><issued>2025-11-10T08:00:00+07:00</issued>"
    "<modified>2025-11-10T08:00:00+07:00</modified></entry></feed>"
)
ATOM_10 = (
    '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
    '<entry><title type="html">Versi &lt;i&gt;Atom&lt;/i&gt; 1.0</title>'
    '<link href="https://www.example.co.id/berita/1"/><id>tag:example.co.id,2025:1</id>'
    "<published>2025-11-10T08:00:00+07:00</published>"
    "<updated>2025-11-11T08:00:00+07:00</updated></entry></feed>"
)


@pytest.mark.parametrize(
    ("document", "title"),
    [
        (RSS_091, "Versi 0.91"),
        (RSS_092, "Versi 0.92"),
        (RSS_10, "Versi 1.0"),
        (RSS_20, "Versi 2.0"),
        (ATOM_03, "Versi Atom 0.3"),
        (ATOM_10, "Versi Atom 1.0"),
    ],
)
def test_every_feed_format_yields_a_dated_entry(document: str, title: str) -> None:
    feed = parse(document)
    assert not feed.bozo
    [entry] = feed.entries
    assert entry.title == title
    assert entry.link == "https://www.example.co.id/berita/1"
    assert entry.published == datetime(2025, 11, 10, 1, 0, tzinfo=UTC)


def test_rss_ttl_is_reported_in_minutes() -> None:
    assert parse(rss(item(), channel="<ttl>15</ttl>")).ttl_minutes == 15
    assert parse(rss(item())).ttl_minutes is None
    invalid = parse(rss(item(), channel="<ttl>soon</ttl>"))
    assert invalid.ttl_minutes is None
    assert any("ttl" in d for d in invalid.diagnostics)


def test_ten_thousand_entries_are_capped_in_document_order() -> None:
    items = "".join(
        item(title=f"Berita {i}", link=f"https://x.example/{i}", guid=f"g{i}")
        for i in range(10_000)
    )
    feed = parse(rss(items), max_entries=5000)
    assert len(feed.entries) == 5000
    assert feed.entries[0].title == "Berita 0"
    assert feed.entries[-1].title == "Berita 4999"
    assert "truncated: kept the first 5000 of 10000 entries" in feed.diagnostics


# --- encodings ------------------------------------------------------------------------

TITLE = "Menlu: “NATO bukan ancaman” — Café Señor"


def encoded_feed(encoding: str, declared: str | None) -> bytes:
    decl = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    return rss(item(title=TITLE), decl=decl).encode(encoding)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        # windows-1252 bytes that claim to be UTF-8 (in the declaration / in HTTP)
        (encoded_feed("cp1252", "utf-8"), None),
        (encoded_feed("cp1252", None), "application/rss+xml; charset=utf-8"),
        # the reverse: UTF-8 bytes labelled ISO-8859-1 / windows-1252
        (encoded_feed("utf-8", "iso-8859-1"), None),
        (encoded_feed("utf-8", None), "text/xml; charset=windows-1252"),
        # honest labels, only in one place
        (encoded_feed("cp1252", "windows-1252"), None),
        (encoded_feed("cp1252", None), "application/rss+xml; charset=windows-1252"),
        (encoded_feed("cp1252", "iso-8859-1"), "application/xml"),
        # HTTP and declaration disagree; the bytes decide
        (encoded_feed("utf-8", "windows-1252"), "text/xml; charset=iso-8859-1"),
        # byte order marks and wide encodings
        (b"\xef\xbb\xbf" + encoded_feed("utf-8", "utf-8"), None),
        (encoded_feed("utf-16", "utf-16"), None),
        (encoded_feed("utf-16-le", "utf-16"), None),
        (encoded_feed("utf-16-be", "utf-16"), "application/xml"),
        (encoded_feed("utf-32", "utf-32"), None),
    ],
)
def test_titles_come_out_without_mojibake_whatever_the_encoding_labels_say(
    content: bytes, content_type: str | None
) -> None:
    feed = parse_feed(content, url=FEED_URL, content_type=content_type)
    assert feed.entries[0].title == TITLE


def test_encoding_guess_against_the_label_is_noted_in_diagnostics() -> None:
    feed = parse_feed(encoded_feed("cp1252", "utf-8"), url=FEED_URL)
    assert any("decoded as windows-1252" in d for d in feed.diagnostics)


def test_declared_multibyte_encoding_is_honoured_when_bytes_are_not_utf8() -> None:
    feed = parse_feed(
        rss(item(title="Новости НАТО")).replace("utf-8", "koi8-r").encode("koi8-r"),
        url=FEED_URL,
    )
    assert feed.entries[0].title == "Новости НАТО"


# --- robustness -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_only_ever_raise_parse_error(content: bytes) -> None:
    try:
        feed = parse_feed(content, url=FEED_URL)
    except ParseError:
        return
    assert all(e.link.startswith(("http://", "https://")) for e in feed.entries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.text(max_size=200),
    link=st.text(max_size=100),
    date=st.text(max_size=60),
    extra=st.text(max_size=300),
)
def test_random_text_inside_an_rss_skeleton_only_ever_raises_parse_error(
    title: str, link: str, date: str, extra: str
) -> None:
    document = rss(item(title=title, link=link, date=date) + extra)
    for content in (document.encode("utf-8"), document.encode("utf-16")):
        try:
            feed = parse_feed(content, url=FEED_URL)
        except ParseError:
            continue
        for entry in feed.entries:
            assert entry.entry_id
            assert entry.published is None or entry.published.tzinfo is UTC
