"""Copying an image between registries by digest, as `skopeo copy --all --preserve-digests` does.

Every manifest of an index, each image's config and layers, then the index: the target ends up
with the very bytes, so every digest is the source's. Blobs the target already holds are skipped
(a second run copies nothing), and a blob streams from source to target without being held in
memory. Manifests are read whole, so they are capped (the distribution registry refuses larger ones
too), and so is the number of images an index may name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import mediatypes
from .client import Manifest, RegistryClient
from .digest import parse_digest
from .documents import parse_config
from .errors import RegistryError

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_INDEX_ENTRIES = 128


@dataclass
class CopyResult:
    digest: str = ""  # of the top manifest (the index, or the single image)
    platforms: list[str] = field(default_factory=list)
    copied_bytes: int = 0
    copied: int = 0  # blobs uploaded
    skipped: int = 0  # blobs the target had


def _platform(entry: dict) -> str:
    platform = entry.get("platform") or {}
    text = f"{platform.get('os', 'unknown')}/{platform.get('architecture', 'unknown')}"
    return text + (f"/{platform['variant']}" if platform.get("variant") else "")


class ImageCopy:
    def __init__(self, source: RegistryClient, source_path: str, target: RegistryClient, target_path: str,
                 say: Callable[[str], None]):
        self.source, self.source_path = source, source_path
        self.target, self.target_path = target, target_path
        self.say = say
        self.result = CopyResult()

    async def run(self, reference: str, target_reference: str) -> CopyResult:
        """Copy `reference` of the source to `target_reference` (a tag, or the digest itself)."""
        top = await self._manifest(reference)
        if top.is_index:
            entries = top.json.get("manifests") or []
            if len(entries) > MAX_INDEX_ENTRIES:
                raise RegistryError(f"The index {self.source_path}@{top.digest} names {len(entries)} images, more than {MAX_INDEX_ENTRIES}")
            for entry in entries:
                # A digest goes into URLs with the caller's credentials: a hostile manifest's never does.
                child = await self._manifest(parse_digest(entry["digest"]))
                if child.is_index:
                    raise RegistryError(f"The index {self.source_path}@{top.digest} nests another index ({child.digest})")
                await self._image(child)
                await self.target.push_manifest(self.target_path, child.digest, child)
                self.result.platforms.append(_platform(entry))
                self.say(f"Copied the {_platform(entry)} image {child.digest}")
        else:
            await self._image(top, single=True)
        await self.target.push_manifest(self.target_path, target_reference, top)
        self.result.digest = top.digest
        self.say(f"Pushed {top.media_type} {top.digest} as {self.target_path}:{target_reference}"
                 if not target_reference.startswith("sha256:") else f"Pushed {top.media_type} {top.digest}")
        return self.result

    async def _manifest(self, reference: str) -> Manifest:
        manifest = await self.source.get_manifest(self.source_path, reference)
        if len(manifest.raw) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"The manifest {self.source_path}@{manifest.digest} is larger than {MAX_MANIFEST_BYTES} bytes")
        if manifest.media_type in mediatypes.SCHEMA1_TYPES:
            raise RegistryError(f"The manifest {self.source_path}@{manifest.digest} is Docker schema 1, which cannot be copied by digest")
        return manifest

    async def _image(self, manifest: Manifest, single: bool = False) -> None:
        doc = manifest.json
        for descriptor in [doc["config"], *(doc.get("layers") or [])]:
            await self._blob(descriptor)
        if single and doc["config"].get("size", 0) <= MAX_MANIFEST_BYTES:
            # A lone image names its platform only in its config (read for the record, after the copy).
            config = parse_config(await self.source.get_blob(self.source_path, doc["config"]["digest"]))
            self.result.platforms.append(f"{config.get('os', 'linux')}/{config.get('architecture', 'amd64')}")

    async def _blob(self, descriptor: dict) -> None:
        digest = parse_digest(descriptor["digest"])
        if await self.target.blob_exists(self.target_path, digest):
            self.result.skipped += 1
            return
        await copy_blob(self.source, self.source_path, self.target, self.target_path, digest)
        self.result.copied += 1
        self.result.copied_bytes += int(descriptor.get("size") or 0)
        self.say(f"Copied blob {digest} ({descriptor.get('size', '?')} bytes)")


async def copy_blob(source: RegistryClient, source_path: str, target: RegistryClient, target_path: str, digest: str) -> None:
    """Stream a blob from one repository to another, never whole in memory; the target registry
    checks its digest as it arrives."""
    response = await source.open_blob(source_path, digest)
    try:
        await target.upload_blob(target_path, digest, response.aiter_raw())
    finally:
        await response.aclose()
