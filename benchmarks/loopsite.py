"""A news site with many feeds on 127.0.0.1, in its own process (``python -m benchmarks.loopsite``).

Run in a subprocess so its CPU is not counted as Pantau's. It prints ``READY <base URL>`` and
serves until its stdin closes or ``--lifetime`` seconds pass (it always stops by itself).

* ``/feed/<i>.xml`` -- feed ``i``. Nine in ten are unchanged: they answer ``304`` to their
  ETag. Every tenth changes on each request: one new item (linking to a corpus page) at the
  top, the four before it below.
* ``/live/<i>.xml`` -- live feed ``i``: the items published to it so far.
* ``/publish/<i>/<index>`` -- publish corpus article ``index`` on live feed ``i`` now; the
  time of publication and of the first feed request that carried it are recorded.
* ``/article/<index>`` -- corpus page ``index``; ``/hook`` (POST) -- the webhook recorder.
* ``/log`` -- JSON: publications, feed pickups and webhook receptions (``time.time()``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.corpus import page

CHANGED_EVERY = 10
_FEED = re.compile(r"^/feed/(\d+)\.xml$")
_LIVE = re.compile(r"^/live/(\d+)\.xml$")
_PUBLISH = re.compile(r"^/publish/(\d+)/(\d+)$")
_ARTICLE = re.compile(r"^/article/(\d+)$")


def changed_page(feed: int, item: int) -> int:
    """Corpus page index of item ``item`` of changing feed ``feed``."""
    return 100_000 + feed * 100 + max(0, item)


class Site:
    def __init__(self, base: str) -> None:
        self.base = base
        self.lock = threading.Lock()
        self.versions: dict[int, int] = {}
        self.live: dict[int, list[int]] = {}
        self.pages: dict[int, bytes] = {}
        self.log: dict[str, Any] = {"published": {}, "picked_up": {}, "hooks": []}
        self.requests = 0

    def article(self, index: int) -> bytes:
        with self.lock:
            cached = self.pages.get(index)
        if cached is None:
            cached = page(index, base_url=self.base).html
            with self.lock:
                self.pages[index] = cached
        return cached

    def rss(self, title: str, items: list[tuple[str, int]]) -> bytes:
        now = format_datetime(datetime.now(UTC))
        body = "".join(
            f"<item><title>{escape(name)}</title><link>{self.base}/article/{index}</link>"
            f'<guid isPermaLink="false">{escape(name)}</guid><pubDate>{now}</pubDate></item>'
            for name, index in items
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>{self.base}/</link>{body}</channel></rss>"
        ).encode()

    def feed(self, i: int, etag: str | None) -> tuple[int, bytes, str]:
        if i % CHANGED_EVERY:
            tag = f'"s{i}"'
            if etag == tag:
                return 304, b"", tag
            return 200, self.rss(f"Feed {i}", [(f"feed{i}-item{j}", 0) for j in range(5)]), tag
        with self.lock:
            k = self.versions[i] = self.versions.get(i, 0) + 1
        items = [(f"feed{i}-item{j}", changed_page(i, j)) for j in range(k, k - 5, -1)]
        return 200, self.rss(f"Feed {i}", items), f'"c{i}-{k}"'

    def live_feed(self, i: int) -> bytes:
        now = time.time()
        with self.lock:
            indices = list(self.live.get(i, []))
            for index in indices:
                self.log["picked_up"].setdefault(str(index), now)
        return self.rss(f"Live {i}", [(f"live{i}-{x}", x) for x in reversed(indices)])


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            if etag:
                self.send_header("etag", etag)
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def do_GET(self) -> None:
            site.requests += 1
            path = self.path.split("?", 1)[0]
            rss = "application/rss+xml; charset=utf-8"
            if m := _FEED.match(path):
                status, body, tag = site.feed(int(m.group(1)), self.headers.get("if-none-match"))
                return self._send(status, body, rss, tag)
            if m := _LIVE.match(path):
                return self._send(200, site.live_feed(int(m.group(1))), rss)
            if m := _ARTICLE.match(path):
                return self._send(200, site.article(int(m.group(1))), "text/html; charset=utf-8")
            if m := _PUBLISH.match(path):
                feed, index = int(m.group(1)), int(m.group(2))
                site.article(index)  # rendered before it is announced
                with site.lock:
                    site.live.setdefault(feed, []).append(index)
                    site.log["published"][str(index)] = time.time()
                return self._send(200, b"ok", "text/plain")
            if path == "/log":
                with site.lock:
                    body = json.dumps({**site.log, "requests": site.requests}).encode()
                return self._send(200, body, "application/json")
            return self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            data = self.rfile.read(length)
            received = time.time()
            try:
                payload = json.loads(data)
            except ValueError:
                payload = {}
            with site.lock:
                site.log["hooks"].append(
                    {"at": received, "url": payload.get("url"), "type": payload.get("type")}
                )
            self._send(200, b"{}", "application/json")

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=float, default=600.0)
    parser.add_argument("--prerender", default="", help="comma-separated page indices")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    site = Site(f"http://{host!s}:{port}")
    server.RequestHandlerClass = _handler(site)
    for index in filter(None, args.prerender.split(",")):
        site.article(int(index))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"READY {site.base}", flush=True)
    stopper = threading.Timer(args.lifetime, server.shutdown)
    stopper.daemon = True
    stopper.start()
    waiter = threading.Thread(target=sys.stdin.read, daemon=True)
    waiter.start()
    waiter.join(args.lifetime)
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
