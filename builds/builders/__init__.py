"""Builder backends: each turns a build context into an image pushed to a registry."""

from __future__ import annotations

from django.conf import settings

from .base import Builder, BuildSpec


def get_builder() -> Builder:
    name = settings.WAVE_BUILDER
    if name == "buildah":
        from .buildah import BuildahBuilder

        return BuildahBuilder(settings.WAVE_DATA_DIR / "buildah")
    raise ValueError(f"Unknown builder backend '{name}' (WAVE_BUILDER); available: buildah")


__all__ = ["Builder", "BuildSpec", "get_builder"]
