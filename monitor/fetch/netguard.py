"""Network guard: Pantau only talks to public internet addresses unless told otherwise.

A feed or an article link is untrusted input. Without a guard a hostile page could redirect the
fetcher to the cloud metadata service (169.254.169.254), the database on 10.0.0.5 or an admin
panel on localhost (server-side request forgery). So every hop is vetted on the *resolved*
addresses, and the connection is then made to exactly the address that was vetted:
:class:`PinnedBackend` never resolves a name itself, which closes the DNS-rebinding gap between
"checked" and "connected".

Only this module decides what counts as private (an explicit table, :data:`REFUSED_NETWORKS`);
the fetch stage calls :func:`check_host` and :func:`pinned_addresses` per hop, redirects back
to a configured feed's own host included.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

import httpcore

from monitor.errors import BlockedAddressError, NetworkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Turns (host, port) into IP address strings; raises socket.gaierror when the name is unknown."""

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# The IANA special-purpose address registries (IPv4 and IPv6), written out rather than left to
# ``ipaddress``'s is_global, which in Python 3.11 lets fec0::/10, 192.0.0.0/24 and others
# through. First match wins, so a more specific entry comes before the block holding it.
REFUSED_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified ('this network')"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (shared)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignment"),
    (_V4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_V4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "reserved (deprecated IPv4-compatible form)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2001::/23"), "IETF protocol assignment"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("5f00::/16"), "segment routing (SRv6)"),
    (_V6("fc00::/7"), "private (unique local)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)
# Inside 2001::/23, the registry marks these globally reachable (anycast services, AMT,
# AS112, ORCHIDv2, DRIP); Teredo (2001::/32), benchmarking and the rest stay refused.
GLOBAL_EXCEPTIONS: tuple[ipaddress.IPv6Network, ...] = (
    _V6("2001:1::1/128"),
    _V6("2001:1::2/128"),
    _V6("2001:1::3/128"),
    _V6("2001:3::/32"),
    _V6("2001:4:112::/48"),
    _V6("2001:20::/28"),
    _V6("2001:30::/28"),
)
_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")


def blocked_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is.

    Judged by :data:`REFUSED_NETWORKS`. IPv6 forms that embed an IPv4 address (IPv4-mapped
    ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the IPv4
    address inside, so ``::ffff:127.0.0.1`` is loopback.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _MAPPED:
            return blocked_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip in _NAT64:
            # DNS64 on an IPv6-only host synthesises these for every IPv4-only site.
            reason = blocked_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return None if reason is None else f"{reason} (embedded in {ip})"
        if ip in _SIX_TO_FOUR:
            embedded = ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
            reason = blocked_reason(embedded)
            return None if reason is None else f"{reason} (embedded in {ip})"
        if any(ip in net for net in GLOBAL_EXCEPTIONS):
            return None
    return _reason(ip)


def _reason(ip: IPAddress) -> str | None:
    for network, reason in REFUSED_NETWORKS:
        if ip.version == network.version and ip in network:
            return reason
    if not ip.is_global:  # a backstop for anything the registries add later
        return "non-public"
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Resolve with the operating system's resolver, off the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def check_host(
    host: str,
    port: int,
    *,
    allow_private: bool,
    accepted: Collection[str] = (),
    resolver: Resolver | None = None,
) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing if ANY of them is not public.

    Refusing on any (not all) address matters: a name that resolves to one public and one
    private address would otherwise let the connection land on the private one.
    ``accepted``: addresses let through although not public (a configured feed's own, as its
    first hop resolved them). Raises BlockedAddressError (unless ``allow_private``) or
    NetworkError when DNS fails.
    The caller owns the deadline; resolution is awaited, never blocking the loop.
    """
    if not host:
        raise NetworkError("the URL has no host name")
    try:
        resolved = await (resolver or system_resolve)(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise NetworkError(f"DNS lookup failed for host {host}: {_gai_words(exc)}") from exc
    addresses = list(dict.fromkeys(resolved))
    if not addresses:
        raise NetworkError(f"DNS lookup failed for host {host}: no addresses returned")
    if allow_private:
        return addresses
    for address in addresses:
        if address in accepted:
            continue
        reason = blocked_reason(address)
        if reason is not None:
            shown = host if host == address else f"{host} (resolves to {address})"
            raise BlockedAddressError(
                f"refused to connect to {shown}: it is a {reason} address, not the public "
                "internet. Pantau blocks these to stop links and redirects from reaching "
                "internal services; list the feed URL in the config (trusted) or enable "
                "allow_private if this source really lives on your network."
            )
    return addresses


def _gai_words(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror) and exc.errno in (socket.EAI_NONAME, socket.EAI_NODATA):
        return "no such host"
    if isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN:
        return "temporary DNS failure, will retry"
    return str(exc) or type(exc).__name__


# --- connecting only to vetted addresses -------------------------------------------------------

_Pins = Mapping[tuple[str, int], tuple[str, ...]]

# Task-local, not global: each fetch runs in its own task (or awaits its hops in sequence) and
# sets the pins for the hop it is about to send; httpcore opens connections inside that task.
_PINNED: ContextVar[_Pins] = ContextVar("pantau_pinned_addresses", default=MappingProxyType({}))


@contextmanager
def pinned_addresses(host: str, port: int, addresses: Iterable[str]) -> Iterator[None]:
    """Within the block, connections to ``host:port`` go to ``addresses`` (already vetted)."""
    pins = {**_PINNED.get(), (host.lower(), port): tuple(addresses)}
    token = _PINNED.set(MappingProxyType(pins))
    try:
        yield
    finally:
        _PINNED.reset(token)


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects to the pinned address instead of resolving.

    A name without a pin is refused (fail closed): every connection must have been vetted by
    :func:`check_host` in the same task. TLS still verifies the certificate against the host
    name, because httpcore passes the URL's host as server_hostname, not the address.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = _PINNED.get().get((host.lower(), port))
        if not addresses:
            raise httpcore.ConnectError(
                f"refusing to connect to {host}:{port}: its address was not vetted first"
            )
        last: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Pantau does not fetch over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
