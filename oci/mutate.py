"""Image augmentation as values in, values out (go-containerregistry's `mutate`).

The base manifest and config are never changed; the result's bytes are serialised once and its
digests are of exactly those bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import mediatypes
from .client import Manifest
from .digest import sha256_digest
from .documents import parse_config
from .errors import OciError
from .platform import Platform

ADDED_AT = "1970-01-01T00:00:00Z"  # fixed, so that the same augmentation gives the same digest


@dataclass(frozen=True)
class AddedLayer:
    gzip_digest: str
    gzip_size: int
    tar_digest: str


@dataclass(frozen=True)
class ConfigChange:
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    working_dir: str | None = None
    layers: tuple[AddedLayer, ...] = field(default_factory=tuple)

    @classmethod
    def from_container_config(cls, config: dict) -> ConfigChange:
        """From a request's `containerConfig` (entrypoint, cmd, env, workingDir, layers)."""
        return cls(
            entrypoint=tuple(config["entrypoint"]) if config.get("entrypoint") else None,
            cmd=tuple(config["cmd"]) if config.get("cmd") else None,
            env=tuple(config.get("env") or ()),
            working_dir=config.get("workingDir") or None,
            layers=tuple(
                AddedLayer(layer["gzipDigest"], int(layer["gzipSize"]), layer["tarDigest"])
                for layer in config.get("layers") or []
            ),
        )


def _dumps(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def mutate_config(config_raw: bytes, change: ConfigChange) -> bytes:
    """The image config with the change applied; the entrypoint it replaces goes to WAVE_ENTRY_CHAIN."""
    doc = parse_config(config_raw)
    container = dict(doc.get("config") or {})
    env = list(container.get("Env") or [])
    if change.entrypoint is not None:
        if container.get("Entrypoint"):
            env.append("WAVE_ENTRY_CHAIN=" + " ".join(container["Entrypoint"]))
        container["Entrypoint"] = list(change.entrypoint)
    if change.cmd is not None:
        container["Cmd"] = list(change.cmd)
    if change.working_dir is not None:
        container["WorkingDir"] = change.working_dir
    env.extend(change.env)
    if env:
        container["Env"] = env
    doc["config"] = container
    if change.layers:
        rootfs = dict(doc.get("rootfs") or {"type": "layers"})
        rootfs["diff_ids"] = list(rootfs.get("diff_ids") or []) + [layer.tar_digest for layer in change.layers]
        doc["rootfs"] = rootfs
        doc["history"] = list(doc.get("history") or []) + [
            {"created": ADDED_AT, "created_by": "wave: added layer", "comment": layer.gzip_digest} for layer in change.layers
        ]
    return _dumps(doc)


def mutate_manifest(manifest: Manifest, new_config: bytes, change: ConfigChange) -> Manifest:
    """The image manifest pointing at `new_config`, with a descriptor per added layer."""
    if manifest.media_type not in mediatypes.IMAGE_TYPES:
        raise OciError(f"Cannot augment a manifest of type '{manifest.media_type}'")
    doc = manifest.json
    doc["config"] = {**doc["config"], "digest": sha256_digest(new_config), "size": len(new_config)}
    layer_type = mediatypes.layer_gzip_type(manifest.media_type)
    doc["layers"] = list(doc.get("layers") or []) + [
        {"mediaType": layer_type, "digest": layer.gzip_digest, "size": layer.gzip_size} for layer in change.layers
    ]
    return Manifest.from_bytes(_dumps(doc), manifest.media_type)


def select_platform(index: Manifest, platform: Platform) -> dict | None:
    """The index entry for `platform`, or None."""
    for entry in index.json.get("manifests") or []:
        if platform.matches(entry.get("platform") or {}):
            return entry
    return None


def replace_in_index(index: Manifest, old_digest: str, child: Manifest) -> Manifest:
    """The index with the entry `old_digest` pointing at `child` (its digest, size and media type)."""
    doc = index.json
    doc["manifests"] = [
        {**entry, "digest": child.digest, "size": len(child.raw), "mediaType": child.media_type}
        if entry.get("digest") == old_digest
        else entry
        for entry in doc.get("manifests") or []
    ]
    return Manifest.from_bytes(_dumps(doc), index.media_type)
