"""Images assembled from layers: config and manifest serialised once, digests of those bytes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import mediatypes
from .client import Manifest, RegistryClient
from .digest import sha256_digest
from .layer import Layer
from .platform import Platform


def canonical_json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Image:
    manifest: Manifest
    config: bytes = field(repr=False)
    layers: tuple[Layer, ...] = field(repr=False)


def new_image(layers: list[Layer], config: dict, platform: Platform, created: str = "1970-01-01T00:00:00Z") -> Image:
    """An OCI image of `layers` with the container `config` (Env, Cmd, Entrypoint, ...)."""
    config_doc = {
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.tar_digest for layer in layers]},
        "history": [{"created": created, "created_by": "wave: layer"} for _ in layers],
    }
    config_raw = canonical_json(config_doc)
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": sha256_digest(config_raw), "size": len(config_raw)},
        "layers": [
            {"mediaType": mediatypes.OCI_LAYER_GZIP, "digest": layer.gzip_digest, "size": layer.size} for layer in layers
        ],
    }
    return Image(Manifest.from_bytes(canonical_json(manifest_doc), mediatypes.OCI_MANIFEST), config_raw, tuple(layers))


def new_index(entries: list[tuple[Image, Platform]]) -> Manifest:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [
            {
                "mediaType": image.manifest.media_type,
                "digest": image.manifest.digest,
                "size": len(image.manifest.raw),
                "platform": {"architecture": platform.architecture, "os": platform.os},
            }
            for image, platform in entries
        ],
    }
    return Manifest.from_bytes(canonical_json(doc), mediatypes.OCI_INDEX)


async def push_image(client: RegistryClient, path: str, reference: str, image: Image) -> str:
    """Push layers (skipping those present), then the config, then the manifest; returns its digest."""
    for layer in image.layers:
        await client.push_blob(path, layer.gzip, layer.gzip_digest)
    await client.push_blob(path, image.config)
    return await client.push_manifest(path, reference, image.manifest)
