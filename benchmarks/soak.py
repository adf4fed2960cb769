"""A bounded soak (issue #10): the real daemon polls 200 changing feeds on loopback for N minutes
while its memory (RSS) and open file descriptors are sampled. Not a test: it takes minutes.

    python -m benchmarks.soak [--minutes 3] [--feeds 200] [--change-every 20] [--sample 5]

The feeds are served by this process on 127.0.0.1: every feed gets a new item every
``--change-every`` seconds (default 60; five newest items, ETag per version so unchanged polls
are 304s), each item linking to a generated article that mentions tracked actors. The daemon is
``pantau run --allow-private`` in a subprocess of its own (so only its memory is measured), with
short intervals so that every feed is polled every few seconds. RSS and FD counts come from
/proc/<pid>; after a warm-up (the first quarter of the samples: start-up, first polls) the
median of the first and second halves are compared. Verdict "flat" when RSS grew by less than
10 % and 20 MiB and open FDs by fewer than 5; otherwise "growing", with the figures.

Part of the memory grows by design: the dedup index holds every article of the last
``dedup.window_days`` (at least a day), so a soak that stores thousands of articles a minute
sees it grow; the figures include the growth per 1000 stored articles to tell the two apart.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakenews import fake_article  # noqa: E402  (after the path set-up)

ITEMS_PER_FEED = 5


class ChangingSite:
    """``/feed/<i>.xml``: the five newest items of feed i; ``/article/<i>/<n>``: a page."""

    def __init__(self, change_every: float) -> None:
        self.change_every = change_every
        self.started = time.monotonic()
        self.requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def version(self, feed: int) -> int:
        # Feeds change at staggered moments, not all in the same second.
        offset = (feed * 7.3) % self.change_every
        return int((time.monotonic() - self.started + offset) / self.change_every)

    def feed(self, i: int) -> tuple[bytes, str]:
        v = self.version(i)
        items = "".join(
            f"<item><title>Feed {i} item {n}</title><link>{self.base}/article/{i}/{n}</link>"
            f'<guid isPermaLink="false">f{i}-{n}</guid>'
            f"<pubDate>{formatdate(usegmt=True)}</pubDate></item>"
            for n in range(v, v - ITEMS_PER_FEED, -1)
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(f'Feed {i}')}</title><link>{self.base}/</link>{items}"
            "</channel></rss>"
        ).encode()
        return body, f'"f{i}-v{v}"'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with site.lock:
                    site.requests += 1
                parts = self.path.strip("/").split("/")
                status, body, headers = 404, b"not found", {"content-type": "text/plain"}
                if len(parts) == 2 and parts[0] == "feed" and parts[1].endswith(".xml"):
                    body, etag = site.feed(int(parts[1][:-4]))
                    headers = {"content-type": "application/rss+xml", "etag": etag}
                    status = 304 if self.headers.get("if-none-match") == etag else 200
                    body = b"" if status == 304 else body
                elif len(parts) == 3 and parts[0] == "article":
                    index = int(parts[1]) * 100_000 + int(parts[2])
                    body = fake_article(index).html().encode()
                    status, headers = 200, {"content-type": "text/html; charset=utf-8"}
                self.send_response(status)
                for key, value in {**headers, "content-length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> ChangingSite:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(tmp: Path, site: ChangingSite, feeds: int) -> Path:
    feeds_file = tmp / "feeds.toml"
    feeds_file.write_text(
        "".join(f'[[feed]]\nurl = "{site.base}/feed/{i}.xml"\n\n' for i in range(feeds)),
        encoding="utf-8",
    )
    config = tmp / "pantau.toml"
    config.write_text(
        f'feeds_file = "{feeds_file}"\n'
        "[schedule]\ndefault_interval = 10.0\nmin_interval = 5.0\nmax_interval = 30.0\n"
        "tick = 1.0\nglobal_concurrency = 32\nper_host_concurrency = 32\nper_host_delay = 0.0\n"
        "backoff_base = 5.0\n"
        '[[alerts.channels]]\nname = "console"\ntype = "console"\nrate_limit = 100\n',
        encoding="utf-8",
    )
    return config


def sample(pid: int) -> tuple[float, int]:
    """(RSS in MiB, open file descriptors) of a live process, from /proc."""
    rss_kib = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
    return rss_kib / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def stored_articles(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0


def verdict(rows: list[tuple[float, float, int, int, int]]) -> tuple[str, str]:
    steady = rows[len(rows) // 4 :]
    if len(steady) < 4:
        return "unknown", "too few samples: run for longer (--minutes)"
    half = len(steady) // 2
    rss_a = statistics.median(r[1] for r in steady[:half])
    rss_b = statistics.median(r[1] for r in steady[half:])
    fd_a = statistics.median(r[2] for r in steady[:half])
    fd_b = statistics.median(r[2] for r in steady[half:])
    grew_rss = rss_b - rss_a
    grew_fd = fd_b - fd_a
    flat = grew_rss < min(20.0, 0.10 * rss_a) and grew_fd < 5
    new_articles = steady[-1][4] - steady[0][4]
    per_k = f", {1000 * grew_rss / new_articles:+.1f} MiB per 1000 articles" if new_articles else ""
    figures = (
        f"RSS median {rss_a:.1f} -> {rss_b:.1f} MiB ({grew_rss:+.1f} MiB{per_k}), "
        f"open FDs median {fd_a:.0f} -> {fd_b:.0f} ({grew_fd:+.0f}), "
        f"over {steady[-1][0] - steady[0][0]:.0f} s after warm-up"
    )
    return ("flat" if flat else "growing"), figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--change-every", type=float, default=60.0)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        raise SystemExit("needs Linux /proc to read RSS and file descriptors")
    with (
        tempfile.TemporaryDirectory(prefix="pantau-soak-") as tmpdir,
        ChangingSite(args.change_every) as site,
    ):
        tmp = Path(tmpdir)
        config = write_config(tmp, site, args.feeds)
        db = tmp / "pantau.db"
        log = (tmp / "daemon.log").open("wb")
        cmd = [
            sys.executable,
            "-c",
            "from monitor.cli import main; main()",
            "run",
            "--config",
            str(config),
            "--db",
            str(db),
            "--allow-private",
        ]
        daemon = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        rows: list[tuple[float, float, int, int, int]] = []
        print(
            f"soak: {args.feeds} feeds on {site.base}, {args.minutes:g} min, daemon pid "
            f"{daemon.pid}",
            flush=True,
        )
        print(f"{'t (s)':>7} {'RSS MiB':>9} {'FDs':>5} {'requests':>9} {'articles':>9}")
        started = time.monotonic()
        end = started + args.minutes * 60
        try:
            while time.monotonic() < end and daemon.poll() is None:
                rss, fds = sample(daemon.pid)
                t = time.monotonic() - started
                row = (t, rss, fds, site.requests, stored_articles(db))
                rows.append(row)
                print(f"{t:7.0f} {rss:9.1f} {fds:5d} {row[3]:9d} {row[4]:9d}", flush=True)
                time.sleep(args.sample)
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    code = daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    code = daemon.wait()
            else:
                code = daemon.returncode
            log.close()
        tail = (tmp / "daemon.log").read_text(errors="replace").splitlines()[-5:]
    if not rows or code not in (0, -signal.SIGTERM):
        print(f"daemon exited early (code {code}); last log lines:", *tail, sep="\n  ")
        raise SystemExit(1)
    word, figures = verdict(rows)
    print(f"daemon stopped with exit code {code} after SIGTERM")
    print(
        f"verdict: {word}: {figures}; {rows[-1][3]} requests served, {rows[-1][4]} articles stored"
    )


if __name__ == "__main__":
    main()
