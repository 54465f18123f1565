"""`containerIncludes` (wave-cli `--include`): other images' layers appended to the request, as Wave's
`ContainerInclusionImpl` does. Only the layers are merged (Wave takes nothing else of their config),
in the order given, after the request's own `containerConfig.layers`; each image is read with the
caller's credentials for the request's platform. A layer stays in its own repository: its location
is Wave's pseudo-URL `docker://<registry>/v2/<path>/blobs/<digest>`, which only this module writes
(a request's own layers must be `data:` or http(s)), and the pull path streams it from there."""

from __future__ import annotations

import re

from asgiref.sync import async_to_sync
from django.conf import settings

from accounts.identity import Identity
from builds.request_spec import ContainerRequestSpec
from oci import errors, mediatypes
from oci.client import RegistryClient
from oci.documents import parse_config
from oci.mutate import select_platform
from oci.platform import Platform, parse_platform
from oci.reference import Reference, parse_reference
from wave_site.errors import InvalidRequest

from registries.upstream import api_error, client_for

_GZIP_LAYERS = frozenset({mediatypes.OCI_LAYER_GZIP, mediatypes.DOCKER_LAYER_GZIP})
_LOCATION = re.compile(r"^docker://(?P<registry>[^/]+)/v2/(?P<path>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")


def too_many(images: list[str]) -> str | None:
    """Wave's message past its limit of 10 (`WAVE_MAX_INCLUDES`), or None."""
    if len(images) > settings.WAVE_MAX_INCLUDES:
        return f"The number of container inclusions cannot be greater than {settings.WAVE_MAX_INCLUDES}"
    return None


def source_of(location: str) -> tuple[str, str] | None:
    """(registry, repository path) of an included layer's location, None for any other layer."""
    match = _LOCATION.match(location)
    return (match["registry"], match["path"]) if match else None


async def _layers(client: RegistryClient, ref: Reference, platform: Platform) -> list[dict]:
    async with client:
        manifest = await client.get_manifest(ref.path, ref.reference)
        if manifest.media_type in mediatypes.SCHEMA1_TYPES:
            raise InvalidRequest(f"Container image '{ref}' uses the Docker schema 1 manifest format, which cannot be included")
        if manifest.is_index:
            entry = select_platform(manifest, platform)
            if entry is None:
                raise InvalidRequest(f"Container image '{ref}' cannot be included: it has no manifest for platform {platform}")
            manifest = await client.get_manifest(ref.path, entry["digest"])
        doc = manifest.json
        config = parse_config(await client.get_blob(ref.path, doc["config"]["digest"]))
    if config.get("architecture") and not platform.matches(config):
        found = "/".join(str(config[k]) for k in ("os", "architecture", "variant") if config.get(k))
        raise InvalidRequest(f"Container image '{ref}' cannot be included: it is a {found} image, not {platform}")
    layers, diff_ids = doc.get("layers") or [], (config.get("rootfs") or {}).get("diff_ids") or []
    if len(layers) != len(diff_ids):
        raise InvalidRequest(f"Container image '{ref}' cannot be included: its manifest lists {len(layers)} layers and its config {len(diff_ids)}")
    for layer in layers:
        if layer.get("mediaType") not in _GZIP_LAYERS or layer.get("urls"):
            raise InvalidRequest(
                f"Container image '{ref}' cannot be included: layer {layer.get('digest')} is "
                f"'{layer.get('mediaType')}'; only gzip layers the registry holds can be added"
            )
    return [
        {
            "location": f"docker://{ref.registry}/v2/{ref.path}/blobs/{layer['digest']}",
            "gzipDigest": layer["digest"],
            "gzipSize": int(layer["size"]),
            "tarDigest": diff_id,
        }
        for layer, diff_id in zip(layers, diff_ids)
    ]


def included_layers(identity: Identity, images: list[str], platform: str) -> list[dict]:
    """Every layer of `images` (validated references), in order."""
    if message := too_many(images):
        raise InvalidRequest(message)
    wanted, result = parse_platform(platform), []
    for image in images:
        ref = parse_reference(image)
        try:
            result += async_to_sync(_layers)(client_for(identity, ref.registry), ref, wanted)
        except errors.OciError as exc:
            raise api_error(exc, str(ref)) from None
    return result


def with_includes(identity: Identity, spec: ContainerRequestSpec) -> ContainerRequestSpec:
    """`spec` with the included layers appended to `containerConfig.layers`."""
    return spec.with_layers(included_layers(identity, list(spec.container_includes), spec.platform))
