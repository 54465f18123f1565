"""Build queues per platform: a build waits in the queue of its platform (`<WAVE_BUILD_QUEUE>-linux-amd64`,
`-linux-arm64`), which only workers able to run that platform's programs listen to.

No Django here: the settings name these queues (RQ_QUEUES) before the apps load.
"""

from __future__ import annotations

import platform as _host

from oci.platform import InvalidPlatform, parse_platform

PLATFORMS = ("linux/amd64", "linux/arm64")
_MACHINES = {"x86_64": "linux/amd64", "amd64": "linux/amd64", "aarch64": "linux/arm64", "arm64": "linux/arm64"}


def canonical(platform: str) -> str:
    """`linux/<arch>`: `arm64/v8`, `aarch64` and `x86_64` share their platform's queue."""
    return f"linux/{parse_platform(platform).architecture}"


def queue_name(prefix: str, platform: str) -> str:
    return f"{prefix}-{canonical(platform).replace('/', '-')}"


def native_platforms() -> list[str]:
    """The platform this machine runs natively, from `platform.machine()`; none on another architecture."""
    native = _MACHINES.get(_host.machine().lower())
    return [native] if native else []


def worker_platforms(names: list[str]) -> list[str]:
    """WAVE_WORKER_PLATFORMS read: each one canonical, or a clear error naming the value."""
    out = []
    for name in names:
        try:
            out.append(canonical(name.strip()))
        except InvalidPlatform:
            raise ValueError(f"WAVE_WORKER_PLATFORMS: '{name}' is not one of {', '.join(PLATFORMS)}") from None
    return list(dict.fromkeys(out))
