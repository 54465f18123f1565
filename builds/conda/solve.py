"""Solving and installing with py-rattler, for the image's platform rather than the worker's."""

from __future__ import annotations

from pathlib import Path

import httpx
import rattler
import rattler.exceptions
from rattler.platform import Subdir

from oci.download import BadStatus, download
from oci.errors import OciError

from .plan import PREFIX, CondaPlan

# What a glibc-based base image (Debian bookworm) offers; the solver needs it to pick linux builds.
GLIBC = "2.36"
LINUX = "6.1"
DOWNLOAD_TIMEOUT = 120  # seconds without progress; the build's deadline bounds the whole download


class SolveError(Exception):
    pass


# The errors rattler raises for what it was given or could not fetch (each its own type, all plain
# `Exception` subclasses), and I/O; anything else is a bug of ours and stays one.
RATTLER_ERRORS = (
    *(v for v in vars(rattler.exceptions).values() if isinstance(v, type) and issubclass(v, Exception)),
    OSError,
)


def _virtual_packages() -> list[rattler.GenericVirtualPackage]:
    def virtual(name: str, version: str) -> rattler.GenericVirtualPackage:
        return rattler.GenericVirtualPackage(rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0"))

    return [virtual("__unix", "0"), virtual("__linux", LINUX), virtual("__glibc", GLIBC)]


def _channels(plan: CondaPlan, channel_alias: str) -> list[rattler.Channel]:
    config = rattler.ChannelConfig(channel_alias=channel_alias)
    names = list(plan.channels)
    for spec in plan.specs:  # `conda-forge::procps-ng` needs its channel among the sources
        if "::" in spec and spec.split("::")[0] not in names:
            names.append(spec.split("::")[0])
    return [rattler.Channel(name, config) for name in names]


async def solve(plan: CondaPlan, channel_alias: str) -> list[rattler.RepoDataRecord]:
    try:
        return await rattler.solve(
            sources=_channels(plan, channel_alias),
            specs=list(plan.specs),
            platforms=[plan.subdir, "noarch"],
            virtual_packages=_virtual_packages(),
        )
    except RATTLER_ERRORS as exc:
        raise SolveError(f"The conda environment cannot be solved: {exc}") from exc


def _checksum(value: str) -> tuple[str, str]:
    """`sha256:<hex>`, a bare sha256, or a bare md5 (conda's own explicit form)."""
    if value.startswith("sha256:"):
        return "sha256", value[len("sha256:") :]
    return ("md5" if len(value) == 32 else "sha256"), value


def download_client() -> httpx.AsyncClient:
    """The client for package downloads: through the build sandbox's egress proxy (HTTPS_PROXY...),
    the child's only way out, which applies the SSRF policy to every connection."""
    return httpx.AsyncClient(follow_redirects=True, timeout=DOWNLOAD_TIMEOUT)


async def fetch_package(client: httpx.AsyncClient, url: str, checksum: str, path: Path) -> Path:
    """A package archive downloaded to `path` and checked against its `sha256:`/md5 checksum."""
    kind, expected = _checksum(checksum)
    try:
        with path.open("wb") as out:  # to disk: packages can be large
            actual = await download(client, url, out.write, hash_name=kind)
    except BadStatus as exc:
        raise SolveError(f"The package {url} cannot be fetched: HTTP {exc.status}") from None
    except (httpx.HTTPError, OciError) as exc:
        raise SolveError(f"The package {url} cannot be fetched: {exc}") from None
    if actual != expected:
        raise SolveError(f"The package {url} has {kind} {actual}, not {expected} as its record says")
    return path


def record_checksum(record: rattler.RepoDataRecord) -> str:
    if record.sha256:
        return f"sha256:{record.sha256.hex()}"
    if record.md5:
        return record.md5.hex()
    raise SolveError(f"The package {record.url} has no checksum in its channel's index")


async def install(records: list[rattler.RepoDataRecord], staging: Path, subdir: str, cache: Path) -> Path:
    """Link the packages into `staging/opt/conda`, with placeholders replaced by `/opt/conda`."""
    prefix = staging / PREFIX.lstrip("/")
    await rattler.install(
        records,
        target_prefix=prefix,
        alternative_target_prefix=PREFIX,
        platform=Subdir(subdir),
        cache_dir=cache,
        execute_link_scripts=False,
        show_progress=False,
    )
    return prefix
