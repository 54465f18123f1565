"""A validated container request as one immutable value (`ContainerRequestSpec`).

`containers.serializers.ContainerRequestSerializer.to_spec()` makes it; the container service, the
build planner, mirrors, includes and scans take it instead of the serializer's `validated_data`
dict. It lives in `builds/`, the lowest app that reads it, so that `containers` → `builds` stays the
only direction. Lists are tuples and nested objects read-only mappings (`frozen`), so no service can
change what another one sees; `thawed` gives the plain JSON a record stores. The body as the client
sent it travels with it (`body`) for the audit copy (`containers.services.stored_request`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

JsonObject = Mapping[str, Any]  # a read-only JSON object (see `frozen`)


def frozen(value: Any) -> Any:
    """JSON made read-only: dicts become mappings that refuse writes, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


def thawed(value: Any) -> Any:
    """Plain JSON again (dicts and lists), as a record stores it."""
    if isinstance(value, Mapping):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thawed(v) for v in value]
    return value


@dataclass(frozen=True)
class Packages:
    """`packages`: conda or CRAN packages, by entries or by an environment file."""

    type: str  # CONDA or CRAN
    entries: tuple[str, ...] = ()
    environment: str | None = None  # decoded
    channels: tuple[str, ...] | None = None
    conda_opts: JsonObject | None = None
    pixi_opts: JsonObject | None = None
    cran_opts: JsonObject | None = None

    @classmethod
    def from_validated(cls, data: dict) -> Packages:
        return cls(
            type=data["type"], entries=tuple(data.get("entries") or ()), environment=data.get("environment"),
            channels=frozen(data.get("channels")), conda_opts=frozen(data.get("condaOpts")),
            pixi_opts=frozen(data.get("pixiOpts")), cran_opts=frozen(data.get("cranOpts")),
        )


@dataclass(frozen=True)
class BuildCompression:
    """`buildCompression` with its nulls dropped."""

    mode: str | None = None
    level: int | None = None
    force: bool | None = None

    def set_values(self) -> dict:
        """The attributes the client set to something (a false `force` is no request)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, False)}


@dataclass(frozen=True)
class ContainerRequestSpec:
    """What a client asked for, validated. `platform`, `format` and `freeze` always have a value."""

    platform: str
    format: str = "docker"
    freeze: bool = False
    container_image: str | None = None
    container_file: str | None = None  # decoded
    container_config: JsonObject | None = None  # entrypoint, cmd, env, workingDir, layers (empties dropped)
    conda_file: str | None = None  # decoded; the legacy /container-token form
    packages: Packages | None = None
    build_repository: str | None = None
    cache_repository: str | None = None
    name_strategy: str | None = None
    build_template: str | None = None
    build_compression: BuildCompression | None = None
    build_context: JsonObject | None = None  # a layer: location, gzipDigest, gzipSize, tarDigest
    container_includes: tuple[str, ...] = ()
    scan_mode: str | None = None
    scan_levels: tuple[str, ...] | None = None
    mirror: bool = False
    dry_run: bool = False
    tower_endpoint: str | None = None
    tower_workspace_id: int | None = None
    tower_access_token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log
    body: JsonObject = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    @classmethod
    def from_validated(cls, data: dict, body: dict) -> ContainerRequestSpec:
        """From `ContainerRequestSerializer.validated_data` and the body it validated."""
        compression = data.get("buildCompression")
        return cls(
            platform=data["containerPlatform"], format=data["format"], freeze=data["freeze"],
            container_image=data.get("containerImage"), container_file=data.get("containerFile"),
            container_config=frozen(data.get("containerConfig")), conda_file=data.get("condaFile"),
            packages=Packages.from_validated(data["packages"]) if data.get("packages") else None,
            build_repository=data.get("buildRepository"), cache_repository=data.get("cacheRepository"),
            name_strategy=data.get("nameStrategy"), build_template=data.get("buildTemplate"),
            build_compression=BuildCompression(**compression) if compression is not None else None,
            build_context=frozen(data.get("buildContext")),
            container_includes=tuple(data.get("containerIncludes") or ()),
            scan_mode=data.get("scanMode"), scan_levels=frozen(data.get("scanLevels")),
            mirror=bool(data.get("mirror")), dry_run=bool(data.get("dryRun")),
            tower_endpoint=data.get("towerEndpoint"), tower_workspace_id=data.get("towerWorkspaceId"),
            tower_access_token=data.get("towerAccessToken"), body=frozen(body),
        )

    @property
    def layers(self) -> tuple[JsonObject, ...]:
        """`containerConfig.layers`, or none."""
        return (self.container_config or {}).get("layers") or ()

    @property
    def builds(self) -> bool:
        """Whether the request makes a build (a recipe, packages, or a freeze), not a proxied image."""
        return bool(self.container_file or self.packages or self.conda_file or self.freeze)

    def with_layers(self, added: list[dict]) -> ContainerRequestSpec:
        """The same request with `added` layers after the config's own (included images)."""
        config = {**(self.container_config or {}), "layers": (*self.layers, *frozen(added))}
        return dataclasses.replace(self, container_config=MappingProxyType(config))
