"""Extract stage: HTML page -> article text (trafilatura), title, date and canonical URL.

Page bytes are decoded by :mod:`monitor.parse.decode` (the cascade feeds go through too), not by
trafilatura, so that lying charset labels (windows-1252 sent as UTF-8 and the reverse) never
turn into mojibake in stored text.

Pure and synchronous (CPU-bound): the pipeline runs it in a bounded worker pool.

Fast first, full pass when short: trafilatura's ``fast`` mode skips the comparison with its
fallback extractors (readability, jusText), about a third of the extraction time. When the
fast text comes back short (under :data:`FULL_PASS_BELOW` characters, or nothing at all) the
page's layout fooled the main extractor and the full cascade runs, as it always did before;
so it does at once for a page whose ``<p>`` elements hold less text than that.
The page is parsed once: metadata, both passes (trafilatura copies the tree it is given) and
the page date all read the same lxml tree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import trafilatura
from htmldate import find_date
from trafilatura.utils import load_html

from monitor.errors import ExtractError
from monitor.fetch import content_charset
from monitor.models import ExtractedArticle
from monitor.parse import decode_html, repair_mojibake

MIN_BODY_CHARS = 80
# A fast text shorter than this gets the full pass. Complete articles in the benchmark corpus
# and the seeds run from 2,185 characters up; the one real portal page whose layout fools
# the fast extractor (antara, text in a <div> with <br>) comes back with 41. News briefs of a
# few sentences pay for both passes, which costs time, never text.
FULL_PASS_BELOW = 1000


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


def _title_text(tree: Any) -> str | None:
    """The first non-blank text node directly inside a ``<title>``, in document order."""
    for title in tree.iter("title"):
        for value in (title.text, *(child.tail for child in title)):
            if value and value.strip():
                return str(value).strip()
    return None


def _page_date(tree: Any) -> datetime | None:
    """The page's own publication date (htmldate, on a copy of the parsed tree), for entries
    whose feed gave none."""
    try:
        found = find_date(tree, extensive_search=False, outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception:  # htmldate on hostile markup: no date is the honest answer
        return None
    return _parse_date(found) if found else None


def _trafilatura_text(tree: Any, url: str, *, fast: bool) -> str | None:
    text: str | None = trafilatura.extract(
        tree,
        url=url,
        fast=fast,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        # trafilatura's dedup cache is process-wide: syndicated copies would lose their text.
        deduplicate=False,
    )
    return text


def _paragraph_chars(tree: Any, enough: int) -> int:
    """Characters of text in the page's ``<p>`` elements, counted up to ``enough``."""
    total = 0
    for paragraph in tree.iter("p"):
        total += len(paragraph.text_content())
        if total >= enough:
            break
    return total


def body_text(tree: Any, url: str, *, full_pass_below: int = FULL_PASS_BELOW) -> str | None:
    """The article text of a parsed page: trafilatura's fast pass, then its full pass when
    the fast text is missing or shorter than ``full_pass_below`` characters (the full pass's
    text is kept unless it found nothing). A page whose paragraphs hold less text than that
    (an article in ``<div>``s and ``<br>``s) goes to the full pass at once: the fast pass
    finds its text in paragraphs and would come back short. ``tree`` is left as it was."""
    text = None
    if _paragraph_chars(tree, full_pass_below) >= full_pass_below:
        text = _trafilatura_text(tree, url, fast=True)
        if text is not None and len(text.strip()) >= full_pass_below:
            return text
    return _trafilatura_text(tree, url, fast=False) or text


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
        html = decode_html(html, content_charset(content_type))
    try:
        tree = load_html(html)
        if tree is None:
            raise ExtractError(f"{url}: not an HTML page")
        canonical = _first(
            tree, '//link[@rel="canonical"]/@href', '//meta[@property="og:url"]/@content'
        )
        title = _first(tree, '//meta[@property="og:title"]/@content') or _title_text(tree) or ""
        site_name = _first(tree, '//meta[@property="og:site_name"]/@content')
        text = body_text(tree, url)
        published = _page_date(tree) if with_date else None
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
