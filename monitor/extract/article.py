"""Extract stage: HTML page -> article text (trafilatura), title, date and canonical URL.

Page bytes are decoded here, not by trafilatura, so that lying charset labels (windows-1252
sent as UTF-8 and the reverse) never turn into mojibake in stored text.

Pure and synchronous (CPU-bound): the pipeline runs it in a bounded worker pool.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from typing import Any

import trafilatura
from htmldate import find_date
from trafilatura.utils import load_html

from monitor.errors import ExtractError
from monitor.models import ExtractedArticle
from monitor.parse.feed import repair_mojibake

MIN_BODY_CHARS = 80


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEAD_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def charset_from_content_type(content_type: str | None) -> str | None:
    """``text/html; charset=ISO-8859-1`` -> ``ISO-8859-1``; None when absent."""
    match = _HTTP_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def declared_charsets(content: bytes) -> list[str]:
    """Charsets the page declares about itself: XML declaration, then ``<meta charset>`` /
    ``<meta http-equiv=Content-Type>`` in the first 4 KiB."""
    head = content[:_HEAD_BYTES]
    found = [m.group(1).decode("ascii") for m in _XML_DECL_ENCODING.finditer(head)]
    found += [m.group(1).decode("ascii") for m in _META_CHARSET.finditer(head)]
    return found


def _codec(label: str) -> str | None:
    """Python's codec name for a charset label; Latin-1/ASCII labels mean windows-1252, as in
    every browser (servers say ISO-8859-1 and send curly quotes)."""
    try:
        name = codecs.lookup(label.strip().lower()).name
    except (LookupError, ValueError):  # unknown, or junk such as an embedded NUL
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def decode_html(content: bytes, declared_charset: str | None = None) -> str:
    """Decode page bytes without mojibake, whatever the labels claim. Never fails.

    Order: a BOM; a declared UTF-16/32 that decodes; valid UTF-8 (labels lie far more often
    than legacy text happens to be valid UTF-8, so "windows-1252" pages that are really UTF-8
    come out right); the first declared legacy charset (HTTP header, then the page's own
    declaration) that decodes cleanly; windows-1252 as the last resort ("UTF-8" pages that are
    really windows-1252 or ISO-8859-1).
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    labels = [declared_charset] if declared_charset else []
    codecs_ = [c for c in (_codec(label) for label in labels + declared_charsets(content)) if c]
    for name in codecs_:
        if name.startswith(("utf-16", "utf-32")):
            try:
                return content.decode(name)
            except (UnicodeError, LookupError):  # LookupError: "base64" is no text encoding
                continue
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for name in codecs_:
        if name != "utf-8":
            try:
                return content.decode(name)
            except (UnicodeError, LookupError):
                continue
    return content.decode("cp1252", errors="replace")


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _first(tree: Any, *xpaths: str) -> str | None:
    for xp in xpaths:
        for value in tree.xpath(xp):
            text = str(value).strip()
            if text:
                return text
    return None


def _page_date(html: str) -> datetime | None:
    """The page's own publication date (htmldate), for entries whose feed gave none."""
    try:
        found = find_date(html, extensive_search=False, outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception:  # htmldate on hostile markup: no date is the honest answer
        return None
    return _parse_date(found) if found else None


def extract_article(
    html: str | bytes,
    url: str,
    *,
    content_type: str | None = None,
    with_date: bool = True,
) -> ExtractedArticle:
    """Pull the article body out of a page; raise ExtractError when there is none.

    ``content_type``: the HTTP Content-Type header, whose charset is one of the hints used to
    decode bytes (see :func:`decode_html`). ``with_date``: look for the page's own date (the
    pipeline asks only when the feed gave none; it is the costliest part of extraction).
    Title, canonical URL and site name come from the page head, read from the same parsed
    tree trafilatura then extracts from.
    """
    if isinstance(html, bytes):
        html = decode_html(html, charset_from_content_type(content_type))
    try:
        tree = load_html(html)
        if tree is None:
            raise ExtractError(f"{url}: not an HTML page")
        canonical = _first(
            tree, '//link[@rel="canonical"]/@href', '//meta[@property="og:url"]/@content'
        )
        title = _first(tree, '//meta[@property="og:title"]/@content', "//title/text()") or ""
        site_name = _first(tree, '//meta[@property="og:site_name"]/@content')
        published = _page_date(html) if with_date else None
        text = trafilatura.extract(
            tree,
            url=url,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            # trafilatura's dedup cache is process-wide: syndicated copies would lose their text.
            deduplicate=False,
        )
    except ExtractError:
        raise
    except Exception as exc:  # trafilatura/lxml raise a wide range on hostile markup
        raise ExtractError(f"{url}: extraction failed: {exc.__class__.__name__}: {exc}") from exc
    if not text:
        raise ExtractError(f"{url}: no article text found in the page")
    # Pages double-encoded by their CMS ("Ã©" for "é") are repaired like feed titles are.
    body = repair_mojibake(text).strip()
    if len(body) < MIN_BODY_CHARS:
        raise ExtractError(f"{url}: extracted text too short ({len(body)} characters)")
    return ExtractedArticle(
        url=url,
        canonical_url=canonical if canonical and canonical != url else None,
        title=repair_mojibake(" ".join(title.split())),
        body=body,
        published=published,
        site_name=site_name,
    )
