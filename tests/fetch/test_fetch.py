"""The fetch stage against real servers on 127.0.0.1.

Special behaviours (drips, bombs, resets) are written by hand through the loopback server's
raw handler. A process audit hook records every socket connect and DNS lookup, which lets tests
prove that refused targets were never contacted, and stops any test from reaching a
non-loopback address by accident.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket
import struct
import sys
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from monitor.errors import (
    BlockedAddressError,
    ConfigError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    NetworkError,
    ResponseTooLargeError,
    TooManyRedirectsError,
    UnsupportedContentError,
)
from monitor.fetch.client import ARTICLE_TYPES, FEED_TYPES, USER_AGENT, Fetcher, FetchPolicy
from monitor.fetch.headers import parse_max_age, parse_retry_after
from monitor.fetch.hostlimit import HostLimiter
from monitor.models import FetchResult
from tests.loopback import LoopbackServer, Request, Response, serve

LOCAL = FetchPolicy(allow_private=True)


# --- network recorder --------------------------------------------------------------------------


@dataclass
class _NetRecorder:
    """Audit hook: records connects and lookups while active; refuses connects beyond loopback
    and DNS lookups of real names, so no test can send traffic off this machine."""

    active: bool = False
    connects: list[str] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "socket.connect" and isinstance(args[1], tuple):
            host = str(args[1][0])
            self.connects.append(host)
            if host not in ("127.0.0.1", "::1"):
                raise PermissionError(f"test tried to reach {host}")
        elif event == "socket.getaddrinfo":
            host = str(args[0])
            self.lookups.append(host)
            if host != "localhost" and not _is_ip_literal(host):
                raise PermissionError(f"test tried to look up {host} in DNS")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


_RECORDER = _NetRecorder()
sys.addaudithook(_RECORDER)  # hooks cannot be removed; inactive outside the `network` fixture


@pytest.fixture
def network() -> Iterator[_NetRecorder]:
    _RECORDER.connects.clear()
    _RECORDER.lookups.clear()
    _RECORDER.active = True
    try:
        yield _RECORDER
    finally:
        _RECORDER.active = False


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[LoopbackServer]:
    with serve() as server:
        # Clients here often hang up mid-response on purpose; the idle handler then reads a
        # reset socket and socketserver would print that traceback to stderr.
        assert server._server is not None
        server._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        yield server


@pytest.fixture
def loopback(_shared_server: LoopbackServer) -> LoopbackServer:
    """One server for the module (stopping one costs half a second), fresh routes per test."""
    _shared_server.routes.clear()
    with _shared_server._lock:
        _shared_server.requests.clear()
    return _shared_server


async def fetch(url: str, policy: FetchPolicy = LOCAL, **kwargs: Any) -> FetchResult:
    async with Fetcher(policy) as fetcher:
        return await fetcher.fetch(url, **kwargs)


@dataclass
class _Progress:
    sent: int = 0
    finished: bool = False
    done: threading.Event = field(default_factory=threading.Event)


def _streaming_route(
    loopback: LoopbackServer, chunks: Iterator[bytes], headers: dict[str, str], progress: _Progress
) -> None:
    """Writes a body of unknown length chunk by chunk until done or the client hangs up."""
    handler = loopback.handler()
    try:
        handler.send_response(200)
        for name, value in {**headers, "Connection": "close"}.items():
            handler.send_header(name, value)
        handler.end_headers()
        for chunk in chunks:
            handler.wfile.write(chunk)
            progress.sent += len(chunk)
        progress.finished = True
    except OSError:
        pass
    finally:
        progress.done.set()


def _gzip_of_zeros(total: int) -> Iterator[bytes]:
    """A gzip stream of ``total`` zero bytes (multiple of 1 MiB), made lazily and cheaply.

    After a full flush deflate forgets its window, so every further MiB of zeros compresses to
    the very same bytes: compress two blocks, then repeat the second one.
    """
    block = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    yield comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    repeated = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    for _ in range(total // len(block) - 1):
        yield repeated
    crc = 0
    for _ in range(total // len(block)):
        crc = zlib.crc32(block, crc)
    yield b"\x03\x00" + struct.pack("<II", crc, total & 0xFFFFFFFF)  # empty final block + trailer


# --- plain success -----------------------------------------------------------------------------


async def test_returns_body_and_lower_cased_caching_headers(
    loopback: LoopbackServer, network: _NetRecorder
) -> None:
    loopback.route(
        "/feed",
        Response(
            200,
            b"<rss/>",
            {
                "Content-Type": "application/rss+xml; charset=utf-8",
                "ETag": '"v1"',
                "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT",
                "Cache-Control": "max-age=300",
            },
        ),
    )

    result = await fetch(loopback.url("/feed"), allowed_types=FEED_TYPES)

    assert (result.status, result.content) == (200, b"<rss/>")
    assert result.final_url == result.url == loopback.url("/feed")
    assert result.headers["etag"] == '"v1"'
    assert result.headers["last-modified"] == "Wed, 01 May 2024 10:00:00 GMT"
    assert parse_max_age(result.headers["cache-control"]) == 300
    assert result.content_type == "application/rss+xml"
    assert result.elapsed > 0
    sent = loopback.requests_for("/feed")[0].headers
    assert sent["user-agent"] == USER_AGENT
    assert sent["accept-encoding"] == "gzip, deflate"


async def test_conditional_get_sends_validators_and_304_has_no_body(
    loopback: LoopbackServer,
) -> None:
    def feed(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, headers={"ETag": '"v1"'})
        return Response(200, b"<rss/>", {"ETag": '"v1"'})

    loopback.route("/feed", feed)

    result = await fetch(
        loopback.url("/feed"), etag='"v1"', last_modified="Wed, 01 May 2024 10:00:00 GMT"
    )

    assert result.not_modified
    assert result.content == b""
    assert result.headers["etag"] == '"v1"'
    sent = loopback.requests_for("/feed")[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Wed, 01 May 2024 10:00:00 GMT"


async def test_gzip_and_raw_deflate_bodies_are_decompressed(loopback: LoopbackServer) -> None:
    text = "Presiden bertemu Sekjen NATO. " * 2000
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    loopback.route(
        "/gz",
        Response(200, b"".join(_gzip_of_zeros(4 << 20)), {"Content-Encoding": "gzip"}),
    )
    loopback.route(
        "/deflate",
        Response(
            200,
            raw_deflate.compress(text.encode()) + raw_deflate.flush(),
            {"Content-Encoding": "deflate"},
        ),
    )

    assert (await fetch(loopback.url("/gz"))).content == bytes(4 << 20)
    assert (await fetch(loopback.url("/deflate"))).content == text.encode()


# --- the network guard -------------------------------------------------------------------------


async def test_loopback_target_is_refused_unless_allowed_or_trusted(
    loopback: LoopbackServer,
) -> None:
    loopback.route("/page", Response(200, b"internal"))

    with pytest.raises(BlockedAddressError, match="loopback"):
        await fetch(loopback.url("/page"), FetchPolicy())
    assert loopback.requests == []

    assert (await fetch(loopback.url("/page"), FetchPolicy(), trusted=True)).content == b"internal"
    assert (await fetch(loopback.url("/page"), LOCAL)).content == b"internal"


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://[::1]:{port}/page",
        "http://localhost:{port}/page",
        "http://[::ffff:127.0.0.1]:{port}/page",
        "http://0.0.0.0:{port}/page",
    ],
)
async def test_redirect_from_trusted_feed_to_internal_address_is_refused_before_connecting(
    loopback: LoopbackServer, network: _NetRecorder, location: str
) -> None:
    location = location.format(port=loopback.port)
    loopback.route("/feed", Response(302, headers={"Location": location}))
    loopback.route("/page", Response(200, b"secret"))

    with pytest.raises(BlockedAddressError) as caught:
        await fetch(loopback.url("/feed"), FetchPolicy(), trusted=True)

    assert not caught.value.transient
    assert [r.path for r in loopback.requests] == ["/feed"]
    assert network.connects == ["127.0.0.1"]  # the trusted feed only, nothing after the redirect


async def test_connection_goes_to_the_vetted_address_without_a_second_lookup(
    loopback: LoopbackServer, network: _NetRecorder
) -> None:
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    loopback.route("/page", Response(200, b"ok", {"Content-Type": "text/html"}))
    url = f"http://berita.example:{loopback.port}/page"

    async with Fetcher(LOCAL, resolver=resolver) as fetcher:
        result = await fetcher.fetch(url, allowed_types=ARTICLE_TYPES)

    assert result.content == b"ok"
    assert lookups == ["berita.example"]
    assert "berita.example" not in network.lookups  # the socket layer never resolved it again
    assert loopback.requests[0].headers["host"] == f"berita.example:{loopback.port}"


async def test_name_with_any_private_address_is_refused(network: _NetRecorder) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.1.2.3"]

    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError, match=r"10\.1\.2\.3"):
            await fetcher.fetch("http://split.example/")
    assert network.connects == []


async def test_dns_failure_names_the_host() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        with pytest.raises(NetworkError, match=r"DNS lookup failed for host nowhere\.example"):
            await fetcher.fetch("https://nowhere.example/rss")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1/"]
)
async def test_non_http_schemes_are_refused_even_when_trusted(url: str) -> None:
    with pytest.raises(BlockedAddressError, match="only http and https"):
        await fetch(url, LOCAL, trusted=True)


async def test_redirect_to_file_scheme_is_refused(loopback: LoopbackServer) -> None:
    loopback.route("/go", Response(301, headers={"Location": "file:///etc/passwd"}))

    with pytest.raises(BlockedAddressError, match="only http and https"):
        await fetch(loopback.url("/go"))


# --- redirects ---------------------------------------------------------------------------------


async def test_relative_redirect_within_trusted_host_is_followed(loopback: LoopbackServer) -> None:
    loopback.route("/old/feed", Response(301, headers={"Location": "../new/feed"}))
    loopback.route("/new/feed", Response(200, b"<rss/>"))

    result = await fetch(loopback.url("/old/feed"), FetchPolicy(), trusted=True)

    assert result.content == b"<rss/>"
    assert result.url == loopback.url("/old/feed")
    assert result.final_url == loopback.url("/new/feed")


async def test_redirect_loop_is_reported(loopback: LoopbackServer) -> None:
    loopback.route("/a", Response(302, headers={"Location": "/b"}))
    loopback.route("/b", Response(307, headers={"Location": "/a"}))

    with pytest.raises(TooManyRedirectsError, match="loop"):
        await fetch(loopback.url("/a"))
    assert len(loopback.requests) == 2


async def test_redirect_chain_longer_than_limit_is_refused(loopback: LoopbackServer) -> None:
    for i in range(10):
        loopback.route(f"/r{i}", Response(302, headers={"Location": f"/r{i + 1}"}))
    loopback.route("/r10", Response(200, b"end"))

    with pytest.raises(TooManyRedirectsError, match="more than 3"):
        await fetch(loopback.url("/r0"), FetchPolicy(allow_private=True, max_redirects=3))
    assert len(loopback.requests) == 4

    relaxed = FetchPolicy(allow_private=True, max_redirects=10)
    assert (await fetch(loopback.url("/r0"), relaxed)).final_url == loopback.url("/r10")


# --- size caps ---------------------------------------------------------------------------------


async def test_body_over_cap_stops_reading_and_cuts_the_server_off(
    loopback: LoopbackServer,
) -> None:
    progress = _Progress()
    total = 64 << 20
    chunk = b"x" * (64 << 10)
    loopback.route(
        "/huge",
        lambda _: _streaming_route(loopback, iter([chunk] * (total // len(chunk))), {}, progress),
    )

    with pytest.raises(ResponseTooLargeError, match="262,144-byte limit"):
        await fetch(loopback.url("/huge"), FetchPolicy(allow_private=True, max_bytes=256 << 10))

    assert progress.done.wait(10)
    assert not progress.finished
    assert progress.sent < total


async def test_declared_content_length_over_cap_is_refused_before_reading(
    loopback: LoopbackServer,
) -> None:
    loopback.route("/big", Response(200, b"y" * 5000))

    with pytest.raises(ResponseTooLargeError, match="Content-Length 5000"):
        await fetch(loopback.url("/big"), FetchPolicy(allow_private=True, max_bytes=1000))


async def test_gzip_bomb_stops_at_decompressed_cap_with_bounded_memory(
    loopback: LoopbackServer,
) -> None:
    progress = _Progress()
    loopback.route(
        "/bomb",
        lambda _: _streaming_route(
            loopback, _gzip_of_zeros(1 << 30), {"Content-Encoding": "gzip"}, progress
        ),
    )
    cap = 1 << 20

    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            await fetch(loopback.url("/bomb"), FetchPolicy(allow_private=True, max_bytes=cap))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 16 * cap  # 1 GiB would have been inflated without the cap
    assert progress.done.wait(10)
    assert not progress.finished


# --- deadlines and broken connections ----------------------------------------------------------


async def test_slow_drip_is_stopped_by_the_overall_deadline(loopback: LoopbackServer) -> None:
    stop = threading.Event()

    def drip(_: Request) -> None:
        handler = loopback.handler()
        handler.send_response(200)
        handler.send_header("Content-Length", "60")
        handler.end_headers()
        try:
            while not stop.wait(1.0):  # one byte a second: never idle long enough to time out
                handler.wfile.write(b".")
        except OSError:
            pass

    loopback.route("/drip", drip)
    policy = FetchPolicy(allow_private=True, total_timeout=2, read_timeout=15)

    try:
        with pytest.raises(FetchTimeoutError, match="after 2 s") as caught:
            await fetch(loopback.url("/drip"), policy)
    finally:
        stop.set()
    assert caught.value.transient


async def test_connection_refused_is_a_transient_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(NetworkError, match="connection refused") as caught:
        await fetch(f"http://127.0.0.1:{port}/rss")
    assert caught.value.transient


async def test_tls_to_a_plain_http_server_reports_handshake_failure(
    loopback: LoopbackServer,
) -> None:
    with pytest.raises(NetworkError, match="TLS handshake failed"):
        await fetch(f"https://127.0.0.1:{loopback.port}/")


async def test_connection_reset_mid_body_is_a_network_error(loopback: LoopbackServer) -> None:
    def reset(_: Request) -> None:
        handler = loopback.handler()
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(b"partial")
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True

    loopback.route("/reset", reset)

    with pytest.raises(NetworkError) as caught:
        await fetch(loopback.url("/reset"))
    assert caught.value.transient


# --- status codes and content types ------------------------------------------------------------


async def test_429_carries_retry_after_seconds(loopback: LoopbackServer) -> None:
    loopback.route("/rss", Response(429, b"slow down", {"Retry-After": "120"}))

    with pytest.raises(HTTPStatusError) as caught:
        await fetch(loopback.url("/rss"))

    assert caught.value.status == 429
    assert caught.value.retry_after == 120.0
    assert caught.value.transient


async def test_503_carries_retry_after_http_date(loopback: LoopbackServer) -> None:
    later = datetime.now(UTC) + timedelta(seconds=600)
    loopback.route("/rss", Response(503, headers={"Retry-After": format_datetime(later, True)}))

    with pytest.raises(HTTPStatusError) as caught:
        await fetch(loopback.url("/rss"))

    assert caught.value.retry_after is not None
    assert 500 < caught.value.retry_after <= 600


@pytest.mark.parametrize(("status", "transient"), [(500, True), (502, True), (404, False)])
async def test_error_status_says_whether_a_retry_can_help(
    loopback: LoopbackServer, status: int, transient: bool
) -> None:
    loopback.route("/rss", Response(status, b"nope"))

    with pytest.raises(HTTPStatusError) as caught:
        await fetch(loopback.url("/rss"))

    assert caught.value.status == status
    assert caught.value.transient is transient
    assert caught.value.retry_after is None


@pytest.mark.parametrize("content_type", ["application/pdf", "image/jpeg", "application/json"])
async def test_article_fetch_refuses_non_html(loopback: LoopbackServer, content_type: str) -> None:
    loopback.route("/doc", Response(200, b"%PDF-1.7", {"Content-Type": content_type}))

    with pytest.raises(UnsupportedContentError, match=content_type) as caught:
        await fetch(loopback.url("/doc"), allowed_types=ARTICLE_TYPES)
    assert not caught.value.transient


@pytest.mark.parametrize(
    ("allowed", "content_type"),
    [
        (ARTICLE_TYPES, "text/html; charset=UTF-8"),
        (ARTICLE_TYPES, None),
        (FEED_TYPES, "text/xml"),
        (FEED_TYPES, "text/plain"),
        (FEED_TYPES, "application/octet-stream"),
        (FEED_TYPES, None),
    ],
)
async def test_expected_and_commonly_misconfigured_types_are_accepted(
    loopback: LoopbackServer, allowed: frozenset[str], content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    loopback.route("/x", Response(200, b"<x/>", headers))

    assert (await fetch(loopback.url("/x"), allowed_types=allowed)).content == b"<x/>"


async def test_feed_fetch_refuses_html_page(loopback: LoopbackServer) -> None:
    loopback.route("/rss", Response(200, b"<html>login</html>", {"Content-Type": "text/html"}))

    with pytest.raises(UnsupportedContentError, match="text/html"):
        await fetch(loopback.url("/rss"), allowed_types=FEED_TYPES)


async def test_one_fetcher_serves_concurrent_fetches(loopback: LoopbackServer) -> None:
    for i in range(8):
        loopback.route(f"/p{i}", Response(200, f"page {i}".encode()))

    async with Fetcher(LOCAL) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(loopback.url(f"/p{i}")) for i in range(8)))

    assert [r.content for r in results] == [f"page {i}".encode() for i in range(8)]


async def test_a_host_limiter_spaces_the_fetchers_requests_to_one_host(
    loopback: LoopbackServer,
) -> None:
    loopback.route("/a", Response(200, b"a"))
    limiter = HostLimiter(per_host=1, min_delay=0.1)

    async with Fetcher(LOCAL, limiter=limiter) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(loopback.url("/a")) for _ in range(3)))

    starts = [r.at for r in loopback.requests_for("/a")]
    assert all(later - earlier >= 0.09 for earlier, later in itertools.pairwise(starts))
    # The last fetch waited 0.2 s for its slot; that wait is not part of its elapsed time.
    assert max(r.elapsed for r in results) < 0.18


# --- pure helpers ------------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Wed, 01 May 2024 10:02:00 GMT", 120.0),
        ("Wed, 01 May 2024 09:00:00 GMT", 0.0),  # in the past: retry now
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=300", 300),
        ("public, MAX-AGE=60, must-revalidate", 60),
        ('max-age="90"', 90),
        ("s-maxage=600", None),
        ("no-cache", None),
        ("max-age=soon", None),
        (None, None),
    ],
)
def test_parse_max_age(value: str | None, expected: int | None) -> None:
    assert parse_max_age(value) == expected


async def test_url_without_host_is_a_permanent_fetch_error() -> None:
    with pytest.raises(FetchError) as caught:
        await fetch("http:///feed")
    assert not caught.value.transient


@pytest.mark.parametrize(
    "overrides",
    [{"total_timeout": 0}, {"max_bytes": -1}, {"max_redirects": -1}, {"read_timeout": 0}],
)
def test_nonsensical_policy_is_a_config_error(overrides: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        FetchPolicy(**overrides)  # type: ignore[arg-type]
