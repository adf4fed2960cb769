"""`pantau feeds check URL --json` over every real feed in shared/corpus/feeds/, each served from
a loopback server: usable entries come out (the same ones the parse stage reads), or one clear
error line and a non-zero exit; never a traceback. Hostile feed servers get the same treatment.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import Result
from typer.testing import CliRunner

import monitor.cli.feeds  # noqa: F401  (registers `feeds check`)
from monitor.cli import app
from monitor.errors import ParseError
from monitor.parse.feed import parse_feed
from tests.conftest import SHARED
from tests.loopback import LoopbackServer, Request, Response, RouteFn, serve

ROOT = Path(__file__).resolve().parents[2]
FEEDS = Path("corpus", "feeds")
CORPUS_FILES = sorted(str(p.relative_to(SHARED)) for p in (SHARED / FEEDS).glob("*/*.xml"))
HEADER = re.compile(rb"Header:\s*Content-type:\s*([^\s>-][^\r\n>]*?)\s*(?:-->|\r?\n)", re.I)


def content_type_of(raw: bytes) -> str:
    """feedparser's test files name the HTTP Content-Type they are meant to be served with."""
    match = HEADER.search(raw[:2000])
    return match.group(1).decode("ascii").strip() if match else "application/xml"


def check(url: str, *extra: str) -> Result:
    return CliRunner().invoke(app, ["feeds", "check", url, "--json", *extra])


def one_line(text: str) -> str:
    return " ".join(text.split())


def assert_clear_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    text = result.output
    output = one_line(text)
    assert output.startswith("error: ") and output.count("error:") == 1, output
    assert "Traceback" not in text
    return output


def test_the_corpus_is_there(shared_dir: Path) -> None:
    assert len(CORPUS_FILES) >= 50


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[LoopbackServer]:
    """One server for the whole corpus, each file at /<its path under shared/>."""
    with serve() as server:
        for relative in CORPUS_FILES:
            raw = (SHARED / relative).read_bytes()
            headers = {"content-type": content_type_of(raw)}
            server.route(f"/{relative}", Response(body=raw, headers=headers))
        yield server


@pytest.mark.parametrize("relative", CORPUS_FILES)
def test_every_corpus_feed_checks_to_its_entries_or_one_clear_error(
    shared_dir: Path, corpus_server: LoopbackServer, relative: str
) -> None:
    raw = (shared_dir / relative).read_bytes()
    content_type = content_type_of(raw)
    url = corpus_server.url(f"/{relative}")
    result = check(url)
    try:
        expected = parse_feed(raw, url=url, content_type=content_type)
    except ParseError as exc:
        output = assert_clear_error(result)
        assert one_line(exc.message) in output
        return
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == 200 and report["bytes"] == len(raw)
    assert report["entry_count"] == len(expected.entries) == len(report["entries"])
    assert [e["id"] for e in report["entries"]] == [e.entry_id for e in expected.entries]
    for entry in report["entries"]:
        parts = urlsplit(entry["link"])
        assert parts.scheme in ("http", "https") and parts.netloc, entry
        assert entry["published"] is None or entry["published"].endswith("Z")
    assert report["bozo"] == expected.bozo


def _drip(loopback: LoopbackServer) -> RouteFn:
    def route(_req: Request) -> None:
        h = loopback.handler()
        h.send_response(200)
        h.send_header("content-type", "application/rss+xml")
        h.send_header("content-length", "10000")
        h.end_headers()
        try:
            for _ in range(40):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        h.close_connection = True

    return route


@pytest.fixture
def tight_config(tmp_path: Path) -> Path:
    config = tmp_path / "pantau.toml"
    config.write_text(
        "[fetch]\nmax_bytes = 65536\ntotal_timeout = 1.5\nmax_redirects = 3\n", encoding="utf-8"
    )
    return config


@pytest.mark.parametrize(
    ("route", "words"),
    [
        ("big", "larger than the 65,536-byte limit"),
        ("bomb", "larger than the 65,536-byte limit after decompression"),
        ("loop", "redirect loop"),
        ("chain", "redirected more than 3 times"),
        ("drip", "gave up on"),
        ("metadata", "link-local address"),
        ("html", "text/html"),
        ("gone", "HTTP 410"),
    ],
)
def test_hostile_feed_server_gives_one_clear_error(
    loopback: LoopbackServer, tight_config: Path, route: str, words: str
) -> None:
    rss = "application/rss+xml"
    loopback.route("/big", Response(body=b"<rss>" + b" " * 200_000, headers={"content-type": rss}))
    bomb = gzip.compress(b"<rss>" + b" " * 20_000_000)
    loopback.route(
        "/bomb", Response(body=bomb, headers={"content-type": rss, "content-encoding": "gzip"})
    )
    loopback.route("/loop", Response(302, headers={"location": "/loop2"}))
    loopback.route("/loop2", Response(302, headers={"location": "/loop"}))
    for i in range(6):
        loopback.route(
            f"/chain{i if i else ''}", Response(302, headers={"location": f"/chain{i + 1}"})
        )
    loopback.route("/drip", _drip(loopback))
    # The feed URL itself is trusted; where it redirects to is not.
    loopback.route("/metadata", Response(302, headers={"location": "http://169.254.169.254/"}))
    loopback.route("/html", Response(body=b"<html></html>", headers={"content-type": "text/html"}))
    loopback.route("/gone", Response(410, body=b"gone"))
    result = check(loopback.url(f"/{route}"), "--config", str(tight_config))
    assert words in assert_clear_error(result)


def test_real_entry_point_reports_an_unsafe_feed_in_one_line(
    shared_dir: Path, loopback: LoopbackServer
) -> None:
    raw = shared_dir / FEEDS / "feedparser_tests" / "wellformed__rss__entity_in_doctype.xml"
    loopback.route(
        "/feed.xml", Response(body=raw.read_bytes(), headers={"content-type": "text/xml"})
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.cli import main; main()",
            "feeds",
            "check",
            loopback.url("/feed.xml"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert one_line(proc.stderr).startswith("error: ") and "DOCTYPE" in proc.stderr
    assert proc.stdout == ""
