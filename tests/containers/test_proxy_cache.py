"""Resolved manifests are cached per token: repeated pulls make no upstream request."""

import asyncio
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from containers import proxy
from containers.tokens import load_token
from oci.client import RegistryClient
from registries import clients
from tests.support.helpers import own_registry_credentials, post

pytestmark = pytest.mark.django_db(transaction=True)


class CountingTransport(httpx.AsyncBaseTransport):
    """The real transport, with a count of what went upstream."""

    def __init__(self):
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request):
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize("config", [None, {"env": ["A=1"]}], ids=["plain", "augmented"])
def test_repeated_pulls_of_a_tag_make_no_upstream_request(api, busybox, config):
    body = {"containerImage": busybox, **({"containerConfig": config} if config else {})}
    token = post(api, "/v1alpha2/container", body).json()["containerToken"]
    counting = CountingTransport()

    async def pulls():
        info = await load_token(token)
        clients._pools[asyncio.get_running_loop()] = {  # the loop's pool: a client counting what goes upstream
            (info.registry, info.user_id, info.workspace_id): (
                RegistryClient(info.registry, own_registry_credentials(info.registry), transport=counting),
                time.monotonic() + 600,
            )
        }
        first = await proxy.resolve_manifest(info, "latest")
        upstream_after_first = len(counting.paths)
        for _ in range(3):
            assert (await proxy.resolve_manifest(info, "latest")).raw == first.raw
        assert (await proxy.resolve_manifest(info, first.digest)).raw == first.raw
        await sync_to_async(connections.close_all)()  # the ORM's thread keeps a connection otherwise
        return upstream_after_first

    first_count = asyncio.run(pulls())
    manifest_fetches = [p for p in counting.paths if "/manifests/" in p]
    assert first_count >= 1 and len(manifest_fetches) == 1
    assert len(counting.paths) == first_count
