"""Feed parsing as a job for the worker processes: :class:`FeedJob` -> ``ParsedFeed``.

feedparser's loose parser holds the GIL for as long as it runs and its cost grows with hostile
markup (a 5 MiB feed of unclosed tags takes tens of seconds). In a thread that freezes the
event loop and cannot be stopped, not even by SIGTERM; in a worker process it runs under a
deadline counted from the start of its work, and an overrun kills that process alone
(:meth:`monitor.daemon.workers.WorkerPool.parse`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo

from monitor.models import ParsedFeed
from monitor.parse import parse_feed


@dataclass(frozen=True)
class FeedJob:
    """One fetched feed body, and how to read its dates."""

    content: bytes
    url: str  # the feed's final URL, after redirects
    content_type: str | None
    default_tz: tzinfo


def parse_job(job: FeedJob) -> ParsedFeed:
    """Parse the feed; raises ParseError as :func:`monitor.parse.parse_feed` does."""
    return parse_feed(
        job.content, url=job.url, content_type=job.content_type, default_tz=job.default_tz
    )


ParseTask = Callable[[FeedJob], ParsedFeed]
