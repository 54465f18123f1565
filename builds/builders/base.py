from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from oci.auth import Credentials

from ..sandbox import SandboxSpec


@dataclass(frozen=True)
class BuildSpec:
    context: Path  # holds the Dockerfile and every file it adds
    target: str  # `<repo>:<tag>` to push to
    platform: str  # e.g. linux/amd64
    cache_repository: str | None
    insecure_registries: frozenset[str]  # spoken to over plain HTTP
    sandbox: SandboxSpec
    credentials: dict[str, Credentials] = field(default_factory=dict, repr=False)  # by registry host
    compression: dict | None = None  # `{mode, level}` of the pushed layers (builds/compression.py)
    oci_layout: Path | None = None  # write the image here (tag `image`) instead of pushing it (SIF builds)


class Builder(Protocol):
    """Build `spec.context/Dockerfile` and push it to `spec.target` (or write it as the OCI layout
    `spec.oci_layout`, tagged `image`); return the pushed digest.

    Output goes to `output` as it comes; `tick` is called at least once a second; past `deadline`
    (monotonic seconds) the build is killed and `process.DeadlineExceeded` raised. A failed step
    raises `BuildFailed` with the exit status.
    """

    def build(self, spec: BuildSpec, output: Callable[[str], None], deadline: float, tick: Callable[[], None]) -> str: ...


class BuildFailed(Exception):
    def __init__(self, message: str, exit_status: int):
        super().__init__(message)
        self.exit_status = exit_status
