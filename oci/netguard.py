"""SSRF guard: hosts named by requests are resolved once, checked, and connected to by address.

Every connection the guarded transport opens (registry, token realm, redirect target, layer URL)
goes through `GuardedBackend.connect_tcp`, which resolves the name itself, refuses the connection
when any address is not globally routable (loopback, RFC 1918, ULA, link-local and cloud metadata,
unspecified, multicast, reserved), and connects to the address it checked, so that no second DNS
lookup can answer differently. Hosts on the allow-list skip the check.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from typing import Awaitable, Callable, Iterable

import httpcore
import httpx

from .errors import ForbiddenAddress

Resolver = Callable[[str, int], Awaitable[list[str]]]


# IPv6 forms that carry an IPv4 address a gateway may forward to: NAT64 (RFC 6052, and RFC 8215's
# local-use prefix), IPv4-compatible (::a.b.c.d) and SIIT (::ffff:0:a.b.c.d). Python calls them global.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_LOW_32 = (0, 0xFFFF0000)  # what sits above the IPv4 address in ::a.b.c.d and ::ffff:0:a.b.c.d


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip.sixtofour:
        return [ip.sixtofour]
    if ip.teredo:
        return list(ip.teredo)  # its server and (de-obfuscated) client
    if any(ip in network for network in _NAT64) or int(ip) >> 32 in _LOW_32:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def is_forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return any(is_forbidden_address(str(v4)) for v4 in embedded) or ip in _NAT64[1]
    return not ip.is_global or ip.is_multicast


def describe_address(address: str) -> str:
    """The address as Python writes it (getaddrinfo writes `::7f00:1` as `::127.0.0.1`), with the
    IPv4 it carries, so that a refusal of a public-looking IPv6 address says why."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip in _NAT64[1]:
        return f"{ip.compressed} (local-use NAT64)"
    embedded = [] if ip.is_loopback or ip.is_unspecified else _embedded_ipv4(ip)  # ::1 is no IPv4-compatible form
    return f"{ip.compressed} (carrying {' and '.join(map(str, embedded))})" if embedded else ip.compressed


class AddressPolicy:
    """`allowed` holds `host` (any port) or `host:port` entries that may be contacted whatever they resolve to."""

    def __init__(self, allowed: Iterable[str] = ()):
        self.allowed = frozenset(entry.strip().lower() for entry in allowed if entry.strip())

    def host_allowed(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return host in self.allowed or f"{host}:{port}" in self.allowed or f"[{host}]:{port}" in self.allowed

    def check(self, host: str, port: int, addresses: list[str]) -> None:
        if not addresses:
            raise ForbiddenAddress(f"Host '{host}' does not resolve to any address")
        bad = [a for a in addresses if is_forbidden_address(a)]
        if bad:
            raise ForbiddenAddress(
                f"Host '{host}' resolves to {describe_address(bad[0])}, a loopback, private or link-local address "
                "that this service does not contact"
            )


async def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, once each; raises socket.gaierror when it does not resolve."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


async def system_resolver(host: str, port: int) -> list[str]:
    try:
        return await resolve_addresses(host, port)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve '{host}': {exc.strerror}") from exc


async def checked_addresses(policy: AddressPolicy, host: str, port: int, resolver: Resolver) -> list[str]:
    """What to connect to for `host`: the name itself when it is allowed, else its addresses once
    resolved and checked (connecting to these, not the name, leaves no second lookup to differ)."""
    if policy.host_allowed(host, port):
        return [host]
    addresses = await resolver(host, port)
    policy.check(host, port, addresses)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend, resolver: Resolver = system_resolver):
        self.policy, self.inner, self.resolver = policy, inner, resolver

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await checked_addresses(self.policy, host, port, self.resolver)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise ForbiddenAddress("Unix sockets are not contacted")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes milliseconds; every transport shares one context.
    return httpx.create_ssl_context()


def guarded_transport(policy: AddressPolicy, resolver: Resolver = system_resolver) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes the policy."""
    transport = httpx.AsyncHTTPTransport(verify=tls_context())
    # httpx builds its connection pool without a way to pass a network backend; wrap the one it made.
    pool = transport._pool
    pool._network_backend = GuardedBackend(policy, pool._network_backend, resolver)
    return transport
