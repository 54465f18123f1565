"""IPv6 addresses that carry an IPv4 address are judged by the IPv4 address they carry, on every way
out: the registry client's guard (registry, token realm, redirects, layer downloads, Platform calls,
mirror copies), the blob streamer's resolver and the build sandbox's egress proxy.

Every test names a host that an injected resolver answers with the address under test, and the layer
below the guard is replaced by one that records what it was asked to reach and connects nowhere: no
test ever sends a packet to one of these addresses, even when the guard fails.
"""

from __future__ import annotations

import asyncio
import socket

import httpcore
import pytest

from builds.sandbox import egress
from oci.errors import ForbiddenAddress
from oci.netguard import AddressPolicy, GuardedBackend, describe_address, is_forbidden_address
from oci.stream import GuardedResolver

# Each form with a private or otherwise non-global IPv4 inside it.
FORBIDDEN = {
    "nat64-metadata": "64:ff9b::a9fe:a9fe",  # 169.254.169.254
    "nat64-rfc1918": "64:ff9b::a00:1",  # 10.0.0.1
    "nat64-local-use": "64:ff9b:1::808:808",  # RFC 8215: where the IPv4 sits is the operator's choice
    "6to4-loopback": "2002:7f00:1::1",  # 127.0.0.1
    "ipv4-compatible-metadata": "::a9fe:a9fe",
    "ipv4-mapped-loopback": "::ffff:7f00:1",
    "siit-metadata": "::ffff:0:a9fe:a9fe",
    "teredo-private-client": "2001:0:808:808::f5ff:fffe",  # client = NOT f5ff:fffe = 10.0.0.1
    "teredo-private-server": "2001:0:a00:1::f7f7:f7f7",  # server 10.0.0.1
}
# The same forms around a public IPv4 (8.8.8.8): a DNS64 resolver on an IPv6-only network answers
# 64:ff9b::/96 for every IPv4-only registry, so refusing those would refuse every pull there.
ALLOWED = {
    "nat64": "64:ff9b::808:808",
    "6to4": "2002:808:808::1",
    "ipv4-compatible": "::808:808",
    "ipv4-mapped": "::ffff:808:808",
    "siit": "::ffff:0:808:808",
    "teredo": "2001:0:808:808::f7f7:f7f7",  # server 8.8.8.8, client NOT f7f7:f7f7 = 8.8.8.8
}

forbidden = pytest.mark.parametrize("address", FORBIDDEN.values(), ids=FORBIDDEN.keys())
allowed = pytest.mark.parametrize("address", ALLOWED.values(), ids=ALLOWED.keys())


def resolving_to(address: str):
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return [address]

    resolver.lookups = lookups
    return resolver


class NoConnections(httpcore.AsyncNetworkBackend):
    """Where the socket would be: records what the guard let through and connects nowhere."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.attempts.append((host, port))
        raise httpcore.ConnectError("the test connects nowhere")

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise AssertionError("no unix sockets here")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def test_teredo_clients_are_read_through_their_obfuscation():
    # The client's IPv4 is stored inverted: f5ff:fffe is 10.0.0.1, 0a00:0001 would be 245.255.255.254.
    assert is_forbidden_address("2001:0:808:808::f5ff:fffe")
    assert not is_forbidden_address("2001:0:808:808::f7f7:f7f7")
    assert describe_address("2001:0:808:808::f5ff:fffe") == "2001:0:808:808::f5ff:fffe (carrying 8.8.8.8 and 10.0.0.1)"


def test_a_refusal_names_the_ipv4_inside_and_writes_the_address_one_way():
    assert describe_address("::127.0.0.1") == "::7f00:1 (carrying 127.0.0.1)"  # as getaddrinfo writes it
    assert describe_address("64:ff9b:1::808:808") == "64:ff9b:1::808:808 (local-use NAT64)"
    assert describe_address("::1") == "::1" and describe_address("10.0.0.1") == "10.0.0.1"


@forbidden
def test_the_registry_client_guard_refuses_it_before_connecting(address):
    inner = NoConnections()
    guard = GuardedBackend(AddressPolicy(), inner, resolving_to(address))
    with pytest.raises(ForbiddenAddress, match=f"Host 'registry.test' resolves to {address} "):
        asyncio.run(guard.connect_tcp("registry.test", 443))
    assert inner.attempts == []


@allowed
def test_the_registry_client_guard_connects_to_the_checked_address(address):
    inner, resolver = NoConnections(), resolving_to(address)
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(GuardedBackend(AddressPolicy(), inner, resolver).connect_tcp("registry.test", 443))
    assert resolver.lookups == ["registry.test"] and inner.attempts == [(address, 443)]


@forbidden
def test_the_blob_streamer_resolver_refuses_it(address):
    with pytest.raises(ForbiddenAddress, match=f"resolves to {address}"):
        asyncio.run(GuardedResolver(AddressPolicy(), resolving_to(address)).resolve("blobs.test", 443))


@allowed
def test_the_blob_streamer_resolver_hands_aiohttp_the_checked_address(address):
    [answer] = asyncio.run(GuardedResolver(AddressPolicy(), resolving_to(address)).resolve("blobs.test", 443))
    assert answer["host"] == address and answer["flags"] == socket.AI_NUMERICHOST  # no second lookup


@pytest.fixture
def egress_connections(monkeypatch):
    attempts: list[tuple[str, int]] = []

    async def open_connection(host, port, **kwargs):
        attempts.append((host, port))
        raise OSError("the test connects nowhere")

    monkeypatch.setattr(egress.asyncio, "open_connection", open_connection)
    return attempts


@forbidden
def test_the_build_egress_proxy_refuses_it(address, egress_connections):
    proxy = egress.EgressProxy(AddressPolicy(), resolving_to(address))
    with pytest.raises(egress.Refused, match=f"resolves to {address}") as refused:
        asyncio.run(proxy._open("conda.test", 443))
    assert refused.value.status == 403 and egress_connections == []


@allowed
def test_the_build_egress_proxy_connects_to_the_checked_address(address, egress_connections):
    with pytest.raises(egress.Refused, match="cannot connect"):
        asyncio.run(egress.EgressProxy(AddressPolicy(), resolving_to(address))._open("conda.test", 443))
    assert egress_connections == [(address, 443)]
