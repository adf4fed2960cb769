"""The dedup stage: one story per article however it is reached.

URL identity (``canonicalize_url``), exact body hashes and MinHash signatures with a compact
LSH band index (``DedupIndex``) that says new, same URL, exact copy or near copy.
"""

from monitor.dedup.index import (
    DedupConfig,
    DedupIndex,
    DedupVerdict,
    Fingerprint,
    IndexedArticle,
    changed_substantially,
    fingerprint,
)
from monitor.dedup.urls import canonicalize_url, source_of

__all__ = [
    "DedupConfig",
    "DedupIndex",
    "DedupVerdict",
    "Fingerprint",
    "IndexedArticle",
    "canonicalize_url",
    "changed_substantially",
    "fingerprint",
    "source_of",
]
