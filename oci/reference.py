"""Image references with the Docker Hub rules (go-containerregistry's `name` package)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidReference

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_MAX_NAME = 255


def _is_registry_host(segment: str) -> bool:
    return "." in segment or ":" in segment or segment == "localhost" or segment.startswith("[")


@dataclass(frozen=True)
class Repository:
    registry: str  # host[:port], `docker.io` for Docker Hub
    path: str  # e.g. `library/ubuntu`

    def __str__(self) -> str:
        return f"{self.registry}/{self.path}"


@dataclass(frozen=True)
class Reference:
    registry: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> Repository:
        return Repository(self.registry, self.path)

    @property
    def reference(self) -> str:
        """What goes in `/v2/<name>/manifests/<reference>`: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def path_and_reference(self) -> str:
        """`path:tag` or `path@digest`, the part of an image name after the registry."""
        return f"{self.path}@{self.digest}" if self.digest else f"{self.path}:{self.tag or 'latest'}"

    def __str__(self) -> str:
        return f"{self.registry}/{self.path_and_reference}"


def _split_registry(name: str, original: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and _is_registry_host(first):
        if not _HOST.match(first):
            raise InvalidReference(f"Invalid registry host '{first}' in image reference '{original}'")
        registry = DOCKER_HUB if first.lower() in _HUB_ALIASES else first
        path = rest
    else:
        registry, path = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path


def _check_path(path: str, original: str) -> None:
    if not path or len(path) > _MAX_NAME:
        raise InvalidReference(f"Invalid image name in reference '{original}'")
    for component in path.split("/"):
        if not _COMPONENT.match(component):
            raise InvalidReference(
                f"Invalid image reference '{original}': '{component}' is not a valid name component "
                "(lowercase letters, digits and separators '.', '_', '__', '-')"
            )


def parse_reference(value: object) -> Reference:
    """Parse `[registry/]path[:tag][@digest]`; the registry defaults to Docker Hub, the tag to `latest`."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidReference(f"Invalid image reference '{value}'")
    original = value
    if "://" in value:
        raise InvalidReference(f"Invalid image reference '{original}': it must not have a scheme prefix")
    name, digest = value, None
    if "@" in value:
        name, _, digest = value.partition("@")
        if not _DIGEST.match(digest):
            raise InvalidReference(f"Invalid digest '{digest}' in image reference '{original}'")
    tag = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            raise InvalidReference(f"Invalid tag '{tag}' in image reference '{original}'")
    registry, path = _split_registry(name, original)
    _check_path(path, original)
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, path, tag, digest)


def parse_repository(value: object) -> Repository:
    """Parse a repository to push to: a registry host is required, a tag or digest is not allowed."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidReference(f"Invalid repository '{value}'")
    if "://" in value:
        raise InvalidReference(f"Invalid repository '{value}': it must not have a scheme prefix")
    if "@" in value or value.rfind(":") > value.rfind("/"):
        raise InvalidReference(f"Invalid repository '{value}': it must not have a tag or digest")
    first, sep, rest = value.partition("/")
    if not sep or not _is_registry_host(first):
        raise InvalidReference(f"Invalid repository '{value}': it must start with a registry host, e.g. 'localhost:5000/{value}'")
    registry, path = _split_registry(value, value)
    _check_path(path, value)
    return Repository(registry, path)
