from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidPlatform

_ARCH_ALIASES = {"amd64": "amd64", "x86_64": "amd64", "arm64": "arm64", "aarch64": "arm64"}


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, entry: dict) -> bool:
        """Does an index entry's `platform` object describe this platform (arch aliases folded)?"""
        if entry.get("os", "linux") != self.os:
            return False
        if _ARCH_ALIASES.get(entry.get("architecture", ""), entry.get("architecture")) != self.architecture:
            return False
        if self.architecture == "arm64":
            return entry.get("variant") in (None, "", "v8") and self.variant in (None, "", "v8")
        return (entry.get("variant") or None) == (self.variant or None)


def parse_platform(value: object) -> Platform:
    """`[os/]arch[/variant]`, only linux on amd64 (x86_64) and arm64 (aarch64)."""
    if not isinstance(value, str) or not value:
        raise InvalidPlatform(f"Unsupported container platform: {value}")
    parts = value.lower().split("/")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    if len(parts) > 3 or parts[0] != "linux" or parts[1] not in _ARCH_ALIASES:
        raise InvalidPlatform(f"Unsupported container platform: {value}")
    arch = _ARCH_ALIASES[parts[1]]
    variant = parts[2] if len(parts) == 3 else None
    if variant and not (arch == "arm64" and variant == "v8"):
        raise InvalidPlatform(f"Unsupported container platform: {value}")
    return Platform("linux", arch, None)
