"""What HTTP headers mean to Pantau, in one place; pure functions over header values.

* Conditional GET: the validators a response carries (``ETag``, ``Last-Modified``) and the
  request headers that send them back (``If-None-Match``, ``If-Modified-Since``).
* ``Cache-Control: max-age``: how long the server asks not to be polled again.
* ``Retry-After`` (delta-seconds or an HTTP-date): how long a 429/503 asks us to wait, for feed
  fetches and alert channels alike.
* ``Content-Type``: the media type (which stage reads the body) and the charset (a hint for
  :mod:`monitor.parse.decode`).

Header names are looked up lower-cased: :class:`monitor.models.FetchResult` stores them so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?")
_MAX_AGE = re.compile(r'^\s*max-age\s*=\s*"?(\d+)"?\s*$', re.IGNORECASE)
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def media_type(content_type: str | None) -> str:
    """``text/html; charset=utf-8`` -> ``text/html``; missing -> ``""``."""
    return (content_type or "").split(";")[0].strip().lower()


def content_charset(content_type: str | None) -> str | None:
    """``text/html; charset=ISO-8859-1`` -> ``ISO-8859-1``; None when absent."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """The request headers that make a GET conditional on the stored validators."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def validators(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(ETag, Last-Modified) of a response, None for each one it did not send."""
    return headers.get("etag"), headers.get("last-modified")


def parse_max_age(cache_control: str | None) -> int | None:
    """The max-age directive of a Cache-Control header in seconds, None if absent or malformed."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        match = _MAX_AGE.match(directive)
        if match:
            return int(match.group(1))
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent
    or unreadable. A date in the past means "now" (0.0)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
