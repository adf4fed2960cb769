"""Politeness per host: at most N requests in flight and a minimum gap between request starts.

Several Indonesian portals share one host or CDN (``rss.tempo.co`` serves every Tempo section),
so the limit is per host name, not per feed. Feed polls and the article fetches they cause go
through the same limiter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from monitor.fetch.client import Fetcher
from monitor.models import FetchResult


def host_key(url: str) -> str:
    """The politeness key of a URL: its host name, lower-cased, without ``www.``."""
    host = (urlsplit(url).hostname or url).lower().rstrip(".")
    return host.removeprefix("www.")


@dataclass
class _Host:
    slots: asyncio.Semaphore
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0


class HostLimiter:
    """``async with limiter.slot(url): ...`` waits for a free slot on the URL's host and for
    ``min_delay`` seconds since the previous request to that host started."""

    def __init__(
        self,
        per_host: int,
        min_delay: float = 0.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self.min_delay = max(0.0, min_delay)
        self._clock = clock
        self._hosts: dict[str, _Host] = {}

    def _host(self, key: str) -> _Host:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host(asyncio.Semaphore(self.per_host))
        return host

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = self._host(host_key(url))
        async with host.slots:
            if self.min_delay:
                async with host.gate:
                    wait = host.next_start - self._clock()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    host.next_start = self._clock() + self.min_delay
            yield


class LimitedFetcher(Fetcher):
    """A :class:`Fetcher` whose every request waits for the host limiter.

    It shares the wrapped fetcher's client and policy (one connection pool, one guard); closing
    stays the wrapped fetcher's job.
    """

    def __init__(self, inner: Fetcher, limiter: HostLimiter) -> None:
        # Deliberately no super().__init__(): that would open a second client.
        self.policy = inner.policy
        self._inner = inner
        self.limiter = limiter

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        trusted: bool = False,
        accept: str | None = None,
        allowed_types: frozenset[str] | None = None,
    ) -> FetchResult:
        async with self.limiter.slot(url):
            return await self._inner.fetch(
                url,
                etag=etag,
                last_modified=last_modified,
                trusted=trusted,
                accept=accept,
                allowed_types=allowed_types,
            )

    async def __aenter__(self) -> LimitedFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """The wrapped fetcher owns the client and closes it."""

    async def aclose(self) -> None:
        """The wrapped fetcher owns the client and closes it."""
