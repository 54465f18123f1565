"""What a build pushed, read back from its registry: the manifest's layers and the image's compressed
size, for the build page. Nothing records them at push time (a build keeps its digest only), so the
manifest is fetched by that digest, as the build's owner, once: a manifest by digest never changes,
and its layers are cached for a day. A registry that cannot answer is not asked again for a few
minutes: every view of the page would otherwise wait for its timeout."""

from __future__ import annotations

from typing import NamedTuple

from django.core.cache import cache

from accounts.identity import Identity
from oci.errors import OciError
from oci.reference import Reference, parse_reference
from registries.upstream import fetch_manifest
from wave_site.errors import DomainError

from .models import Build

CACHED_FOR = 24 * 3600
ERROR_CACHED_FOR = 300


class Layer(NamedTuple):
    digest: str
    size: int
    media_type: str


class Pushed(NamedTuple):
    layers: list[Layer]
    error: str  # why the layers could not be read, when they could not

    @property
    def size(self) -> int | None:
        return sum(layer.size for layer in self.layers) if self.layers else None


def pushed(build: Build) -> Pushed | None:
    """A succeeded build's layers; None for a build that pushed nothing (yet)."""
    if build.status != Build.Status.SUCCEEDED or not build.digest:
        return None
    key = f"wave:pushed-layers:{build.target_image}@{build.digest}"  # the error is of this repository
    if (cached := cache.get(key)) is not None:
        return Pushed([Layer(*layer) for layer in cached["layers"]], cached["error"])
    target = parse_reference(build.target_image)
    try:
        manifest = fetch_manifest(Identity(user=build.user, workspace=build.workspace), Reference(target.registry, target.path, digest=build.digest))
        document = manifest.json
    except (DomainError, OciError) as exc:
        cache.set(key, {"layers": [], "error": str(exc)}, ERROR_CACHED_FOR)
        return Pushed([], str(exc))
    if manifest.is_index:
        return Pushed([], "the build pushed an index, not an image")
    layers = [Layer(layer["digest"], int(layer["size"]), layer.get("mediaType", "")) for layer in document.get("layers", [])]
    cache.set(key, {"layers": [list(layer) for layer in layers], "error": ""}, CACHED_FOR)
    return Pushed(layers, "")
