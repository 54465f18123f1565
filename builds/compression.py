"""`buildCompression`: how the layers a build makes are compressed, where the builder can do it.

buildah (Debian's 1.28) writes gzip and zstd layers (`buildah push --compression-format`,
`--compression-level`); it has no estargz compressor and no `--force-compression`: layers of the base
image that the registry already holds are pushed as they are (BuildKit's behaviour without `force`).
The conda builder packs its own layers, gzip, one per package and shared between images. What a
builder cannot do is refused with a 400 rather than ignored. As in Wave, compression is not part of
the build id: an image already built with the same recipe is reused whatever its compression.
"""

from __future__ import annotations

from wave_site.errors import InvalidRequest

from .request_spec import BuildCompression

MODES = ("gzip", "zstd", "estargz")
LEVELS = {"gzip": (0, 9), "estargz": (0, 9), "zstd": (0, 22)}  # Nextflow's documented ranges


def compression_context(compression_asked: BuildCompression | None, context: dict) -> dict:
    """What the build record keeps of a request's `buildCompression`; an InvalidRequest where the
    builder chosen for the request cannot apply it."""
    compression = compression_asked.set_values() if compression_asked else {}
    mode = compression.get("mode") or "gzip"
    if compression in ({}, {"mode": "gzip"}):  # the builders' default
        return {}
    if context.get("builder") == "conda":
        raise InvalidRequest(
            f"buildCompression mode '{mode}'{' with a level' if 'level' in compression else ''} is not available for "
            "conda packages built by this service's conda builder: it packs gzip layers shared between images. "
            "Omit buildCompression, or use buildTemplate 'conda/micromamba:v2' for zstd"
        )
    if mode == "estargz":
        raise InvalidRequest(
            "buildCompression mode 'estargz' is not supported by this service: its builder (buildah 1.28) "
            "cannot write estargz layers; use gzip or zstd"
        )
    if compression.get("force"):
        raise InvalidRequest(
            "buildCompression 'force' is not supported by this service: its builder (buildah 1.28) cannot "
            "recompress base image layers the registry already holds; omit force"
        )
    return {"compression": {k: v for k, v in compression.items() if k in ("mode", "level")}}


def push_flags(compression: dict | None) -> list[str]:
    """`buildah push` arguments for a build record's compression."""
    if not compression:
        return []
    flags = ["--compression-format", compression.get("mode") or "gzip"]
    if compression.get("level") is not None:
        flags += ["--compression-level", str(compression["level"])]
    return flags
