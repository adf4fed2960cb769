"""Network guard: Pantau only talks to public internet addresses unless told otherwise.

A feed or an article link is untrusted input. Without a guard a hostile page could redirect the
fetcher to the cloud metadata service (169.254.169.254), the database on 10.0.0.5 or an admin
panel on localhost (server-side request forgery). So every hop is vetted on the *resolved*
addresses, and the connection is then made to exactly the address that was vetted:
:class:`PinnedBackend` never resolves a name itself, which closes the DNS-rebinding gap between
"checked" and "connected".

Only this module decides what counts as private; the fetch stage calls :func:`check_host` and
:func:`pinned_addresses` per hop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

import httpcore

from monitor.errors import BlockedAddressError, NetworkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Turns (host, port) into IP address strings; raises socket.gaierror when the name is unknown."""

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def blocked_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` is not a public internet address, or None when it is.

    IPv6 forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64) are
    judged by the IPv4 address inside, so ``::ffff:127.0.0.1`` is loopback.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return blocked_reason(ip.ipv4_mapped)
        if ip in _NAT64:
            # DNS64 on an IPv6-only host synthesises these for every IPv4-only site.
            reason = blocked_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
            return None if reason is None else f"{reason} (embedded in {ip})"
        if ip.sixtofour is not None and (reason := blocked_reason(ip.sixtofour)) is not None:
            return f"{reason} (embedded in {ip})"
    return _reason(ip)


def _reason(ip: IPAddress) -> str | None:
    # Order matters: the most specific, most recognisable word first for the operator.
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT (shared)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Resolve with the operating system's resolver, off the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def check_host(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> list[str]:
    """Resolve ``host`` and return its addresses, refusing if ANY of them is not public.

    Refusing on any (not all) address matters: a name that resolves to one public and one
    private address would otherwise let the connection land on the private one.
    Raises BlockedAddressError (unless ``allow_private``) or NetworkError when DNS fails.
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
