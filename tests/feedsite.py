"""A news site on a LoopbackServer whose feed the test changes while Pantau polls it.

Article pages are the seed corpus rendered by :mod:`monitor.demo.sitebuilder`; the feed lists only
the articles the test has "published" so far, answers conditional GETs (ETag and
Last-Modified) unless told to ignore them, and can be switched to failing statuses.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import formatdate

from monitor.demo.sitebuilder import FEED_PATH, Corpus, build_site, render_feed
from tests.loopback import LoopbackServer, Request, Response

RSS_TYPE = "application/rss+xml; charset=utf-8"


@dataclass
class FeedSite:
    server: LoopbackServer
    corpus: Corpus
    path: str = FEED_PATH
    published: int = 0
    conditional: bool = True  # False: a server that ignores If-None-Match / If-Modified-Since
    failure: Response | None = None  # while set, every feed request gets this
    extra_headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds the server takes to answer the feed
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        base = self.server.url("")
        for page_path, (ctype, body) in build_site(self.corpus, base).pages.items():
            if page_path != FEED_PATH:
                self.server.route(page_path, Response(200, body, {"content-type": ctype}))
        self.server.route(self.path, self._serve)

    # -- what the test changes ----------------------------------------------------------------

    def publish(self, count: int) -> None:
        """Show the ``count`` oldest articles of the corpus in the feed."""
        with self._lock:
            self.published = min(count, len(self.corpus.docs))

    def fail(self, response: Response | None) -> None:
        with self._lock:
            self.failure = response

    # -- what the server sees -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    def feed_requests(self) -> list[Request]:
        return self.server.requests_for(self.path)

    def page_requests(self) -> list[Request]:
        pages = {d.url_path for d in self.corpus.docs}
        return [r for r in list(self.server.requests) if r.path in pages]

    def body(self) -> bytes:
        docs = sorted(self.corpus.docs, key=lambda d: d.published)[: self.published]
        shown = Corpus(self.corpus.site_name, self.corpus.base_url, tuple(docs))
        base = self.server.url("")
        return render_feed(shown, lambda p: base + p).encode("utf-8")

    def _serve(self, request: Request) -> Response:
        with self._lock:
            if self.failure is not None:
                return self.failure
            body = self.body()
            delay = self.delay
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"content-type": RSS_TYPE, **self.extra_headers}
        if self.conditional:
            headers["etag"] = etag
            headers["last-modified"] = formatdate(1_700_000_000 + self.published, usegmt=True)
            if request.headers.get("if-none-match") == etag:
                return Response(304, b"", headers, delay=delay)
        return Response(200, body, headers, delay=delay)
