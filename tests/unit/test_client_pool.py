"""The upstream client pool (registries.clients): one client per loop × registry × owner on a loop
the server declared; a client of its own, closed after, on any other loop (async_to_sync's, which
closes when the call returns). Making a client opens no connection, so no registry is needed."""

from __future__ import annotations

import asyncio

from oci.auth import Credentials
from registries import clients
from registries.clients import borrowed, pooled, serve_on

BOB = Credentials("bob", "secret-1")
OWNER = (1, None)


async def _borrow(credentials=BOB, registry="reg.test", owner=OWNER):
    async with borrowed(registry, owner, credentials) as client:
        return client


def _on_server_loop(body):
    async def go():
        serve_on(asyncio.get_running_loop())
        return await body()

    return asyncio.run(go())


def test_on_the_server_loop_calls_share_one_client_and_leave_it_open():
    async def body():
        first, second = await _borrow(), await _borrow()
        return first, second

    first, second = _on_server_loop(body)
    assert first is second and first.credentials == BOB
    assert not first._http.is_closed


def test_the_pull_path_and_the_post_path_share_the_client():
    async def body():
        async def load():
            return BOB

        return await pooled("reg.test", OWNER, load), await _borrow()

    pulled, posted = _on_server_loop(body)
    assert pulled is posted


def test_registries_and_owners_get_their_own_clients():
    async def body():
        return await _borrow(), await _borrow(registry="other.test"), await _borrow(owner=(2, None)), await _borrow(owner=(1, 7))

    clients = _on_server_loop(body)
    assert len({id(c) for c in clients}) == 4


def test_credentials_stored_anew_replace_the_pooled_client():
    async def body():
        return await _borrow(), await _borrow(Credentials("bob", "secret-2"))

    old, new = _on_server_loop(body)
    assert new is not old and new.credentials == Credentials("bob", "secret-2")


def test_off_the_server_loop_each_call_gets_its_own_client_closed_after():
    async def body():
        return await _borrow(), await _borrow()

    first, second = asyncio.run(body())
    assert first is not second
    assert first._http.is_closed and second._http.is_closed


def test_each_loop_has_its_own_pool():
    async def body():
        return await _borrow()

    assert _on_server_loop(body) is not _on_server_loop(body)


def test_the_pull_path_loads_credentials_only_on_a_miss():
    loads = []

    async def load():
        loads.append(1)
        return BOB

    async def body():
        return await pooled("pull.test", OWNER, load), await pooled("pull.test", OWNER, load)

    first, second = asyncio.run(body())
    assert first is second and len(loads) == 1


def test_a_registry_named_anew_in_every_request_does_not_grow_the_pool_without_bound(monkeypatch):
    monkeypatch.setattr(clients, "MAX_CLIENTS", 8)

    async def body():
        first = await _borrow(registry="r0.test")
        for n in range(1, 50):
            await _borrow(registry=f"r{n}.test")
        return first, dict(clients._pools[asyncio.get_running_loop()])

    first, pool = _on_server_loop(body)
    assert len(pool) == 8 and ("r49.test", *OWNER) in pool  # the newest kept, the oldest retired
    assert ("r0.test", *OWNER) not in pool
