"""Pooled upstream clients: one guarded `RegistryClient` per event loop × registry × user × workspace,
so that requests reuse its connections, its `/v2/` challenge and its bearer tokens.

Keyed by loop, because an httpx client's connections belong to the loop that opened them. A pool
lives only on a loop that outlives requests: the ASGI server's, which `wave_site.asgi` declares with
`serve_on`. Sync code (the POST path) reaches async code through `async_to_sync`, which runs it on
the server's loop inside a request and on a loop of its own, closed after the call, everywhere else
(workers, commands, tests without a server); there `borrowed` lends a fresh client and closes it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

from django.conf import settings

from oci.auth import Credentials
from oci.client import RegistryClient
from oci.netguard import AddressPolicy, guarded_transport

RETIRE_AFTER = 600  # seconds a replaced client stays open for the requests still streaming through it
MAX_CLIENTS = 256  # per loop: a stranger naming a new registry in every request must not grow it without bound

Owner = tuple[int | None, int | None]  # (user id, workspace id): whose stored credentials

_server_loops: weakref.WeakSet = weakref.WeakSet()
_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> {key: (client, expiry)}


def address_policy() -> AddressPolicy:
    return AddressPolicy(settings.WAVE_SSRF_ALLOWLIST)


def new_client(registry: str, credentials: Credentials | None) -> RegistryClient:
    """A client behind the SSRF guard, with our settings; no database."""
    return RegistryClient(
        registry,
        credentials,
        insecure=frozenset(settings.WAVE_INSECURE_REGISTRIES),
        timeout=settings.WAVE_UPSTREAM_TIMEOUT,
        transport=guarded_transport(address_policy()),
    )


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Declare `loop` long-lived (the ASGI server's): `borrowed` pools clients on it."""
    _server_loops.add(loop)


def _retire(client: RegistryClient) -> None:
    asyncio.get_running_loop().call_later(RETIRE_AFTER, lambda: asyncio.ensure_future(client.aclose()))


def _make_room(pool: dict) -> None:
    """Retire the expired clients, then the ones expiring first while the pool is full."""
    now = time.monotonic()
    for key in [key for key, (_, expiry) in pool.items() if expiry <= now]:
        _retire(pool.pop(key)[0])
    while len(pool) >= MAX_CLIENTS:
        _retire(pool.pop(min(pool, key=lambda key: pool[key][1]))[0])


async def pooled(
    registry: str, owner: Owner, credentials: Callable[[], Awaitable[Credentials | None]], fresh: bool = False
) -> RegistryClient:
    """The running loop's client for (registry, owner), made with `credentials()` on a miss or once
    it is older than WAVE_UPSTREAM_CLIENT_TTL; `fresh` asks for the credentials now and replaces the
    client when they changed (the POST path: a caller who just stored new ones sees them at once)."""
    pool = _pools.setdefault(asyncio.get_running_loop(), {})
    key = (registry, *owner)
    hit = pool.get(key)
    if hit and hit[1] > time.monotonic() and not fresh:
        return hit[0]
    current = await credentials()
    hit = pool.get(key)  # another request may have made one while the credentials were read
    if hit and hit[1] > time.monotonic() and hit[0].credentials == current:
        return hit[0]
    if hit:
        _retire(pool.pop(key)[0])
    _make_room(pool)
    client = new_client(registry, current)
    pool[key] = (client, time.monotonic() + settings.WAVE_UPSTREAM_CLIENT_TTL)
    return client


@asynccontextmanager
async def borrowed(registry: str, owner: Owner, credentials: Credentials | None) -> AsyncIterator[RegistryClient]:
    """A client for one call from sync code: the pooled one on the server's loop, else its own,
    closed after (the loop it would be pooled on is closed when the call returns)."""
    if asyncio.get_running_loop() in _server_loops:

        async def known() -> Credentials | None:
            return credentials

        yield await pooled(registry, owner, known, fresh=True)
        return
    async with new_client(registry, credentials) as client:
        yield client
