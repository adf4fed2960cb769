"""The fetch stage: every download Pantau makes, behind one guard.

``Fetcher`` streams a body under a size cap and an overall deadline, refusing private and
loopback addresses on every redirect hop (``netguard``); ``HostLimiter`` spaces and caps
requests per host and is handed to the fetcher; ``headers`` says what HTTP headers mean
(validators for conditional GET, max-age, Retry-After, media type and charset).
"""

from monitor.fetch.client import ARTICLE_TYPES, FEED_ACCEPT, FEED_TYPES, Fetcher, FetchPolicy
from monitor.fetch.headers import (
    content_charset,
    media_type,
    parse_max_age,
    parse_retry_after,
    validators,
)
from monitor.fetch.hostlimit import HostLimiter

__all__ = [
    "ARTICLE_TYPES",
    "FEED_ACCEPT",
    "FEED_TYPES",
    "FetchPolicy",
    "Fetcher",
    "HostLimiter",
    "content_charset",
    "media_type",
    "parse_max_age",
    "parse_retry_after",
    "validators",
]
