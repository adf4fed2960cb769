"""Parse stage: feed bytes -> :class:`~monitor.models.ParsedFeed`.

Pure and synchronous. The bytes pass three gates before feedparser sees them:

1. **Decoding.** We pick the encoding ourselves (:mod:`monitor.parse.decode`, the cascade pages
   go through too) and hand feedparser UTF-8, so a feed whose declaration lies about its
   encoding still yields clean titles.
2. **Safety.** This machine's expat predates the entity-expansion limits, so any document
   whose DOCTYPE declares an entity (internal: "billion laughs"; external: file/URL
   reads) is refused with :class:`UnsafeXMLError`. The check runs on the exact text
   feedparser will parse, wherever the DOCTYPE sits (also on the ``<?xml`` line, which
   feedparser's own DOCTYPE stripping misses).
3. **Shape.** Empty bodies and HTML pages are refused with :class:`ParseError`.

Entries then get a stable id (guid/id, else link, else a hash), an absolute link, a
plain-text title and a UTC date parsed by :func:`monitor.parse.dates.parse_date` from the raw
string (feedparser's own ``*_parsed`` only as a fallback).

Every text field leaves this module sanitised once, here, so SQLite and PostgreSQL store the
same thing (PostgreSQL refuses NUL in text, which used to fail every poll of such a feed):
NUL and the other C0 control characters except tab, newline and carriage return are removed,
as are lone surrogates (not encodable as UTF-8). Fields are then capped (:data:`LIMITS`, in
characters): feed and entry titles 1,000; summaries 20,000; entry ids 2,048 (the column's
size); a longer text is cut and ends with the marker ``…``. An over-long id keeps its start
and ends with ``…`` plus a hash of the whole id, so two long ids sharing a prefix stay two
entries. A link longer than 2,048 characters cannot be cut without pointing elsewhere, so its
entry is skipped with a note.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from monitor.errors import ParseError, UnsafeXMLError
from monitor.fetch import content_charset, media_type
from monitor.models import FeedEntry, ParsedFeed
from monitor.parse.dates import parse_date
from monitor.parse.decode import decode_bytes, repair_mojibake
from monitor.timeofday import WIB

HEAD_CHARS = 64 * 1024
_XML_DECL = re.compile(r"^<\?xml(?=\s)[^>]*\?>")
_UTF8_DECL = '<?xml version="1.0" encoding="utf-8"?>'
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ENTITY_DECL = re.compile(r"<!\s*ENTITY\b([^>]*)", re.IGNORECASE)
_EXTERNAL_ID = re.compile(r"\b(SYSTEM|PUBLIC)\b", re.IGNORECASE)
_PROLOG_ITEM = re.compile(
    r"\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\]\s*)?>", re.DOTALL | re.IGNORECASE
)
_ELEMENT_NAME = re.compile(r"<([A-Za-z_][\w.:-]*)")
_HTML_ROOTS = frozenset({"html", "head", "body"})
_DATE_KEYS = ("published", "updated", "created")

TRUNCATION_MARK = "\u2026"
TITLE_CHARS = 1_000
SUMMARY_CHARS = 20_000
ID_CHARS = 2_048
LINK_CHARS = 2_048
LIMITS = {"title": TITLE_CHARS, "summary": SUMMARY_CHARS, "id": ID_CHARS, "link": LINK_CHARS}
# C0 controls except \t \n \r, and every surrogate code point (only lone ones survive decoding).
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# Markup stripping can only shrink text, so reading past this many raw characters is wasted work.
_RAW_FACTOR = 8


def parse_feed(
    content: bytes,
    *,
    url: str,
    content_type: str | None = None,
    default_tz: tzinfo = WIB,
    max_entries: int = 5000,
) -> ParsedFeed:
    """Turn feed bytes into entries; raise ParseError (or UnsafeXMLError) when it cannot."""
    try:
        return _parse_feed(content, url, content_type, default_tz, max_entries)
    except ParseError:
        raise
    except Exception as exc:  # feedparser/sgmllib can fail in many ways on hostile input
        raise ParseError(f"could not parse the feed at {url}: {type(exc).__name__}: {exc}") from exc


def _parse_feed(
    content: bytes, url: str, content_type: str | None, default_tz: tzinfo, max_entries: int
) -> ParsedFeed:
    mime = media_type(content_type)
    decoded = decode_bytes(content, http_charset=content_charset(content_type), markup="xml")
    text = decoded.text.lstrip()
    if not text.strip():
        # Usually a hiccup on the publisher's side, so worth retrying later.
        raise ParseError(
            f"empty response body from {url}: the server sent no feed content", transient=True
        )
    check_xml_safety(text, url=url)
    if _looks_like_html(text):
        raise ParseError(
            f"not a feed: the server returned an HTML page for {url} "
            "(check the feed URL; the site may have moved its RSS)"
        )
    result = feedparser.parse(
        io.BytesIO(_as_utf8_document(text)),
        response_headers={"content-type": _feedparser_content_type(mime), "content-location": url},
    )
    diagnostics = list(decoded.notes)
    if mime and not _is_xml_type(mime):
        diagnostics.append(f"served as {mime}, not an XML media type")
    bozo = bool(result.get("bozo"))
    if bozo:
        diagnostics.append(f"malformed feed: {result.get('bozo_exception')}")
    if not result.entries and not result.get("version"):
        raise ParseError(_not_a_feed_message(text, url, result))
    entries = _collect_entries(result.entries, url, default_tz, max_entries, diagnostics)
    feed = result.feed
    return ParsedFeed(
        title=clean_text(str(feed.get("title", "")), TITLE_CHARS),
        entries=entries,
        ttl_minutes=_ttl(feed.get("ttl"), diagnostics),
        bozo=bozo,
        diagnostics=tuple(diagnostics),
    )


# --- handing text to feedparser -------------------------------------------------------


def _as_utf8_document(text: str) -> bytes:
    """UTF-8 bytes whose XML declaration (if any) says utf-8, so feedparser cannot re-decode
    them differently from the text that passed :func:`check_xml_safety`."""
    return _XML_DECL.sub(_UTF8_DECL, text, count=1).encode("utf-8")


def _feedparser_content_type(mime: str) -> str:
    # We have already decoded (using the server's charset), so the bytes are UTF-8. A
    # non-XML type (text/html, text/plain, octet-stream) would make feedparser flag the
    # feed bozo and, for some types, ignore our charset; we note it ourselves instead.
    return f"{mime if _is_xml_type(mime) else 'application/xml'}; charset=utf-8"


def _is_xml_type(mime: str) -> bool:
    return mime in ("application/xml", "text/xml") or mime.endswith("+xml")


# --- safety and shape -----------------------------------------------------------------


def check_xml_safety(text: str, *, url: str = "") -> None:
    """Refuse documents whose DOCTYPE declares any entity (internal or external).

    Policy: every ``<!ENTITY`` after a DOCTYPE is refused, even harmless-looking ones
    (feedparser's own test ``entity_in_doctype.xml`` declares ``&id;``): the parser on
    this machine cannot bound their expansion, and real news feeds never need them.
    A DOCTYPE without entities (RSS 0.91's Netscape DTD reference) is fine.
    """
    doctype = _DOCTYPE.search(text)
    if doctype is None:
        return
    entity = _ENTITY_DECL.search(text, doctype.start())
    if entity is None:
        return
    where = f" at {url}" if url else ""
    if _EXTERNAL_ID.search(entity.group(1)):
        raise UnsafeXMLError(
            f"refused the feed{where}: its DOCTYPE declares an external entity "
            "(SYSTEM/PUBLIC), which could read local files or other URLs; "
            "Pantau never resolves XML entities — ask the publisher to drop the DOCTYPE"
        )
    raise UnsafeXMLError(
        f"refused the feed{where}: its DOCTYPE declares entities (<!ENTITY>), which can "
        "expand exponentially ('billion laughs'); Pantau never expands XML entities — "
        "ask the publisher to drop the DOCTYPE"
    )


def _root_element(text: str) -> str | None:
    head = text[:HEAD_CHARS]
    pos = 0
    while (item := _PROLOG_ITEM.match(head, pos)) and item.end() > pos:
        pos = item.end()
    match = _ELEMENT_NAME.match(head, pos)
    return match.group(1) if match else None


def _looks_like_html(text: str) -> bool:
    root = _root_element(text)
    return root is not None and root.lower() in _HTML_ROOTS


def _not_a_feed_message(text: str, url: str, result: Mapping[str, Any]) -> str:
    root = _root_element(text)
    if root is not None and not result.get("bozo"):
        return f"not a feed: {url} is an XML document with root <{root}>, not RSS or Atom"
    reason = result.get("bozo_exception") or "no RSS or Atom elements found"
    return f"not a feed: {url} could not be read as RSS or Atom ({reason})"


# --- entries --------------------------------------------------------------------------


def _collect_entries(
    raw_entries: list[Any],
    feed_url: str,
    default_tz: tzinfo,
    max_entries: int,
    diagnostics: list[str],
) -> tuple[FeedEntry, ...]:
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_entries):
        if len(entries) >= max_entries:
            diagnostics.append(
                f"truncated: kept the first {max_entries} of {len(raw_entries)} entries"
            )
            break
        entry = _build_entry(raw, feed_url, default_tz, diagnostics)
        if entry is None:
            continue
        if entry.entry_id in seen:
            diagnostics.append(f"skipped duplicate entry id {entry.entry_id!r} (#{position})")
            continue
        seen.add(entry.entry_id)
        entries.append(entry)
    return tuple(entries)


def _build_entry(
    raw: Mapping[str, Any], feed_url: str, default_tz: tzinfo, diagnostics: list[str]
) -> FeedEntry | None:
    title = clean_text(str(raw.get("title") or ""), TITLE_CHARS)
    link = _absolute_link(str(raw.get("link") or ""), feed_url)
    if link is None:
        label = title or sanitize_text(str(raw.get("id") or "(untitled)"))
        diagnostics.append(f"skipped entry without link: {label[:120]}")
        return None
    if len(link) > LINK_CHARS:
        diagnostics.append(
            f"skipped entry with a {len(link):,}-character link (limit {LINK_CHARS:,}): "
            f"{link[:120]}{TRUNCATION_MARK}"
        )
        return None
    return FeedEntry(
        entry_id=entry_identity(str(raw.get("id") or ""), link, title),
        link=link,
        title=title,
        published=_entry_date(raw, default_tz),
        summary=clean_text(str(raw.get("summary") or ""), SUMMARY_CHARS),
    )


def entry_identity(guid: str, link: str, title: str) -> str:
    """GUID/id when present, else the link, else a sha256 of link and title; sanitised and at
    most :data:`ID_CHARS` long (a longer one ends with ``…`` and a hash of the whole id)."""
    guid = sanitize_text(guid).strip()
    if guid:
        return _bounded_id(guid)
    if link:
        return _bounded_id(sanitize_text(link))
    return "sha256:" + hashlib.sha256(f"{link}\n{title}".encode()).hexdigest()


def _bounded_id(value: str) -> str:
    if len(value) <= ID_CHARS:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()
    return value[: ID_CHARS - len(digest) - 1] + TRUNCATION_MARK + digest


def _absolute_link(link: str, feed_url: str) -> str | None:
    link = "".join(sanitize_text(link).split())  # feeds wrap long URLs over several lines
    if not link:
        return None
    absolute = urljoin(feed_url, link)
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return absolute


def _entry_date(raw: Mapping[str, Any], default_tz: tzinfo) -> datetime | None:
    for key in _DATE_KEYS:
        parsed = parse_date(_as_str(raw.get(key)), default_tz=default_tz)
        if parsed is not None:
            return parsed
    for key in _DATE_KEYS:
        struct = raw.get(f"{key}_parsed")
        if struct:
            try:
                return datetime.fromtimestamp(calendar.timegm(struct), UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                continue
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _ttl(value: object, diagnostics: list[str]) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if text.isdigit() and int(text) <= 60 * 24 * 365:
        return int(text)
    diagnostics.append(f"ignored invalid <ttl> {text[:40]!r}")
    return None


# --- text cleanup ---------------------------------------------------------------------


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(" ")


def sanitize_text(value: str) -> str:
    """``value`` without NUL, the other C0 controls (tab, newline, CR kept) and lone surrogates."""
    return _UNSAFE_CHARS.sub("", value)


def truncate_text(value: str, limit: int) -> str:
    """``value`` if at most ``limit`` characters, else its start ending in the marker ``…``
    (``limit`` characters in all)."""
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATION_MARK)].rstrip() + TRUNCATION_MARK


def clean_text(value: str, limit: int | None = None) -> str:
    """Markup stripped, entities unescaped, double-encoded UTF-8 repaired, spaces collapsed,
    unsafe characters removed (:func:`sanitize_text`); cut to ``limit`` characters with ``…``."""
    if not value:
        return ""
    cut = limit is not None and len(value) > limit * _RAW_FACTOR
    if limit is not None and cut:
        value = value[: limit * _RAW_FACTOR]
    if "<" in value or "&" in value:
        collector = _TextCollector()
        collector.feed(value)
        collector.close()
        value = html.unescape("".join(collector.parts))
    # Sanitised after unescaping too: "&#0;" becomes a NUL only then.
    text = " ".join(sanitize_text(repair_mojibake(value)).split())
    if limit is None:
        return text
    return truncate_text(text + (TRUNCATION_MARK if cut else ""), limit)
