"""Wave's rules for `mirror: true` (`ContainerController.validateMirrorRequest`), in its order and words."""

from __future__ import annotations

from django.conf import settings

from oci.errors import OciError
from oci.reference import parse_reference, parse_repository

MAX_IMAGE = 512  # the longest image name a mirror record keeps


def mirror_error(attrs: dict, initial: dict, legacy: bool) -> str | None:
    """Why a mirror request is refused, or None. `attrs` are validated attributes, `initial` the body
    (for attributes the serializer does not declare)."""
    if not attrs.get("mirror"):
        return None
    if legacy:
        return "Container mirroring requires the use of v2 API"
    if not attrs.get("containerImage"):
        return "Attribute `containerImage` is required when specifying `mirror` mode"
    if not attrs.get("towerAccessToken"):
        return "Container mirroring requires an authenticated request - specify the tower token attribute"
    conflicts = {
        "freeze": attrs.get("freeze"),
        "containerFile": attrs.get("containerFile"),
        "containerIncludes": initial.get("containerIncludes"),
        "containerConfig": attrs.get("containerConfig"),  # Nextflow's all-null object is empty by now
    }
    for name, value in conflicts.items():
        if value:
            return f"Attribute `mirror` and `{name}` conflict each other"
    repository = attrs.get("buildRepository")
    if not repository:
        return "Attribute `buildRepository` is required when specifying `mirror` mode"
    if parse_reference(attrs["containerImage"]).registry == parse_repository(repository).registry:
        return f"Source and target mirror registry are the same - offending value '{repository}'"
    if parse_repository(repository).registry in own_registries():
        return f"Mirror registry not allowed - offending value '{repository}'"
    target = target_image(attrs["containerImage"], repository)
    try:
        parse_reference(target)
    except OciError as exc:
        return f"Attribute `buildRepository` '{repository}' makes an invalid mirror target - {exc}"
    if len(attrs["containerImage"]) > MAX_IMAGE or len(target) > MAX_IMAGE:
        return f"Container image name too long to mirror (at most {MAX_IMAGE} characters) - offending value '{target}'"
    return None


def own_registries() -> set[str]:
    """The registries of the service's build and cache repositories, and every registry it holds
    credentials of its own for (aliases included): a mirror, which picks its own tag, must never
    push there with the service's credentials (it could replace a base image every build uses)."""
    repositories = (settings.WAVE_BUILD_REPOSITORY, settings.WAVE_CACHE_REPOSITORY)
    return {parse_repository(r).registry for r in repositories} | set(settings.WAVE_REGISTRY_CREDENTIALS)


def target_image(source: str, repository: str) -> str:
    """`<buildRepository>/<image path and tag>`, as Wave names a mirror's target."""
    return f"{repository}/{parse_reference(source).path_and_reference}"
