"""What a build needs on disk and from the registries: its context folder, credentials, insecure hosts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from accounts.identity import Identity, credentials_for
from oci.client import is_loopback_host
from oci.errors import OciError
from oci.reference import parse_reference
from wave_site.storage import Unreachable

from .builders import BuildSpec
from .builders.base import BuildFailed
from .context_archive import ContextError, Limits, unpack
from .blobs import open_blob
from .models import Build
from .sandbox import SandboxSpec
from .recipes import layer_file_name

FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)
# `COPY --from=<image>` and `RUN --mount=...,from=<image>`: images too, when not a stage name.
FROM_FLAG = re.compile(r"[-,]from=([^\s,]+)", re.IGNORECASE)


def context_limits() -> Limits:
    """What a `buildContext` archive may hold (checked when it arrives, and again when unpacked)."""
    return Limits(
        entries=settings.WAVE_MAX_CONTEXT_ENTRIES, size=settings.WAVE_MAX_CONTEXT_SIZE, ratio=settings.WAVE_MAX_LAYER_RATIO
    )


def write_context(build: Build, work: Path) -> Path:
    """The build context: the request's `buildContext` unpacked, then the Dockerfile, the conda file,
    and any layers a freeze adds (these win over files of the same name in the `buildContext`)."""
    context = work / "context"
    context.mkdir()
    if archive := build.context.get("buildContext"):
        with _stored(archive["gzipDigest"], "build context") as stream:
            try:
                unpack(stream, context, context_limits())
            except ContextError as exc:
                raise BuildFailed(str(exc), 1) from None
    _write(context / "Dockerfile", build.container_file.encode())
    if build.conda_file:
        _write(context / "conda.yml", build.conda_file.encode())
    for name, file in (build.context.get("files") or {}).items():  # a translated Singularity file's
        _write_generated(context, name, file["text"], file["mode"])
    for index, layer in enumerate(build.context.get("layers") or []):
        with _stored(layer["gzipDigest"], f"layer {index}") as stream:
            _write(context / layer_file_name(index), stream)
    return context


def _stored(digest: str, what: str) -> BinaryIO:
    """A blob the request stored, streamed from the object store; gone only when every request naming
    it expired (README, Retention). A store that is down fails the build naming the store."""
    try:
        stream = open_blob(digest)
    except Unreachable as exc:
        raise BuildFailed(f"The {what} {digest} could not be read: {exc}", 1) from None
    if stream is None:
        raise BuildFailed(f"The {what} {digest} is no longer stored: request the build again with it", 1)
    return stream


def _write(path: Path, data: bytes | BinaryIO) -> None:
    """Write a file of the service's own (bytes, or a stream copied piece by piece), replacing whatever
    the `buildContext` put there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()
    if isinstance(data, bytes):
        path.write_bytes(data)
        return
    with open(path, "wb") as out:
        shutil.copyfileobj(data, out, 1 << 20)


def _write_generated(context: Path, name: str, text: str, mode: int) -> None:
    """A file the service made at `name` under `context`; links or files the `buildContext` put on
    its way are replaced, never followed."""
    *folders, file_name = Path(name).parts
    path = context
    for part in folders:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        path.mkdir(exist_ok=True)
    _write(path / file_name, text.encode())
    (path / file_name).chmod(mode)


def registries_of(build: Build) -> set[str]:
    """Every registry the build reads from or writes to: FROM images, the build and cache repositories."""
    hosts = {parse_reference(build.target_image).registry}
    if build.cache_repository:
        hosts.add(build.cache_repository.split("/")[0])
    for image in [*FROM_LINE.findall(build.container_file), *FROM_FLAG.findall(build.container_file)]:
        try:
            hosts.add(parse_reference(image).registry)
        except OciError:
            continue  # a stage name, `scratch` or an ARG to be substituted
    return hosts


def _port(host: str) -> int:
    authority = host.rsplit("]", 1)[-1]
    return int(authority.rsplit(":", 1)[1]) if ":" in authority else 80


def sandbox_spec(hosts: set[str]) -> SandboxSpec:
    """The sandbox of a build that names the registries `hosts`. A loopback registry is bridged into
    it by port only when the allow-list names that very `host:port` (an entry without a port allows
    the builder's proxy to the host, never a bridge to all its ports); anything else is reached
    through the egress proxy, or not at all."""
    entries = {entry.strip().lower() for entry in settings.WAVE_SSRF_ALLOWLIST}
    forwards = {}
    for host in sorted(hosts):
        if is_loopback_host(host) and host.lower() in entries and ":" in host.rsplit("]", 1)[-1]:
            forwards[_port(host)] = host.rsplit(":", 1)[0].strip("[]")
    return SandboxSpec(
        network=settings.WAVE_BUILD_NETWORK,
        allowlist=tuple(settings.WAVE_SSRF_ALLOWLIST),
        forwards=forwards,
        memory=settings.WAVE_BUILD_MEMORY,
        cpus=settings.WAVE_BUILD_CPUS,
        pids=settings.WAVE_BUILD_PIDS,
        run_ports=frozenset(settings.WAVE_BUILD_EGRESS_PORTS),
    )


def build_spec(build: Build, context: Path) -> BuildSpec:
    identity = Identity(build.user, build.workspace)
    hosts = registries_of(build)
    credentials = {host: creds for host in hosts if (creds := credentials_for(identity, host))}
    insecure = {host for host in hosts if is_loopback_host(host)} | set(settings.WAVE_INSECURE_REGISTRIES)
    return BuildSpec(
        context=context,
        target=build.target_image,
        platform=build.platform,
        cache_repository=build.cache_repository or None,
        insecure_registries=frozenset(insecure),
        sandbox=sandbox_spec(hosts),
        credentials=credentials,
        compression=build.context.get("compression"),
    )
