"""`buildContext` (wave-cli `--context`): a layer verified like a `containerConfig` layer, its archive
checked entry by entry before a build is planned, so a hostile tar is a 400; stored with the request's
layers once the request is accepted (`layers.keep`)."""

from __future__ import annotations

import io

from builds.context import context_limits
from builds.context_archive import ContextError, check_archive
from builds.blobs import open_blob
from wave_site.errors import InvalidRequest

from .layers import VerifiedBlob, verify_layer

LABEL = "Attribute 'buildContext'"


def verify_build_context(layer: dict) -> VerifiedBlob | None:
    """Fetch and verify the context's digests and size, and check its entries; None when stored already."""
    limits = context_limits()
    verified = verify_layer(layer, LABEL, inflated_limit=limits.inflated)
    stream = io.BytesIO(verified.data) if verified else open_blob(layer["gzipDigest"])
    if stream is None:  # collected between the check and now: fetch it again
        return verify_build_context(layer)
    try:
        with stream:
            check_archive(stream, limits)
    except ContextError as exc:
        raise InvalidRequest(f"{LABEL}: {exc}") from None
    return verified


def redact_build_context(layer: dict) -> dict:
    """The context as stored with the request: inline data replaced by its size."""
    if str(layer.get("location", "")).startswith("data:"):
        return {**layer, "location": f"data:<{layer.get('gzipSize')} bytes>"}
    return layer
