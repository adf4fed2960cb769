"""Which addresses the network guard lets Pantau reach, and how it connects to them."""

from __future__ import annotations

import socket

import httpcore
import pytest

from monitor.errors import BlockedAddressError, NetworkError
from monitor.fetch.netguard import (
    PinnedBackend,
    Resolver,
    blocked_reason,
    check_host,
    pinned_addresses,
)
from tests.loopback import LoopbackServer, Response


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "link-local"),  # cloud metadata service
        ("::ffff:169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("febf:ffff::1", "link-local"),  # top of fe80::/10
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("fc00::1", "private"),  # unique local fc00::/7
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),  # 100.64.0.0/10
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),  # class E
        ("255.255.255.255", "broadcast"),
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("2002:7f00:1::1", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 wrapping 169.254.169.254
        ("2001:db8::1", "documentation"),
    ],
)
def test_non_public_addresses_are_blocked_with_a_reason(address: str, reason: str) -> None:
    found = blocked_reason(address)
    assert found is not None
    assert found.startswith(reason)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "103.10.66.1",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.1",  # just above CGNAT
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",  # NAT64 of a public address (IPv6-only hosts need these)
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(address) is None


def _resolving_to(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def test_host_is_refused_if_any_address_is_private() -> None:
    with pytest.raises(BlockedAddressError, match=r"mixed\.example \(resolves to 10\.0\.0\.7\)"):
        await check_host(
            "mixed.example",
            443,
            allow_private=False,
            resolver=_resolving_to("93.184.216.34", "10.0.0.7"),
        )


async def test_allow_private_returns_every_address_once() -> None:
    addresses = await check_host(
        "intranet.example",
        80,
        allow_private=True,
        resolver=_resolving_to("10.0.0.7", "10.0.0.7", "fd00::7"),
    )
    assert addresses == ["10.0.0.7", "fd00::7"]


async def test_public_host_returns_its_addresses() -> None:
    addresses = await check_host(
        "news.example",
        443,
        allow_private=False,
        resolver=_resolving_to("93.184.216.34", "2606:2800:220:1::1"),
    )
    assert addresses == ["93.184.216.34", "2606:2800:220:1::1"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "2130706433"])
async def test_system_resolution_of_local_names_is_blocked(host: str) -> None:
    # Literals and /etc/hosts names resolve without DNS traffic; 2130706433 is 127.0.0.1.
    try:
        with pytest.raises(BlockedAddressError, match="loopback"):
            await check_host(host, 80, allow_private=False)
    except NetworkError:
        pytest.skip(f"{host} does not resolve on this machine")


async def test_unknown_host_is_a_transient_dns_error() -> None:
    async def unknown(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    expected = r"DNS lookup failed for host gone\.example: no such host"
    with pytest.raises(NetworkError, match=expected) as caught:
        await check_host("gone.example", 80, allow_private=False, resolver=unknown)
    assert caught.value.transient


async def test_empty_answer_and_empty_host_are_network_errors() -> None:
    with pytest.raises(NetworkError, match="no addresses"):
        await check_host("void.example", 80, allow_private=True, resolver=_resolving_to())
    with pytest.raises(NetworkError, match="no host"):
        await check_host("", 80, allow_private=True)


async def test_pinned_backend_connects_to_the_pinned_address_not_the_name(
    loopback: LoopbackServer,
) -> None:
    loopback.route("/", Response(200, b"hi"))
    backend = PinnedBackend()

    with pinned_addresses("Berita.Example", loopback.port, ["127.0.0.1"]):
        stream = await backend.connect_tcp("berita.example", loopback.port, timeout=5)
    try:
        await stream.write(b"GET / HTTP/1.1\r\nHost: berita.example\r\nConnection: close\r\n\r\n")
        reply = await stream.read(4096, timeout=5)
    finally:
        await stream.aclose()

    assert reply.startswith(b"HTTP/1.1 200")


async def test_pinned_backend_refuses_a_name_nobody_vetted(loopback: LoopbackServer) -> None:
    backend = PinnedBackend()

    with (
        pinned_addresses("berita.example", loopback.port, ["127.0.0.1"]),
        pytest.raises(httpcore.ConnectError, match="not vetted"),
    ):
        await backend.connect_tcp("other.example", loopback.port)

    with pytest.raises(httpcore.ConnectError, match="not vetted"):
        await backend.connect_tcp("berita.example", loopback.port)  # pin ended with the block


async def test_pinned_backend_falls_back_to_the_next_vetted_address(
    loopback: LoopbackServer,
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    backend = PinnedBackend()

    with (
        pinned_addresses("two.example", closed_port, ["127.0.0.1", "127.0.0.1"]),
        pytest.raises(httpcore.ConnectError),
    ):
        await backend.connect_tcp("two.example", closed_port, timeout=5)

    with pinned_addresses("two.example", loopback.port, ["::1", "127.0.0.1"]):
        stream = await backend.connect_tcp("two.example", loopback.port, timeout=5)
    await stream.aclose()
