"""Extract stage: HTML page -> article text (trafilatura), title, date and canonical URL.

Pure and synchronous (CPU-bound): the pipeline runs it in a bounded worker pool.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import trafilatura

from monitor.errors import ExtractError
from monitor.models import ExtractedArticle

MIN_BODY_CHARS = 80


def decode_html(content: bytes, declared_charset: str | None = None) -> str:
    """Decode page bytes: declared charset first, then UTF-8, then windows-1252 (never fails)."""
    for enc in (declared_charset, "utf-8"):
        if not enc:
            continue
        try:
            return content.decode(enc)
        except (LookupError, UnicodeDecodeError):
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


def extract_article(html: str | bytes, url: str) -> ExtractedArticle:
    """Pull the article body out of a page; raise ExtractError when there is none."""
    if isinstance(html, bytes):
        html = decode_html(html)
    try:
        raw = trafilatura.extract(
            html,
            url=url,
            output_format="json",
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            deduplicate=True,
        )
    except Exception as exc:  # trafilatura/lxml raise a wide range on hostile markup
        raise ExtractError(f"{url}: extraction failed: {exc.__class__.__name__}: {exc}") from exc
    if not raw:
        raise ExtractError(f"{url}: no article text found in the page")
    data: dict[str, Any] = json.loads(raw)
    body = str(data.get("text") or "").strip()
    if len(body) < MIN_BODY_CHARS:
        raise ExtractError(f"{url}: extracted text too short ({len(body)} characters)")
    canonical = data.get("url") or None
    return ExtractedArticle(
        url=url,
        canonical_url=str(canonical) if canonical and canonical != url else None,
        title=str(data.get("title") or "").strip(),
        body=body,
        published=_parse_date(data.get("date")),
        site_name=data.get("sitename") or None,
    )
