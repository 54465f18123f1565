"""Validation of container requests (SPEC section 2); every message names the attribute and the value."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

from builds.naming import NAME_STRATEGIES
from builds.recipes import BUILD_TEMPLATES
from builds.request_spec import ContainerRequestSpec
from containers.build_options import (
    BuildCompressionSerializer,
    CranOptsSerializer,
    PixiOptsSerializer,
    image_reference,
    validate_cran,
)
from mirrors.validation import mirror_error
from containers.includes import too_many
from oci.digest import parse_digest
from oci.errors import OciError
from oci.platform import parse_platform
from oci.reference import parse_repository
from wave_site.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StringListField,
    decode_base64,
    shown,
)

from .scanning import SCAN_LEVELS, SCAN_MODES

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=", re.S)
_BUILDER_SECRETS = ("/.docker/config.json", "/kaniko")
DATA_URI_PREFIX = re.compile(r"^data:(?:[\w.+/-]*;base64,)?")


def _error(message: str) -> serializers.ValidationError:
    return serializers.ValidationError({"non_field_errors": [message]})


class LayerSerializer(serializers.Serializer):
    location = StrictCharField()
    gzipDigest = StrictCharField()
    gzipSize = StrictIntegerField()
    tarDigest = StrictCharField()
    skipHashing = StrictBooleanField(required=False, allow_null=True)  # Nextflow writes it unset as null

    def validate_location(self, value: str) -> str:
        if value.startswith(("http://", "https://")):
            return value
        if value.startswith("data:"):
            payload = DATA_URI_PREFIX.sub("", value, count=1)
            if not payload:
                raise serializers.ValidationError("data: layer location carries no content")
            return value
        raise serializers.ValidationError(f"must be an http(s):// URL or a data: URI, not '{shown(value)}'")

    def _digest(self, value: str) -> str:
        try:
            return parse_digest(value)
        except OciError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_gzipDigest(self, value: str) -> str:
        return self._digest(value)

    def validate_tarDigest(self, value: str) -> str:
        return self._digest(value)

    def validate_gzipSize(self, value: int) -> int:
        if value <= 0:
            raise serializers.ValidationError(f"must be a positive number of bytes, not {value}")
        if value > settings.WAVE_MAX_LAYER_SIZE:
            raise serializers.ValidationError(
                f"{value} bytes is larger than the {settings.WAVE_MAX_LAYER_SIZE} bytes allowed for a layer"
            )
        return value


class ContainerConfigSerializer(serializers.Serializer):
    entrypoint = StringListField(required=False, allow_null=True)
    cmd = StringListField(required=False, allow_null=True)
    env = StringListField(required=False, allow_null=True)
    workingDir = StrictCharField(required=False, allow_null=True, allow_blank=True)
    layers = LayerSerializer(many=True, required=False, allow_null=True)

    def validate_env(self, value: list[str] | None) -> list[str] | None:
        for entry in value or []:
            if not _ENV.match(entry):
                raise serializers.ValidationError(f"entries must look like NAME=value, not '{shown(entry)}'")
        return value

    def validate_workingDir(self, value: str | None) -> str | None:
        if value and not value.startswith("/"):
            raise serializers.ValidationError(f"must be an absolute path, not '{shown(value)}'")
        return value

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError(f"must be an object, not {shown(data)}")
        layers = data.get("layers")
        if isinstance(layers, list) and len(layers) > settings.WAVE_MAX_LAYERS:  # before each one is validated
            raise serializers.ValidationError(
                {"layers": f"{len(layers)} layers are more than the {settings.WAVE_MAX_LAYERS} allowed (WAVE_MAX_LAYERS)"}
            )
        return {k: v for k, v in super().to_internal_value(data).items() if v not in (None, "", [])}


class CondaOptsSerializer(serializers.Serializer):
    mambaImage = StrictCharField(required=False, allow_null=True)
    baseImage = StrictCharField(required=False, allow_null=True)
    commands = StringListField(required=False, allow_null=True)
    basePackages = StrictCharField(required=False, allow_null=True, allow_blank=True)

    def validate_mambaImage(self, value: str | None) -> str | None:
        return image_reference(value)

    def validate_baseImage(self, value: str | None) -> str | None:
        return image_reference(value)


class PackagesSerializer(serializers.Serializer):
    type = StrictCharField()
    environment = StrictCharField(required=False, allow_null=True)
    entries = StringListField(required=False, allow_null=True)
    channels = StringListField(required=False, allow_null=True)
    condaOpts = CondaOptsSerializer(required=False, allow_null=True)
    pixiOpts = PixiOptsSerializer(required=False, allow_null=True)
    cranOpts = CranOptsSerializer(required=False, allow_null=True)
    spackOpts = serializers.DictField(required=False, allow_null=True)

    def validate_type(self, value: str) -> str:
        if value.upper() == "SPACK":
            raise serializers.ValidationError(
                "Spack builds are not supported by this service (the reference deprecated them); use CONDA"
            )
        if value.upper() not in ("CONDA", "CRAN"):
            raise serializers.ValidationError(f"unsupported package type '{shown(value)}'; the supported types are CONDA and CRAN")
        return value.upper()

    def validate_environment(self, value: str | None) -> str | None:
        return decode_base64(value, "packages.environment", settings.WAVE_MAX_CONDA_FILE) if value else None

    def validate_channels(self, value: list[str] | None) -> list[str] | None:
        for channel in value or []:
            if not channel.strip() or any(c.isspace() for c in channel):
                raise serializers.ValidationError(f"'{shown(channel)}' is not a conda channel name or URL")
        return value

    def validate(self, attrs: dict) -> dict:
        entries = [e for e in attrs.get("entries") or [] if e.strip()]
        if not entries and not attrs.get("environment"):
            raise _error("Attribute 'packages' needs 'entries' or 'environment'")
        if entries and attrs.get("environment"):
            raise _error("Attribute 'packages' takes 'entries' or 'environment', not both")
        attrs["entries"] = entries
        if attrs["type"] == "CRAN":
            validate_cran(attrs)
        return attrs


class ContainerRequestSerializer(serializers.Serializer):
    """The body of `POST /v1alpha2/container`; `legacy` in the context switches to `/container-token` rules."""

    containerImage = StrictCharField(required=False, allow_null=True, allow_blank=True)
    containerFile = StrictCharField(required=False, allow_null=True, allow_blank=True)
    containerConfig = ContainerConfigSerializer(required=False, allow_null=True)
    condaFile = StrictCharField(required=False, allow_null=True, allow_blank=True)
    spackFile = StrictCharField(required=False, allow_null=True, allow_blank=True)
    packages = PackagesSerializer(required=False, allow_null=True)
    containerPlatform = StrictCharField(required=False, allow_null=True, allow_blank=True)
    buildRepository = StrictCharField(required=False, allow_null=True, allow_blank=True)
    cacheRepository = StrictCharField(required=False, allow_null=True, allow_blank=True)
    timestamp = StrictCharField(required=False, allow_null=True, allow_blank=True)
    fingerprint = StrictCharField(required=False, allow_null=True, allow_blank=True)
    freeze = StrictBooleanField(required=False, allow_null=True)
    format = StrictCharField(required=False, allow_null=True, allow_blank=True)
    nameStrategy = StrictCharField(required=False, allow_null=True, allow_blank=True)
    buildTemplate = StrictCharField(required=False, allow_null=True, allow_blank=True)
    buildCompression = BuildCompressionSerializer(required=False, allow_null=True)
    towerAccessToken = StrictCharField(required=False, allow_null=True, allow_blank=True)
    towerRefreshToken = StrictCharField(required=False, allow_null=True, allow_blank=True)
    towerEndpoint = StrictCharField(required=False, allow_null=True, allow_blank=True)
    towerWorkspaceId = StrictIntegerField(required=False, allow_null=True)
    dryRun = StrictBooleanField(required=False, allow_null=True)
    scanMode = StrictCharField(required=False, allow_null=True)
    scanLevels = StringListField(required=False, allow_null=True)
    mirror = StrictBooleanField(required=False, allow_null=True)
    buildContext = LayerSerializer(required=False, allow_null=True)  # wave-cli --context
    containerIncludes = StringListField(required=False, allow_null=True)  # wave-cli --include

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise _error(f"The request body must be a JSON object, not {shown(data)}")
        return super().to_internal_value(data)

    # --- single attributes ----------------------------------------------------------------

    def validate_containerImage(self, value: str | None) -> str | None:
        return image_reference(value) or None

    def validate_containerFile(self, value: str | None) -> str | None:
        if not value:
            return None
        text = decode_base64(value, "containerFile", settings.WAVE_MAX_CONTAINER_FILE)
        for marker in _BUILDER_SECRETS:
            if marker in text:
                raise serializers.ValidationError(
                    f"Attribute 'containerFile' is refused: it mentions '{marker}', which holds the builder's own credentials"
                )
        return text

    def validate_condaFile(self, value: str | None) -> str | None:
        return decode_base64(value, "condaFile", settings.WAVE_MAX_CONDA_FILE) if value else None

    def validate_spackFile(self, value: str | None) -> str | None:
        if value:
            raise serializers.ValidationError(
                "Attribute 'spackFile' is not supported: Spack builds are not available on this service "
                "(the reference deprecated them); use packages of type CONDA"
            )
        return None

    def validate_containerPlatform(self, value: str | None) -> str:
        try:
            return str(parse_platform(value or settings.WAVE_DEFAULT_PLATFORM))
        except OciError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def _repository(self, value: str | None) -> str | None:
        if not value:
            return None
        if len(value) > 200:
            raise serializers.ValidationError(f"must be at most 200 characters, not {len(value)}")
        try:
            return str(parse_repository(value))
        except OciError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_buildRepository(self, value: str | None) -> str | None:
        return self._repository(value)

    def validate_cacheRepository(self, value: str | None) -> str | None:
        return self._repository(value)

    def validate_format(self, value: str | None) -> str:
        value = (value or "docker").lower()
        if value not in ("docker", "sif"):
            raise serializers.ValidationError(f"unsupported format '{shown(value)}'; use 'docker' or 'sif'")
        return value

    def validate_buildTemplate(self, value: str | None) -> str | None:
        if value and value not in BUILD_TEMPLATES:
            raise serializers.ValidationError(
                f"Unsupported build template '{shown(value)}'; use one of {', '.join(BUILD_TEMPLATES)}"
            )
        return value or None

    def validate_scanMode(self, value: str | None) -> str | None:
        if value is not None and value not in SCAN_MODES:
            raise serializers.ValidationError(
                f"Attribute 'scanMode' takes one of {', '.join(SCAN_MODES)} - offending value: '{shown(value)}'"
            )
        return value

    def validate_scanLevels(self, value: list[str] | None) -> list[str] | None:
        for level in value or []:
            if level not in SCAN_LEVELS:
                raise serializers.ValidationError(
                    f"Attribute 'scanLevels' takes {', '.join(SCAN_LEVELS)} - offending value: '{shown(level)}'"
                )
        return value
    def validate_containerIncludes(self, value: list[str] | None) -> list[str] | None:
        for image in value or []:
            if not image.strip():
                raise serializers.ValidationError("entries must be image names, not ''")
            image_reference(image)
        return value or None

    def validate_nameStrategy(self, value: str | None) -> str | None:
        if value and value not in NAME_STRATEGIES:
            raise serializers.ValidationError(
                f"Unsupported image naming strategy '{shown(value)}'; use one of {', '.join(NAME_STRATEGIES)}"
            )
        return value or None

    # --- the request as a whole -----------------------------------------------------------

    def validate(self, attrs: dict) -> dict:
        legacy = self.context.get("legacy", False)
        initial = self.initial_data
        if message := mirror_error(attrs, initial, legacy, self.context.get("bearer", False)):  # Wave checks these first
            raise _error(message)
        if legacy:
            for name in ("packages", "nameStrategy"):
                if initial.get(name) is not None:
                    raise _error(f"Attribute '{name}' is not supported by /container-token; use /v1alpha2/container")
        elif initial.get("condaFile"):
            raise _error("Attribute 'condaFile' is not supported by /v1alpha2/container; use 'packages' instead")

        image, dockerfile = attrs.get("containerImage"), attrs.get("containerFile")
        packages, conda = attrs.get("packages"), attrs.get("condaFile")
        freeze = bool(attrs.get("freeze"))
        attrs["freeze"] = freeze
        attrs["containerPlatform"] = attrs.get("containerPlatform") or self.validate_containerPlatform(None)
        attrs["format"] = attrs.get("format") or "docker"
        if not image and not dockerfile and not packages and not conda:
            raise _error("Specify either 'containerImage', 'containerFile' or 'packages'")
        if image and dockerfile:
            raise _error("Attributes 'containerImage' and 'containerFile' cannot be used in the same request")
        if image and (packages or conda):
            raise _error("Attribute 'containerImage' cannot be used together with 'packages' or 'condaFile'")
        if dockerfile and packages:
            raise _error("Attributes 'containerFile' and 'packages' cannot be used in the same request")
        if freeze and not attrs.get("buildRepository"):
            raise _error("Attribute 'freeze' requires 'buildRepository': a frozen image is pushed to your own repository")
        if attrs.get("format") == "sif" and not freeze:  # Wave's own message
            raise _error("Singularity build is only allowed enabling freeze mode - see 'wave.freeze' setting")
        if image and attrs.get("containerConfig") and "@" in image:
            raise _error(
                f"Attribute 'containerImage' '{image}' is pinned by digest and cannot be combined with "
                "'containerConfig': augmenting an image changes its digest. Use a tag instead"
            )
        if message := too_many(attrs.get("containerIncludes") or []):
            raise _error(message)  # Wave's message
        if attrs.get("containerIncludes") and freeze:
            raise _error(
                "Attributes 'containerIncludes' and 'freeze' cannot be used together on this service: "
                "included layers are added when the image is pulled"
            )
        if image and attrs.get("containerIncludes") and "@" in image:
            raise _error(
                f"Attribute 'containerImage' '{image}' is pinned by digest and cannot be combined with "
                "'containerIncludes': adding layers changes its digest. Use a tag instead"
            )
        if attrs.get("buildContext") and not dockerfile:
            raise _error("Attribute 'buildContext' requires 'containerFile': a build context is only used by a Dockerfile build")
        return attrs

    def to_spec(self) -> ContainerRequestSpec:
        """The validated request as one immutable value, the body it came as kept beside it."""
        return ContainerRequestSpec.from_validated(self.validated_data, self.initial_data)


class InspectRequestSerializer(serializers.Serializer):
    containerImage = StrictCharField()
    towerAccessToken = StrictCharField(required=False, allow_null=True, allow_blank=True)
    towerEndpoint = StrictCharField(required=False, allow_null=True, allow_blank=True)
    towerWorkspaceId = StrictIntegerField(required=False, allow_null=True)

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise _error(f"The request body must be a JSON object, not {shown(data)}")
        return super().to_internal_value(data)

    def validate_containerImage(self, value: str) -> str:
        return image_reference(value)


class ContainerResponseSerializer(serializers.Serializer):
    requestId = serializers.CharField(required=False)
    containerToken = serializers.CharField(required=False)
    targetImage = serializers.CharField()
    expiration = serializers.DateTimeField(required=False)
    containerImage = serializers.CharField(required=False)
    buildId = serializers.CharField(required=False)
    cached = serializers.BooleanField(required=False)
    freeze = serializers.BooleanField()
    mirror = serializers.BooleanField(required=False)
    succeeded = serializers.BooleanField(required=False)


class ContainerStatusSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=["PENDING", "BUILDING", "DONE"])
    buildId = serializers.CharField(required=False)
    mirrorId = serializers.CharField(required=False)
    creationTime = serializers.DateTimeField()
    succeeded = serializers.BooleanField(required=False)
    reason = serializers.CharField(required=False)
    detailsUri = serializers.CharField(required=False)
    duration = serializers.FloatField(required=False, help_text="seconds, always with a fraction")
