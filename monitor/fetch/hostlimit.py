"""Politeness per host: at most N requests in flight and a minimum gap between request starts.

Several Indonesian portals share one host or CDN (``rss.tempo.co`` serves every Tempo section),
so the limit is per host name, not per feed. The daemon hands one limiter to its
:class:`~monitor.fetch.client.Fetcher`, so feed polls and the article fetches they cause go
through the same limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit


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
