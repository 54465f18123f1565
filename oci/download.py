"""One guarded download, streamed: a GET whose body goes chunk by chunk to a sink (a file, a
buffer), capped in size and hashed on the way. Callers bring the client (the SSRF-guarded
transport on the server, the sandbox's egress proxy in a conda build's child) and word their own
errors from the two raised here; httpx's own errors pass through."""

from __future__ import annotations

import hashlib
from typing import Callable

import httpx


class BadStatus(Exception):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


async def download(
    client: httpx.AsyncClient, url: str, sink: Callable[[bytes], object], *, limit: int | None = None, hash_name: str = "sha256"
) -> str:
    """GET `url` into `sink`; the body's hex digest (`hash_name`: sha256, md5). Raises `BadStatus`
    for any answer but 200 and `TooLarge` once more than `limit` bytes arrived, before writing them."""
    digest, size = hashlib.new(hash_name), 0
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise BadStatus(response.status_code)
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if limit is not None and size > limit:
                raise TooLarge(limit)
            digest.update(chunk)
            sink(chunk)
    return digest.hexdigest()
