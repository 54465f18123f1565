"""Solving and installing with py-rattler, for the image's platform rather than the worker's."""

from __future__ import annotations

from pathlib import Path

import rattler
from rattler.platform import Subdir

from .plan import PREFIX, CondaPlan

# What a glibc-based base image (Debian bookworm) offers; the solver needs it to pick linux builds.
GLIBC = "2.36"
LINUX = "6.1"


class SolveError(Exception):
    pass


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
    except Exception as exc:  # rattler raises its own error types; the message is what matters
        raise SolveError(f"The conda environment cannot be solved: {exc}") from exc


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
