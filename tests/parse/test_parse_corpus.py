"""parse_feed over every real feed in shared/corpus/feeds/.

feedparser_tests/ are feedparser's own quirk files; indonesian/ are real news feeds saved
by others. Each file yields usable entries or a clear ParseError/UnsafeXMLError, never
another exception. The Indonesian feeds are also checked item by item against the raw
file (expected values below were read by hand from the XML).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitor.errors import ParseError, UnsafeXMLError
from monitor.models import ParsedFeed
from monitor.parse.feed import parse_feed
from tests.conftest import SHARED

FEEDS = Path("corpus", "feeds")
CORPUS_FILES = sorted(str(path.relative_to(SHARED)) for path in (SHARED / FEEDS).glob("*/*.xml"))
FEED_URL = "https://feeds.example.invalid/rss/"
MOJIBAKE = re.compile("â€|Ã[\u0080-\u00bf]|Â[\u0080-\u00bf]")

# Policy: any <!ENTITY> in a DOCTYPE is refused, including feedparser's own "wellformed"
# samples that declare a harmless-looking entity; expat 2.5.0 cannot bound expansion.
UNSAFE = {
    "wellformed__rdf__doctype_contains_entity_decl.xml",  # external parameter entity
    "wellformed__rss__entity_in_doctype.xml",  # internal entity &id;
}
NOT_A_FEED = {"illformed__rss_empty_document.xml"}


def parse_file(path: Path) -> ParsedFeed:
    return parse_feed(path.read_bytes(), url=FEED_URL)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_corpus_has_all_feed_files(shared_dir: Path) -> None:
    assert len(list((shared_dir / FEEDS / "feedparser_tests").glob("*.xml"))) == 46
    assert len(list((shared_dir / FEEDS / "indonesian").glob("*.xml"))) == 8


@pytest.mark.parametrize("relative", CORPUS_FILES)
def test_every_corpus_feed_gives_usable_entries_or_a_clear_error(
    shared_dir: Path, relative: str
) -> None:
    path = shared_dir / relative
    try:
        feed = parse_file(path)
    except UnsafeXMLError as exc:
        assert path.name in UNSAFE, f"unexpectedly refused as unsafe: {exc}"
        assert "DOCTYPE" in str(exc)
        return
    except ParseError as exc:
        assert path.name in NOT_A_FEED, f"unexpected ParseError: {exc}"
        assert "not a feed" in str(exc) and FEED_URL in str(exc)
        return
    assert path.name not in UNSAFE | NOT_A_FEED
    ids = [entry.entry_id for entry in feed.entries]
    assert len(ids) == len(set(ids))
    for entry in feed.entries:
        assert entry.entry_id
        assert urlsplit(entry.link).scheme in ("http", "https")
        assert urlsplit(entry.link).netloc
        assert entry.published is None or entry.published.tzinfo is UTC
        assert entry.title == " ".join(entry.title.split())


def test_corrupted_ampersands_in_a_link_survive_as_a_query(shared_dir: Path) -> None:
    path = shared_dir / FEEDS / "feedparser_tests/illformed__rss_item_link_corrupted_ampersands.xml"
    feed = parse_file(path)
    assert feed.bozo
    assert [e.link for e in feed.entries] == ["http://link/get?a=1&b=2"]


def test_atom_alternate_link_without_type_is_the_entry_link(shared_dir: Path) -> None:
    path = (
        shared_dir
        / FEEDS
        / "feedparser_tests/wellformed__atom10__entry_link_alternate_map_link_3.xml"
    )
    assert [e.link for e in parse_file(path).entries] == ["http://www.example.com/alternate"]


def test_doctype_without_entities_on_the_xml_declaration_line_is_accepted(
    shared_dir: Path,
) -> None:
    path = shared_dir / FEEDS / "feedparser_tests/illformed__always_strip_doctype.xml"
    assert parse_file(path).title == "found"


def test_utf16_feed_with_bom_parses_cleanly(shared_dir: Path) -> None:
    path = shared_dir / FEEDS / "feedparser_tests/encoding__utf-16le-bom.xml"
    assert not parse_file(path).bozo


# --- Indonesian feeds -----------------------------------------------------------------

# file -> (items in the file, first title, first link, first pubDate in UTC, <ttl>)
INDONESIAN = {
    "antaranews_jambi_terkini_2022-08-28.xml": (
        20,
        "Malisya Deslilian lulus Fakultas Kedokteran Unisba pada usia 20 tahun",
        "https://jambi.antaranews.com/berita/519381/"
        "malisya-deslilian-lulus-fakultas-kedokteran-unisba-pada-usia-20-tahun",
        utc(2022, 8, 28, 14, 39, 36),  # Sun, 28 Aug 2022 21:39:36 +0700
        None,
    ),
    "antaranews_terkini_2017-04-17.xml": (
        20,
        "Orang Korea lebih senang streaming musik",
        "http://www.antaranews.com/berita/624490/orang-korea-lebih-senang-streaming-musik",
        utc(2017, 4, 17, 2, 45, 21),  # Mon, 17 Apr 2017 09:45:21 +0700
        None,
    ),
    "detik_news_feedsportal_2014-04-29.xml": (
        25,
        "Perjalanan iPod Nurhadi, dari Amerika hingga Disita KPK",
        "http://detik.feedsportal.com/c/33613/f/656083/s/39db72c9/l/0Lnews0Bdetik0N0Cread0C20A"
        "140C0A40C290C0A80A540A0C25682530C10A0Cperjalanan0Eipod0Enurhadi0Edari0Eamerika0E"
        "hingga0Edisita0Ekpk/story01.htm",
        utc(2014, 4, 29, 1, 10, 40),  # Tue, 29 Apr 2014 01:10:40 GMT
        30,
    ),
    "detik_news_indeks_python-feedgen_no_pubdate_2026-09-17.xml": (
        20,
        "Sembunyi di Kebun Sawit, Buron Kasus Pembunuhan di Rohil Ditangkap Polisi",
        "https://news.detik.com/melindungi-tuah-marwah/d-8667312/"
        "sembunyi-di-kebun-sawit-buron-kasus-pembunuhan-di-rohil-ditangkap-polisi",
        None,  # the generator wrote no pubDate at all
        None,
    ),
    "detikcom_2017-04-28.xml": (
        10,
        "Situs Telkomsel Diretas, Ini Reaksi Manajemen",
        "http://inet.detik.com/read/2017/04/28/074621/3486186/323/"
        "situs-telkomsel-diretas-ini-reaksi-manajemen",
        utc(2017, 4, 28, 0, 50, 21),  # Fri, 28 Apr 2017 07:50:21 +0700
        None,
    ),
    "tempo_2017-04-06_mojibake.xml": (
        50,
        "Ada Drone Intai Teluk Bintuni, Kodam akan Bangun Detasemen Rudal",
        "https://www.tempo.co/read/news/2017/04/06/058863188/"
        "Ada-Drone-Intai-Teluk-Bintuni-Kodam-akan-Bangun-Detasemen-Rudal",
        utc(2017, 4, 6, 3, 39, 8),  # Thu, 06 Apr 2017 10:39:08 +0700
        None,
    ),
    "tempo_terkini_rss091_2017-04-28.xml": (
        30,
        "Riset Wisata: Teror di Eropa Tak Membuat Turis Takut",
        "http://www.tempo.co/read/news/2017/04/28/204870338/"
        "Riset-Wisata-Teror-di-Eropa-Tak-Membuat-Turis-Takut",
        utc(2017, 4, 28, 0, 38, 2),  # Fri, 28 Apr 2017 01:38:02 +0100 (offset as written)
        None,
    ),
    "viva_all_2017-04-28.xml": (
        200,
        "Jalur Pendakian Gunung Kelud via Tulungrejo",
        "http://log.viva.co.id/news/read/909713-jalur-pendakian-gunung-kelud-via-tulungrejo-berita",
        utc(2017, 4, 28, 1, 16, 1),  # Fri, 28 Apr 2017 08:16:01 +0700
        1,
    ),
}


@pytest.mark.parametrize("name", sorted(INDONESIAN))
def test_indonesian_feed_yields_every_item_with_the_right_first_entry(
    shared_dir: Path, name: str
) -> None:
    count, title, link, published, ttl = INDONESIAN[name]
    path = shared_dir / FEEDS / "indonesian" / name
    assert len(re.findall(rb"<item[ >]", path.read_bytes())) == count

    feed = parse_file(path)

    assert len(feed.entries) == count
    first = feed.entries[0]
    assert (first.title, first.link, first.published) == (title, link, published)
    assert feed.ttl_minutes == ttl
    assert not feed.bozo


@pytest.mark.parametrize("name", sorted(INDONESIAN))
def test_indonesian_feed_text_has_absolute_links_and_no_mojibake(
    shared_dir: Path, name: str
) -> None:
    feed = parse_file(shared_dir / FEEDS / "indonesian" / name)
    for entry in feed.entries:
        parts = urlsplit(entry.link)
        assert parts.scheme in ("http", "https") and parts.netloc, entry.link
        assert entry.title, entry.link
        assert not MOJIBAKE.search(entry.title), entry.title
        assert not MOJIBAKE.search(entry.summary), entry.summary
    dated = [e.published for e in feed.entries if e.published is not None]
    assert all(d.tzinfo is UTC for d in dated)
    if INDONESIAN[name][3] is not None:
        assert len(dated) == len(feed.entries)


def test_detik_feedsportal_keeps_the_real_article_url_as_entry_id(shared_dir: Path) -> None:
    feed = parse_file(shared_dir / FEEDS / "indonesian/detik_news_feedsportal_2014-04-29.xml")
    assert feed.entries[0].entry_id == (
        "http://news.detik.com/read/2014/04/29/080540/2568253/10/"
        "perjalanan-ipod-nurhadi-dari-amerika-hingga-disita-kpk"
    )


def test_tempo_double_encoded_text_is_repaired(shared_dir: Path) -> None:
    # The file is valid UTF-8, but a few strings were UTF-8 read as windows-1252 and
    # re-encoded at the source: "Lâ€™OrÃ©al" in the raw bytes.
    path = shared_dir / FEEDS / "indonesian/tempo_2017-04-06_mojibake.xml"
    assert "Lâ€™OrÃ©al".encode() in path.read_bytes()
    feed = parse_file(path)
    by_title = {e.title: e for e in feed.entries}
    loreal = by_title["Teknik Tampilan Natural, Segar, dan Tajam dari L’Oreal Infallible"]
    assert "Makeup expert L’Oréal Paris Ahmad Farhani" in loreal.summary
    assert loreal.published == utc(2017, 4, 6, 3, 0, 1)
    dimas = by_title["Polisi Ungkap Penipuan ala Dimas Kanjeng Taat di Tangerang"]
    assert "memang bisa mengaji. “Tapi pengakuan dia" in dimas.summary
