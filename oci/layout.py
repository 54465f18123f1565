"""OCI image layouts on disk (what `umoci` and `skopeo` read as `oci:<dir>:<tag>`)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .client import Manifest, RegistryClient
from .errors import RegistryError


def write_layout(directory: Path, tag: str, manifest: Manifest, blobs: dict[str, bytes | Path]) -> None:
    """Write `manifest` (tagged `tag`) and its `blobs` (by digest: config and layers, as bytes or
    as files, which are copied) as a layout."""
    store = directory / "blobs" / "sha256"
    store.mkdir(parents=True, exist_ok=True)
    for digest, data in {**blobs, manifest.digest: manifest.raw}.items():
        if isinstance(data, Path):
            shutil.copyfile(data, store / digest.split(":", 1)[1])
        else:
            (store / digest.split(":", 1)[1]).write_bytes(data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest.media_type,
                "digest": manifest.digest,
                "size": len(manifest.raw),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))


async def save_blob(client: RegistryClient, path: str, digest: str, directory: Path) -> None:
    """Stream a blob of `path` into the layout at `directory`, checking its digest as it comes."""
    target = directory / "blobs" / "sha256" / digest.split(":", 1)[1]
    if target.exists():
        return
    response = await client.request("GET", f"/v2/{path}/blobs/{digest}", scope=f"repository:{path}:pull", stream=True)
    partial = target.with_suffix(".partial")
    try:
        if response.status_code >= 400:
            await response.aread()
            await client._check(response, f"blob '{digest}' of '{path}'")
        hasher = hashlib.sha256()
        with partial.open("wb") as out:
            async for chunk in response.aiter_bytes(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
        if f"sha256:{hasher.hexdigest()}" != digest:
            raise RegistryError(f"Registry '{client.registry}' served blob {digest} with other content")
        partial.rename(target)
    finally:
        await response.aclose()
        partial.unlink(missing_ok=True)
