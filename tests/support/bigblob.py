"""Large synthetic blobs, streamed into a registry without holding them in memory."""

from __future__ import annotations

import asyncio
import hashlib
import random

from oci import mediatypes
from oci.auth import Credentials
from oci.client import Manifest, RegistryClient
from oci.image import canonical_json

CHUNK = 4 * 1024 * 1024


def _chunks(size: int, seed: int):
    rng = random.Random(seed)
    left = size
    while left:
        n = min(CHUNK, left)
        yield rng.randbytes(n)
        left -= n


def blob_digest(size: int, seed: int) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(size, seed):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def push_big_image(registry: str, path: str, size: int, seed: int = 1, credentials: Credentials | None = None) -> str:
    """Push an image whose one layer is `size` pseudo-random bytes; returns the layer digest.

    The layer is not a real tarball: it is for moving bytes, not for running.
    """
    digest = blob_digest(size, seed)

    async def stream():
        for chunk in _chunks(size, seed):
            yield chunk

    async def run() -> None:
        async with RegistryClient(registry, credentials, timeout=600) as client:
            if not await client.blob_exists(path, digest):
                await client.upload_blob(path, digest, stream())
            config = canonical_json({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest]}})
            await client.push_blob(path, config)
            manifest = canonical_json({
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_MANIFEST,
                "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
                "layers": [{"mediaType": mediatypes.OCI_LAYER_GZIP, "digest": digest, "size": size}],
            })
            await client.push_manifest(path, "latest", Manifest.from_bytes(manifest, mediatypes.OCI_MANIFEST))

    asyncio.run(run())
    return digest
