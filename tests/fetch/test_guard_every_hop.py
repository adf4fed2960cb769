"""The network guard's table of refused ranges, applied at every hop, redirects of a configured
feed's own host included (issue #21)."""

from __future__ import annotations

import pytest

from monitor.errors import BlockedAddressError
from monitor.fetch.client import Fetcher, FetchPolicy
from monitor.fetch.netguard import blocked_reason, check_host
from tests.loopback import LoopbackServer, Response

# Ranges of the IANA special-purpose registries that Python 3.11's is_global lets through or
# that a hand-written check easily misses; each must be refused.
REFUSED = [
    "fec0::1",  # site-local, deprecated
    "feff::1",  # top of fec0::/10
    "192.0.0.8",  # IETF protocol assignments
    "192.0.0.170",  # NAT64 discovery
    "192.0.2.10",  # TEST-NET-1
    "192.88.99.1",  # 6to4 relay anycast
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "198.51.100.7",  # TEST-NET-2
    "203.0.113.9",  # TEST-NET-3
    "100.64.0.1",  # carrier-grade NAT
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "224.0.0.251",  # multicast
    "0.1.2.3",  # "this network"
    "::",
    "::1",
    "::ffff:192.0.0.8",  # IPv4-mapped: judged as the IPv4 inside
    "::ffff:198.18.0.1",
    "64:ff9b::c0a8:101",  # NAT64 of 192.168.1.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::1",  # local-use NAT64
    "100::1",  # discard-only
    "2001::1",  # Teredo
    "2001:2::1",  # benchmarking
    "2001:10::1",  # ORCHID (deprecated)
    "2001:db8::1",  # documentation
    "2002:c000:0201::1",  # 6to4 of 192.0.2.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "3fff::1",  # documentation (2024)
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6 (unique local)
    "fe80::1",
    "ff02::1",
]

ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:93.184.216.34",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "2001:4:112::1",  # AS112-v6: globally reachable inside 2001::/23
    "192.31.196.1",  # AS112: globally reachable
]


@pytest.mark.parametrize("address", REFUSED)
async def test_special_purpose_addresses_are_refused(address: str) -> None:
    assert blocked_reason(address) is not None

    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    with pytest.raises(BlockedAddressError, match="refused to connect to"):
        await check_host("news.example", 80, allow_private=False, resolver=resolver)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(address) is None


@pytest.mark.parametrize("address", ["fec0::1", "192.0.0.8", "198.18.0.1", "127.0.0.2"])
async def test_redirect_from_a_configured_feed_to_a_name_on_a_refused_address_is_refused(
    loopback: LoopbackServer, address: str
) -> None:
    loopback.route("/feed", Response(302, headers={"Location": "http://cdn.example/feed"}))

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "127.0.0.1" else [address]

    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError, match="reached by redirect from"):
            await fetcher.fetch(loopback.url("/feed"), trusted=True)
    assert [r.path for r in loopback.requests] == ["/feed"]


async def test_redirect_back_to_the_configured_host_is_checked_again(
    loopback: LoopbackServer,
) -> None:
    """DNS rebinding: the configured feed's host answers 127.0.0.1 for the first hop, then
    another internal address when its own redirect is followed. The redirect is refused."""
    port = loopback.port
    loopback.route("/feed", Response(302, headers={"Location": f"http://feed.example:{port}/2"}))
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])

    async def resolver(host: str, port: int) -> list[str]:
        return next(answers)

    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        with pytest.raises(BlockedAddressError, match=r"feed\.example \(resolves to 127\.0\.0\.2"):
            await fetcher.fetch(f"http://feed.example:{port}/feed", trusted=True)
    assert [r.path for r in loopback.requests] == ["/feed"]


async def test_redirect_within_the_configured_host_on_its_own_address_is_followed(
    loopback: LoopbackServer,
) -> None:
    port = loopback.port
    loopback.route("/feed", Response(302, headers={"Location": "/new"}))
    loopback.route("/new", Response(200, b"<rss/>"))

    async def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    async with Fetcher(FetchPolicy(), resolver=resolver) as fetcher:
        result = await fetcher.fetch(f"http://feed.example:{port}/feed", trusted=True)
    assert result.content == b"<rss/>"
