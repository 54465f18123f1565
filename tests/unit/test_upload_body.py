"""An upload from a file survives a retried PUT: the registry's second attempt gets the whole file
again (a generator, read once, would send it an empty body). The registry is an httpx MockTransport."""

from __future__ import annotations

import asyncio
import os

import httpx

from oci.auth import TokenCache
from oci.client import FileBody, RegistryClient
from oci.digest import sha256_digest


class FlakyRegistry:
    """Answers the first blob PUT with a 503, and keeps the body of every PUT."""

    def __init__(self):
        self.bodies: list[bytes] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": "/v2/team/app/blobs/uploads/u1?_state=s"})
        self.bodies.append(request.content)
        if len(self.bodies) == 1:
            return httpx.Response(503, headers={"Retry-After": "0"})
        if sha256_digest(request.content) != request.url.params["digest"]:
            return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID", "message": "digest invalid"}]})
        return httpx.Response(201)


def test_a_retried_upload_sends_the_whole_file_again(tmp_path):
    blob = tmp_path / "layer.tar.gz"
    blob.write_bytes(os.urandom(3 * FileBody.CHUNK + 5))  # several chunks and a short last one
    registry = FlakyRegistry()

    async def upload():
        async with RegistryClient("reg.test", transport=httpx.MockTransport(registry.handler), token_cache=TokenCache()) as client:
            await client.upload_blob("team/app", sha256_digest(blob.read_bytes()), FileBody(blob))

    asyncio.run(upload())
    assert registry.bodies == [blob.read_bytes(), blob.read_bytes()]
