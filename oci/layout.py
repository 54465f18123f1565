"""OCI image layouts on disk (what `umoci` and `skopeo` read as `oci:<dir>:<tag>`)."""

from __future__ import annotations

import json
from pathlib import Path

from .client import Manifest


def write_layout(directory: Path, tag: str, manifest: Manifest, blobs: dict[str, bytes]) -> None:
    """Write `manifest` (tagged `tag`) and its `blobs` (by digest: config and layers) as a layout."""
    store = directory / "blobs" / "sha256"
    store.mkdir(parents=True, exist_ok=True)
    for digest, data in {**blobs, manifest.digest: manifest.raw}.items():
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
