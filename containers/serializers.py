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
    location = StrictCharField(
        help_text="Specifies a container image layer stored as a tar.gz file: either an HTTP URL to the file or a base64 encoded string prefixed with data:.",
    )
    gzipDigest = StrictCharField(help_text="The SHA256 checksum of the provided layer tar gzip file, e.g. sha256:a7c724b02....")
    gzipSize = StrictIntegerField(help_text="The size in bytes of the provided layer tar gzip file.")
    tarDigest = StrictCharField(help_text="The SHA256 checksum of the provided tar file, e.g. sha256:a7c724b02....")
    skipHashing = StrictBooleanField(  # Nextflow writes it unset as null
        required=False, allow_null=True,
        help_text="Nextflow's flag (sent as null); accepted and ignored: the layer is always checked against its digests.",
    )

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
    entrypoint = StringListField(
        required=False, allow_null=True,
        help_text="The container entrypoint command, e.g. ['/bin/bash'] (optional).",
    )
    cmd = StringListField(
        required=False, allow_null=True,
        help_text="The launch command to be used by the Wave container, e.g. ['echo', 'Hello world'] (optional).",
    )
    env = StringListField(
        required=False, allow_null=True,
        help_text="The environment variables to be defined in the Wave container, e.g. ['FOO=one','BAR=two'] (optional).",
    )
    workingDir = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="The work directory to be used in the Wave container, e.g. /some/work/dir (optional).",
    )
    layers = LayerSerializer(
        many=True, required=False, allow_null=True,
        help_text="Container image layers, each a tar.gz file, appended to the image in order (optional).",
    )

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
    mambaImage = StrictCharField(
        required=False, allow_null=True,
        help_text="Name of the docker image used to build Conda containers (accepted; this service installs with py-rattler).",
    )
    baseImage = StrictCharField(
        required=False, allow_null=True,
        help_text="The image the conda environment is installed on top of, e.g. docker.io/library/debian:bookworm-slim.",
    )
    commands = StringListField(
        required=False, allow_null=True,
        help_text="Commands to be included in the container, run after the packages are installed.",
    )
    basePackages = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Names of base packages, installed with the requested ones.",
    )

    def validate_mambaImage(self, value: str | None) -> str | None:
        return image_reference(value)

    def validate_baseImage(self, value: str | None) -> str | None:
        return image_reference(value)


class PackagesSerializer(serializers.Serializer):
    type = StrictCharField(help_text="This represents the type of package builder. Use CONDA (or CRAN).")
    environment = StrictCharField(
        required=False, allow_null=True,
        help_text="The package environment file encoded as a base64 string (a conda environment YAML or an @EXPLICIT lock).",
    )
    entries = StringListField(
        required=False, allow_null=True,
        help_text="List of the packages names, e.g. [\"salmon\", \"bwa=0.7.17\"].",
    )
    channels = StringListField(
        required=False, allow_null=True,
        help_text="List of Conda channels, which will be used to download packages, e.g. [\"conda-forge\", \"bioconda\"].",
    )
    condaOpts = CondaOptsSerializer(
        required=False, allow_null=True,
        help_text="Options of a CONDA build: base image, base packages and commands.",
    )
    pixiOpts = PixiOptsSerializer(
        required=False, allow_null=True,
        help_text="Options of a build with the conda/pixi template: pixi image, base image, base packages and commands.",
    )
    cranOpts = CranOptsSerializer(
        required=False, allow_null=True,
        help_text="Options of a CRAN build: R image, base packages and commands.",
    )
    spackOpts = serializers.DictField(
        required=False, allow_null=True,
        help_text="Deprecated Spack options; Spack builds are refused by this service.",
    )

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

    containerImage = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Name of the container to be served, e.g. docker.io/library/ubuntu:latest (optional). If omitted, the containerFile or packages must be provided.",
    )
    containerFile = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Dockerfile used for building a new container encoded in base64 (optional). When provided, the attribute containerImage must be omitted.",
    )
    containerConfig = ContainerConfigSerializer(
        required=False, allow_null=True,
        help_text="Changes to the served image: entrypoint, cmd, env, working directory and layers to append (optional).",
    )
    condaFile = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Conda environment file encoded as base64 string (/container-token only; /v1alpha2/container takes packages).",
    )
    spackFile = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Deprecated Spack recipe file encoded as base64 string; refused by this service (use packages of type CONDA).",
    )
    packages = PackagesSerializer(
        required=False, allow_null=True,
        help_text="This object specifies Conda packages environment information (or CRAN packages).",
    )
    containerPlatform = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Target container architecture of the built container, e.g. linux/amd64 (optional). Currently only supporting amd64 and arm64.",
    )
    buildRepository = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Container repository where container builds should be pushed, e.g. docker.io/user/my-image (optional).",
    )
    cacheRepository = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Container repository used to cache build layers, e.g. docker.io/user/my-cache (optional).",
    )
    timestamp = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Request submission timestamp using ISO-8601.",
    )
    fingerprint = StrictCharField(required=False, allow_null=True, allow_blank=True, help_text="Request unique fingerprint.")
    freeze = StrictBooleanField(
        required=False, allow_null=True,
        help_text="Freeze requires buildRepository to push the build container to a user-defined repository. This provides the container URL from the user-defined repository, not the Wave generated URL. This URL won't change.",
    )
    format = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Image format: docker (default) or sif (Singularity, pushed as oras://; requires freeze).",
    )
    nameStrategy = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="The name strategy to be used to create the name of the container built by Wave. Its values can be none, tagPrefix, or imageSuffix.",
    )
    buildTemplate = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Wave's build template for packages, e.g. conda/pixi:v1 or conda/micromamba:v2 (optional).",
    )
    buildCompression = BuildCompressionSerializer(
        required=False, allow_null=True,
        help_text="Compression of the built image's layers: mode (gzip, zstd or estargz), level and force (optional).",
    )
    towerAccessToken = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Access token of the user account granting access to the Seqera Platform service specified via towerEndpoint (optional); a token of this service works too, as does sending it as 'Authorization: Bearer <token>'.",
    )
    towerRefreshToken = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Seqera Platform refresh token (optional); accepted and not used by this service.",
    )
    towerEndpoint = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Seqera Platform service endpoint from where container registry credentials are retrieved (optional). Default https://api.cloud.seqera.io.",
    )
    towerWorkspaceId = StrictIntegerField(
        required=False, allow_null=True,
        help_text="ID of the Seqera Platform workspace from where the container registry credentials are retrieved (optional). When omitted the personal workspace is used.",
    )
    dryRun = StrictBooleanField(
        required=False, allow_null=True,
        help_text="When true, answer as for a real request without building or storing anything.",
    )
    scanMode = StrictCharField(
        required=False, allow_null=True,
        help_text="Security scan mode: none, async or required (scans are not run by this service; see README).",
    )
    scanLevels = StringListField(
        required=False, allow_null=True,
        help_text="Vulnerability levels the scan reports, e.g. [\"HIGH\", \"CRITICAL\"].",
    )
    mirror = StrictBooleanField(
        required=False, allow_null=True,
        help_text="When true, copy containerImage into buildRepository (a mirror) instead of serving or building it.",
    )
    buildContext = LayerSerializer(  # wave-cli --context
        required=False, allow_null=True,
        help_text="A tar.gz layer holding the Dockerfile build's context (wave-cli --context); same attributes as a layer.",
    )
    containerIncludes = StringListField(  # wave-cli --include
        required=False, allow_null=True,
        help_text="Images whose layers are added on top of containerImage when it is pulled (wave-cli --include).",
    )

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
    containerImage = StrictCharField(help_text="Name of the container to be inspected, e.g. docker.io/library/ubuntu:latest.")
    towerAccessToken = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Access token of the user account granting access to the Seqera Platform service specified via towerEndpoint (optional); a token of this service works too, as does sending it as 'Authorization: Bearer <token>'.",
    )
    towerEndpoint = StrictCharField(
        required=False, allow_null=True, allow_blank=True,
        help_text="Seqera Platform service endpoint from where container registry credentials are retrieved (optional). Default https://api.cloud.seqera.io.",
    )
    towerWorkspaceId = StrictIntegerField(
        required=False, allow_null=True,
        help_text="ID of the Seqera Platform workspace from where the container registry credentials are retrieved (optional). When omitted the personal workspace is used.",
    )

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise _error(f"The request body must be a JSON object, not {shown(data)}")
        return super().to_internal_value(data)

    def validate_containerImage(self, value: str) -> str:
        return image_reference(value)


class ContainerResponseSerializer(serializers.Serializer):
    requestId = serializers.CharField(
        required=False,
        help_text="The unique id of the container request, e.g. 732b73aa17c8 (also its containerToken when it has one).",
    )
    containerToken = serializers.CharField(
        required=False,
        help_text="The unique token identifying the Wave container request, e.g. 0123456789.",
    )
    targetImage = serializers.CharField(
        help_text="The Wave container image name, e.g. wave.seqera.io/wt/0123456789/library/ubuntu:latest.",
    )
    expiration = serializers.DateTimeField(
        required=False,
        help_text="The expiration timestamp of the Wave container using ISO-8601 format.",
    )
    containerImage = serializers.CharField(
        required=False,
        help_text="The image the request serves or builds: the source image, or the built image's name in its repository.",
    )
    buildId = serializers.CharField(
        required=False,
        help_text="The id of the build that makes the image, e.g. 5e49881e6ad74121_1 (absent when nothing is built).",
    )
    cached = serializers.BooleanField(
        required=False,
        help_text="Indicates if the requested image is built or in progress (false), or was already built (true).",
    )
    freeze = serializers.BooleanField(
        help_text="Whether the image is frozen: pushed to buildRepository and named there rather than by a Wave token.",
    )
    mirror = serializers.BooleanField(
        required=False,
        help_text="Whether the request is a mirror (containerImage copied into buildRepository).",
    )
    succeeded = serializers.BooleanField(required=False, help_text="Whether the build or mirror succeeded, once it is known.")


class ContainerStatusSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The request's id.")
    status = serializers.ChoiceField(
        choices=["PENDING", "BUILDING", "DONE"],
        help_text="PENDING, BUILDING (a build or mirror runs) or DONE.",
    )
    buildId = serializers.CharField(required=False, help_text="The id of the request's build, if any.")
    mirrorId = serializers.CharField(required=False, help_text="The id of the request's mirror, if any.")
    creationTime = serializers.DateTimeField(help_text="When the request was made (ISO-8601).")
    succeeded = serializers.BooleanField(required=False, help_text="Whether the request's build or mirror succeeded (once DONE).")
    reason = serializers.CharField(required=False, help_text="Why the build or mirror failed (once DONE and not succeeded).")
    detailsUri = serializers.CharField(required=False, help_text="The address of the request's page for people.")
    duration = serializers.FloatField(required=False, help_text="seconds, always with a fraction")
