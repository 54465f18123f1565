"""Builder backends: each turns a build context into an image pushed to a registry."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from .base import Builder, BuildSpec


def builder_storage() -> Path:
    """Where the builder keeps its images and working containers (the layer cache)."""
    return settings.WAVE_DATA_DIR / "buildah"


def get_builder() -> Builder:
    name = settings.WAVE_BUILDER
    if name == "buildah":
        from .buildah import BuildahBuilder

        return BuildahBuilder(builder_storage())
    raise ValueError(f"Unknown builder backend '{name}' (WAVE_BUILDER); available: buildah")


__all__ = ["Builder", "BuildSpec", "builder_storage", "get_builder"]
