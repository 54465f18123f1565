"""`buildContext` (wave-cli `--context`): a layer verified like a `containerConfig` layer, stored,
and its archive checked entry by entry before a build is planned, so a hostile tar is a 400."""

from __future__ import annotations

import io

from builds.context import context_limits
from builds.context_archive import ContextError, check_archive
from wave_site.errors import ApiError

from .layers import store_layer
from .models import StoredBlob

LABEL = "Attribute 'buildContext'"


def store_build_context(layer: dict) -> None:
    """Fetch and verify the context's digests and size, store it, and check its entries."""
    limits = context_limits()
    store_layer(layer, LABEL, inflated_limit=limits.inflated)
    blob = StoredBlob.objects.only("data").get(digest=layer["gzipDigest"])
    try:
        check_archive(io.BytesIO(bytes(blob.data)), limits)
    except ContextError as exc:
        raise ApiError(f"{LABEL}: {exc}") from None


def redact_build_context(layer: dict) -> dict:
    """The context as stored with the request: inline data replaced by its size."""
    if str(layer.get("location", "")).startswith("data:"):
        return {**layer, "location": f"data:<{layer.get('gzipSize')} bytes>"}
    return layer
