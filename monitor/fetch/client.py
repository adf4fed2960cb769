"""Fetch stage: every download Pantau makes goes through :class:`Fetcher`.

One hardened GET per call: the network guard on every hop (see :mod:`monitor.fetch.netguard`),
conditional requests (ETag / Last-Modified), redirects followed by hand, a cap on the
*decompressed* body, and one overall deadline around all of it (DNS, connect, redirects, body),
because httpx's read timeout is per chunk and a server dripping one byte a second never trips it.

Failures come out as :class:`monitor.errors.FetchError` subclasses with operator-readable
messages; nothing from httpx leaks to the caller.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType

import httpcore
import httpx

from monitor import __version__
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
    error_chain,
)
from monitor.fetch.headers import conditional_headers, media_type, parse_retry_after
from monitor.fetch.hostlimit import HostLimiter
from monitor.fetch.netguard import PinnedBackend, Resolver, check_host, pinned_addresses
from monitor.models import FetchResult

USER_AGENT = f"Pantau/{__version__} (+https://github.com/pantau; news monitor)"

# "" stands for a response without Content-Type. Feeds: many servers label RSS as text/plain or
# application/octet-stream (or nothing), and the parser sniffs the bytes anyway, so those pass.
# text/html does not: an HTML page where a feed was expected is usually an error or login page.
FEED_TYPES: frozenset[str] = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/x-rss+xml",
        "text/plain",
        "application/octet-stream",
        "",
    }
)
ARTICLE_TYPES: frozenset[str] = frozenset({"text/html", "application/xhtml+xml", ""})

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one fetch. The defaults suit public news sites."""

    total_timeout: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        for name in ("total_timeout", "connect_timeout", "read_timeout", "max_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(
                    f"fetch policy: {name} must be positive, got {getattr(self, name)}"
                )
        if self.max_redirects < 0:
            raise ConfigError(
                f"fetch policy: max_redirects must be 0 or more, got {self.max_redirects}"
            )


# --- bounded decompression ---------------------------------------------------------------------


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Inflate:
    """zlib/gzip decoder that never produces more than ``room + 1`` bytes per call, so a
    compression bomb costs at most the cap in memory (httpx's own decoder inflates a whole
    network chunk at once: 64 KiB of zeros becomes ~64 MiB)."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._z = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._z.decompress(data, room + 1)
        except zlib.error:
            if not self._raw_fallback or self._started:
                raise
            # "deflate" servers often send a raw deflate stream without the zlib header.
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._z.decompress(data, room + 1)
        self._started = True
        # Fewer than room + 1 bytes out means all input was consumed; exactly room + 1 means
        # the cap is exceeded and the caller stops here, leaving the rest undecoded.
        return out

    def flush(self) -> bytes:
        return self._z.flush()


_Decoder = _Identity | _Inflate


def _decoder_for(content_encoding: str, url: str) -> _Decoder:
    codings = [
        c for c in (t.strip().lower() for t in content_encoding.split(",")) if c and c != "identity"
    ]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        raise UnsupportedContentError(
            f"{url} was sent with stacked encodings ({content_encoding}); Pantau does not "
            "decode those",
            url=url,
        )
    coding = codings[0]
    if coding in ("gzip", "x-gzip"):
        return _Inflate(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return _Inflate(zlib.MAX_WBITS, raw_fallback=True)
    if coding in ("br", "zstd", "compress", "x-compress"):
        raise UnsupportedContentError(
            f"{url} was sent {coding}-compressed although Pantau only asked for gzip or deflate",
            url=url,
        )
    return _Identity()  # nonsense such as "utf-8": browsers and httpx treat it as identity


# --- the fetcher -------------------------------------------------------------------------------


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connections go only to addresses the guard vetted.

    httpx has no public hook for the network backend, so the pool it built is replaced by an
    identical one using :class:`PinnedBackend` (``_pool`` has been stable since httpx 0.18).
    """

    def __init__(self, *, max_connections: int, max_keepalive: int) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=5.0,
            network_backend=PinnedBackend(),
        )


class Fetcher:
    """Downloads URLs under a :class:`FetchPolicy`. Use as ``async with Fetcher(policy) as f``.

    ``resolver`` replaces the system DNS lookup (tests map names to 127.0.0.1 with it).
    ``limiter``: every fetch first waits for a slot on its host (the daemon's politeness); the
    wait is not part of the fetch's deadline.
    """

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        limiter: HostLimiter | None = None,
        max_connections: int = 20,
        max_keepalive: int = 10,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self.limiter = limiter
        self._resolver = resolver
        p = self.policy
        # trust_env=False: an HTTP(S)_PROXY from the environment would connect on our behalf to
        # whatever it resolves, bypassing the guard and the address pinning.
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(
                max_connections=max_connections, max_keepalive=max_keepalive
            ),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(
                connect=p.connect_timeout,
                read=p.read_timeout,
                write=p.read_timeout,
                pool=p.connect_timeout,
            ),
            headers={"User-Agent": p.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    async def __aenter__(self) -> Fetcher:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self._client.aclose()

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
        """GET ``url`` and return its body, or raise a FetchError subclass.

        ``trusted``: the operator configured this exact URL, so its first hop may reach a
        private address. Every redirect is vetted, also one back to the same host: it may
        land only on a public address or on an address that host had at the first hop.
        ``allowed_types``: accepted media types (e.g. FEED_TYPES); others raise
        UnsupportedContentError before the body is read.
        """
        headers = {"Accept": accept or "*/*", **conditional_headers(etag, last_modified)}
        if self.limiter is None:
            return await self._fetch(url, headers, trusted, allowed_types)
        async with self.limiter.slot(url):
            return await self._fetch(url, headers, trusted, allowed_types)

    async def _fetch(
        self,
        url: str,
        headers: dict[str, str],
        trusted: bool,
        allowed_types: frozenset[str] | None,
    ) -> FetchResult:
        """One fetch under the overall deadline."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(self.policy.total_timeout):
                result = await self._follow(url, headers, trusted, allowed_types)
        except FetchError as exc:
            exc.url = url  # callers key back-off by the URL they asked for, not the last hop
            raise
        except TimeoutError:
            raise FetchTimeoutError(
                f"gave up on {url} after {self.policy.total_timeout:g} s (the deadline covers "
                "DNS, connecting, redirects and the whole body); the server is too slow or "
                "is trickling the response",
                url=url,
            ) from None
        return replace(result, elapsed=loop.time() - started)

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        trusted: bool,
        allowed_types: frozenset[str] | None,
    ) -> FetchResult:
        current = _parse_url(url, url)
        trusted_host = current.raw_host if trusted else None
        # The configured feed's own addresses as resolved at its first hop: a redirect back to
        # that host is still vetted (DNS may answer differently by then), and may land only on
        # a public address or on one of these.
        accepted: frozenset[str] = frozenset()
        chain = [str(current)]
        for hop in range(self.policy.max_redirects + 1):
            first_trusted = trusted and hop == 0
            same_host = trusted_host is not None and current.raw_host == trusted_host
            outcome, addresses = await self._hop(
                url,
                current,
                headers,
                None if first_trusted else (accepted if same_host else frozenset()),
                allowed_types,
            )
            if first_trusted:
                accepted = frozenset(addresses)
            if isinstance(outcome, FetchResult):
                return outcome
            current = outcome
            if str(current) in chain:
                loop = " -> ".join([*chain[chain.index(str(current)) :], str(current)])
                raise TooManyRedirectsError(f"redirect loop: {loop}", url=url)
            chain.append(str(current))
        raise TooManyRedirectsError(
            f"{url} redirected more than {self.policy.max_redirects} times ({' -> '.join(chain)})",
            url=url,
        )

    async def _hop(
        self,
        original: str,
        target: httpx.URL,
        headers: dict[str, str],
        accepted: frozenset[str] | None,
        allowed_types: frozenset[str] | None,
    ) -> tuple[FetchResult | httpx.URL, list[str]]:
        """One request: vet the host, send, and return the result or the next URL, with the
        addresses vetted. ``accepted``: addresses allowed even if not public (None: any, for
        the first hop of a URL the operator configured)."""
        host = target.raw_host.decode("ascii")
        port = target.port or _DEFAULT_PORTS[target.scheme]
        try:
            addresses = await check_host(
                host,
                port,
                allow_private=self.policy.allow_private or accepted is None,
                accepted=accepted or frozenset(),
                resolver=self._resolver,
            )
        except (BlockedAddressError, NetworkError) as exc:
            via = "" if str(target) == original else f", reached by redirect from {original}"
            raise type(exc)(f"{exc.message} [{target}{via}]", url=original) from exc
        try:
            with pinned_addresses(host, port, addresses):
                async with self._client.stream("GET", target, headers=headers) as response:
                    if response.status_code in _REDIRECT_STATUSES and "location" in (
                        response.headers
                    ):
                        location = _join(target, response.headers["location"])
                        return _parse_url(location, original), addresses
                    result = await self._result(original, target, response, allowed_types)
                    return result, addresses
        except httpx.TransportError as exc:
            raise _transport_error(exc, str(target), f"{host}:{port}", self.policy) from exc

    async def _result(
        self,
        original: str,
        target: httpx.URL,
        response: httpx.Response,
        allowed_types: frozenset[str] | None,
    ) -> FetchResult:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        url = str(target)
        if status == 304:
            return FetchResult(original, url, 304, b"", headers)
        if not 200 <= status < 300:
            raise _status_error(url, response)
        if allowed_types is not None:
            kind = media_type(headers.get("content-type"))
            if kind not in allowed_types:
                raise UnsupportedContentError(
                    f"{url} is {kind or 'untyped'}, not one of the types this stage reads "
                    f"({', '.join(sorted(t for t in allowed_types if t))})",
                    url=url,
                )
        body = await self._read_body(url, response)
        return FetchResult(original, url, status, body, headers)

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        cap = self.policy.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(url, cap, f"it declares Content-Length {declared}")
        decoder = _decoder_for(response.headers.get("content-encoding", ""), url)
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                body += decoder.feed(chunk, cap - len(body))
                if len(body) > cap:
                    raise _too_large(url, cap, "stopped reading at the cap")
            body += decoder.flush()
        except zlib.error as exc:
            raise NetworkError(f"the compressed body of {url} is corrupt ({exc})", url=url) from exc
        if len(body) > cap:
            raise _too_large(url, cap, "stopped reading at the cap")
        return bytes(body)


# --- small helpers -----------------------------------------------------------------------------


def _parse_url(url: str, original: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}", url=original, transient=False) from exc
    if parsed.scheme not in _DEFAULT_PORTS:
        raise BlockedAddressError(
            f"refused {url}: only http and https URLs are fetched (got {parsed.scheme or 'none'}:)",
            url=original,
        )
    if not parsed.raw_host:
        raise FetchError(f"invalid URL {url!r}: no host name", url=original, transient=False)
    return parsed.copy_with(fragment=None)


def _join(base: httpx.URL, location: str) -> str:
    try:
        return str(base.join(location.strip()))
    except httpx.InvalidURL as exc:
        raise FetchError(
            f"{base} redirected to an invalid Location {location!r}", url=str(base), transient=False
        ) from exc


def _too_large(url: str, cap: int, how: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{url} is larger than the {cap:,}-byte limit after decompression ({how}); raise "
        "max_bytes if this source is legitimately that big",
        url=url,
    )


def _status_error(url: str, response: httpx.Response) -> HTTPStatusError:
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    words = f"{url} answered HTTP {status} {response.reason_phrase}".rstrip()
    if retry_after is not None:
        words += f"; the server asks to retry after {retry_after:g} s"
    return HTTPStatusError(
        words,
        url=url,
        status=status,
        retry_after=retry_after,
    )


def _transport_error(
    exc: httpx.TransportError, url: str, where: str, policy: FetchPolicy
) -> FetchError:
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchTimeoutError(
            f"could not connect to {where} within {policy.connect_timeout:g} s", url=url
        )
    if isinstance(exc, httpx.TimeoutException):
        return FetchTimeoutError(
            f"{where} sent nothing for {policy.read_timeout:g} s while fetching {url}", url=url
        )
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(f"{_connect_words(exc, where)} (fetching {url})", url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(f"{where} broke off the response to {url}: {exc}", url=url)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return NetworkError(f"connection to {where} was reset while fetching {url}", url=url)
    return NetworkError(f"network error talking to {where} for {url}: {exc}", url=url)


def _connect_words(exc: BaseException, where: str) -> str:
    for cause in error_chain(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS handshake failed with {where}: certificate {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed with {where}: {cause.reason or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {where} (nothing is listening there)"
    text = str(exc)
    if "refused" in text.lower():
        return f"connection refused by {where} (nothing is listening there)"
    return f"could not connect to {where}: {text or type(exc).__name__}"
