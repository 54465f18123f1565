"""Streaming blob downloads with aiohttp, whose C HTTP parser costs a third of the CPU per byte
that httpx's pure-Python one does: the pull path's throughput is bound by it.

Connections go through the same SSRF policy as the registry client (`GuardedResolver`: resolved
once, checked, connected to by the checked address), and the registry's own `Authorization`
never follows a redirect to another host.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import AsyncIterator
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from .client import RegistryClient
from .errors import NotFound, RegistryError, RegistryUnreachable, Unauthorized
from .netguard import AddressPolicy, Resolver, resolve_addresses

MAX_REDIRECTS = 5


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy, resolver: Resolver = resolve_addresses):
        self.policy, self.resolver = policy, resolver

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        addresses = await self.resolver(host, port)
        if not self.policy.host_allowed(host, port):
            self.policy.check(host, port, addresses)
        return [
            {"hostname": host, "host": address, "port": port, "proto": 0, "flags": socket.AI_NUMERICHOST,
             "family": socket.AF_INET6 if ":" in address else socket.AF_INET}
            for address in addresses
        ]

    async def close(self) -> None:
        pass


@dataclass
class BlobResponse:
    status: int
    headers: dict[str, str]
    _response: aiohttp.ClientResponse | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if self._response is not None:
            self._response.release()


class BlobStreamer:
    """One aiohttp session (its own connection pool) for one event loop."""

    def __init__(self, policy: AddressPolicy, tls: ssl.SSLContext, timeout: float):
        self.policy = policy
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy), ssl=tls, limit=200)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout * 6),
            auto_decompress=False,
        )

    async def _get(self, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            self._check_literal(url)
            response = await self._session.get(url, headers=headers, allow_redirects=False)
            if response.status not in (301, 302, 303, 307, 308):
                return response
            if "Location" not in response.headers:
                response.release()
                raise RegistryError(f"A redirect from {url} has no Location")
            location = urljoin(url, response.headers["Location"])
            response.release()
            if urlsplit(location).netloc != origin:  # a blob store or CDN: its URL carries its own auth
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = location
        raise RegistryError(f"Too many redirects for {url}")

    def _check_literal(self, url: str) -> None:
        """aiohttp connects to an IP address without asking the resolver: check those here."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver checks it
        if not self.policy.host_allowed(host, port):
            self.policy.check(host, port, [host])

    async def open(self, client: RegistryClient, path: str, digest: str, range_header: str | None) -> BlobResponse:
        url = f"{client.base_url}/v2/{path}/blobs/{digest}"
        scope = f"repository:{path}:pull"
        extra = {"Range": range_header} if range_header else {}
        try:
            for fresh in (False, True):
                response = await self._get(url, {**await client.auth_headers(scope, fresh), **extra})
                if response.status != 401 or fresh:
                    break
                response.release()
        except aiohttp.ClientError as exc:
            raise RegistryUnreachable(f"Registry '{client.registry}' is unreachable: {exc}") from exc
        if response.status >= 400:
            response.release()
            what = f"blob '{digest}' of '{path}'"
            if response.status == 404:
                raise NotFound(f"{what} was not found in registry '{client.registry}'", 404, "BLOB_UNKNOWN")
            if response.status in (401, 403):
                raise Unauthorized(f"Access to {what} in registry '{client.registry}' was denied", response.status, "UNAUTHORIZED")
            raise RegistryError(f"Registry '{client.registry}' answered {response.status} for {what}", response.status)
        return BlobResponse(response.status, dict(response.headers), response)
