"""Validation of the build options beyond conda: `packages.pixiOpts`, `packages.cranOpts`, CRAN
packages and `buildCompression`. Their values end up in a generated Dockerfile, so a value that
could break out of its line or its quotes is refused with a message naming it."""

from __future__ import annotations

import re

from rest_framework import serializers

from builds.compression import LEVELS, MODES
from oci.errors import OciError
from oci.reference import parse_reference
from wave_site.fields import StrictBooleanField, StrictCharField, StrictIntegerField, StringListField, shown

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# `dplyr`, `dplyr=1.1.0` (wave-cli's example), `bioc::GenomicRanges`: what Wave quotes for install2.r.
_CRAN_ENTRY = re.compile(r"^(?:bioc::)?[A-Za-z][A-Za-z0-9._]*(?:=[A-Za-z0-9._-]+)?$")
_CRAN_REPOSITORY = re.compile(r"^https?://[A-Za-z0-9.:/_~%+-]+$")


def image_reference(value: str | None) -> str | None:
    """The value, when it parses as an image reference (a 400 naming why, else)."""
    if value:
        try:
            parse_reference(value)
        except OciError as exc:
            raise serializers.ValidationError(str(exc)) from None
    return value


def _one_line(value: str | None) -> str | None:
    if value and _CONTROL.search(value):
        raise serializers.ValidationError(f"must be one line of text, not '{shown(value)}'")
    return value


class _ImageOpts(serializers.Serializer):
    basePackages = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Names of base packages, installed with the requested ones.",
    )
    commands = StringListField(
        required=False, allow_null=True,
        help_text="Commands to be included in the container, run after the packages are installed.",
    )

    def validate_basePackages(self, value: str | None) -> str | None:
        return _one_line(value)


class PixiOptsSerializer(_ImageOpts):
    pixiImage = StrictCharField(
        required=False, allow_null=True,
        help_text="The image with pixi used by the conda/pixi template (optional).",
    )
    baseImage = StrictCharField(
        required=False, allow_null=True,
        help_text="The image the pixi environment is copied onto (optional).",
    )

    def validate_pixiImage(self, value: str | None) -> str | None:
        return image_reference(value)

    def validate_baseImage(self, value: str | None) -> str | None:
        return image_reference(value)


class CranOptsSerializer(_ImageOpts):
    rImage = StrictCharField(
        required=False, allow_null=True,
        help_text="The image with R used to install CRAN packages (optional).",
    )

    def validate_rImage(self, value: str | None) -> str | None:
        return image_reference(value)


def validate_cran(attrs: dict) -> None:
    """CRAN packages: entries (no environment file), CRAN-like names, repositories `cran`,
    `bioconductor` or an http(s) URL."""
    if attrs.get("environment") or not attrs.get("entries"):
        raise serializers.ValidationError(
            {"non_field_errors": ["Attribute 'packages' of type CRAN needs 'entries' (an environment file is for CONDA)"]}
        )
    for entry in attrs["entries"]:
        if not _CRAN_ENTRY.match(entry):
            raise serializers.ValidationError({"entries": [f"'{shown(entry)}' is not a CRAN package name (e.g. dplyr, dplyr=1.1.0, bioc::GenomicRanges)"]})
    for repo in attrs.get("channels") or []:
        if repo.lower() not in ("cran", "bioconductor") and not _CRAN_REPOSITORY.match(repo):
            raise serializers.ValidationError({"channels": [f"'{shown(repo)}' is not a CRAN repository: use cran, bioconductor or an http(s) URL"]})


class BuildCompressionSerializer(serializers.Serializer):
    """`{mode, level, force}` as Nextflow sends it (nulls included); wave-cli sends `{mode}`."""

    mode = StrictCharField(required=False, allow_null=True, help_text="Layer compression: gzip, zstd or estargz.")
    level = StrictIntegerField(
        required=False, allow_null=True,
        help_text="Compression level (the mode's own range), or null for its default.",
    )
    force = StrictBooleanField(required=False, allow_null=True, help_text="Recompress the base image's layers too.")

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"must be an object, not {shown(data)}")
        return super().to_internal_value(data)

    def validate_mode(self, value: str | None) -> str | None:
        if value is not None and value not in MODES:
            raise serializers.ValidationError(f"unsupported compression mode '{shown(value)}'; use one of {', '.join(MODES)}")
        return value

    def validate(self, attrs: dict) -> dict:
        mode, level = attrs.get("mode") or "gzip", attrs.get("level")
        low, high = LEVELS[mode]
        if level is not None and not low <= level <= high:
            raise serializers.ValidationError(
                {"level": [f"{level} is not a {mode} compression level: use {low} to {high}"]}
            )
        return {k: v for k, v in attrs.items() if v is not None}
