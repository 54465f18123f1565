"""Layers added by `containerConfig.layers`: fetched once, checked against their digests, and
stored only once the request is accepted (`verify_layers` checks, `keep` stores): a request refused
later (its image, its build, a rate limit) leaves nothing behind."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from dataclasses import dataclass

from django.utils import timezone

from django.conf import settings

from builds import blobs as blobs_store
from builds.models import StoredBlob
from oci.digest import sha256_digest
from oci.inflate import InflateLimit, inflate_bytes
from registries.upstream import DownloadError, download
from wave_site.errors import InvalidRequest

from .serializers import DATA_URI_PREFIX


def _fetch(location: str, limit: int, label: str) -> bytes:
    if location.startswith("data:"):
        try:
            return base64.b64decode(DATA_URI_PREFIX.sub("", location, count=1), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"{label}: the data: location is not valid base64") from None
    try:
        return download(location, limit)
    except DownloadError as exc:
        raise InvalidRequest(f"{label}: {exc}") from None


def _tar_digest(blob: bytes, label: str, inflated_limit: int | None = None) -> str:
    """The digest of the inflated content, streamed: past the size or ratio limit (a gzip bomb)
    the layer is refused without ever holding more than a piece of it."""
    limit = min(inflated_limit or settings.WAVE_MAX_LAYER_INFLATED_SIZE, settings.WAVE_MAX_LAYER_INFLATED_SIZE)
    digest = hashlib.sha256()
    try:
        for piece in inflate_bytes(blob, limit, settings.WAVE_MAX_LAYER_RATIO):
            digest.update(piece)
    except InflateLimit as exc:
        raise InvalidRequest(f"{label}: {exc}") from None
    except zlib.error:
        raise InvalidRequest(f"{label}: the content is not gzip data") from None
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class VerifiedBlob:
    """A layer whose bytes match its digests, not stored yet."""

    digest: str
    tar_digest: str
    location: str
    data: bytes


def _already_verified(layer: dict) -> bool:
    """The same layer from the same URL was fetched and checked before. A `data:` layer is always
    checked (its bytes are in the request), so no request reads a stored layer by naming its digest.
    The row is stamped now, in the same statement, so the collector's grace period starts again
    (`containers.lifecycle`): it cannot delete the blob between this check and the request's row."""
    if layer["location"].startswith("data:"):
        return False
    return bool(
        StoredBlob.objects.filter(
            digest=layer["gzipDigest"], size=layer["gzipSize"], tar_digest=layer["tarDigest"],
            locations__contains=[layer["location"]],
        ).update(created_at=timezone.now())
    )


def verify_layers(layers: list[dict]) -> list[VerifiedBlob]:
    """Fetch and verify every layer; any mismatch is a 400 naming the layer and the values."""
    verified = [verify_layer(layer, f"Layer {index}") for index, layer in enumerate(layers)]
    return [blob for blob in verified if blob]


def verify_layer(layer: dict, label: str, inflated_limit: int | None = None) -> VerifiedBlob | None:
    """Fetch and verify one layer (`label` starts every error message); None when it is stored already."""
    if _already_verified(layer):
        return None
    blob = _fetch(layer["location"], layer["gzipSize"], label)
    if len(blob) != layer["gzipSize"]:
        raise InvalidRequest(f"{label}: gzipSize is {layer['gzipSize']} but the content is {len(blob)} bytes")
    actual = sha256_digest(blob)
    if actual != layer["gzipDigest"]:
        raise InvalidRequest(f"{label}: gzipDigest is {layer['gzipDigest']} but the content digest is {actual}")
    tar_digest = _tar_digest(blob, label, inflated_limit)
    if tar_digest != layer["tarDigest"]:
        raise InvalidRequest(f"{label}: tarDigest is {layer['tarDigest']} but the uncompressed digest is {tar_digest}")
    return VerifiedBlob(actual, tar_digest, layer["location"], blob)


def keep(blobs: list[VerifiedBlob]) -> None:
    """Store verified blobs: called once the request is accepted, before anything that reads them."""
    for blob in blobs:
        stored, created = blobs_store.put(blob.digest, blob.data, tar_digest=blob.tar_digest)
        fields = {} if created else {"created_at": timezone.now()}  # the grace period starts again
        if not blob.location.startswith("data:") and blob.location not in stored.locations:
            fields.update(locations=[*stored.locations, blob.location], tar_digest=blob.tar_digest)
        if fields:
            StoredBlob.objects.filter(digest=blob.digest).update(**fields)


def redact_layers(config: dict | None) -> dict | None:
    """The config as stored with the request: inline layer data replaced by its digest."""
    if not config:
        return config
    layers = [
        {**layer, "location": f"data:<{layer['gzipSize']} bytes>"} if layer["location"].startswith("data:") else layer
        for layer in config.get("layers") or []
    ]
    return {**config, **({"layers": layers} if layers else {})}
