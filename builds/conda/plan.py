"""What a conda build installs: channels and specs from the environment file, plus base packages."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

PREFIX = "/opt/conda"
SUBDIRS = {"linux/amd64": "linux-64", "linux/arm64": "linux-aarch64"}  # conda's name of each image platform


class CondaPlanError(ValueError):
    pass


@dataclass(frozen=True)
class CondaPlan:
    channels: tuple[str, ...]
    specs: tuple[str, ...]  # match specs to solve, or for a lock `<url>#<sha256|md5>` lines to install as they are
    base_image: str
    platform: str  # e.g. linux/arm64
    commands: tuple[str, ...] = ()
    locked: bool = False

    @property
    def subdir(self) -> str:
        return SUBDIRS[self.platform]

    def recipe(self) -> str:
        """The plan as text: what the build record shows and the build hash covers."""
        doc = {
            "builder": "conda (py-rattler, no container runtime)",
            "base_image": self.base_image,
            "prefix": PREFIX,
            "platform": self.platform,
            "channels": list(self.channels),
            "locked" if self.locked else "specs": list(self.specs),
            "commands": list(self.commands),
        }
        return yaml.safe_dump(doc, sort_keys=False)

    def context(self) -> dict:
        return {"builder": "conda", "base_image": self.base_image, "channels": list(self.channels),
                "specs": list(self.specs), "commands": list(self.commands), **({"locked": True} if self.locked else {})}

    @classmethod
    def from_context(cls, context: dict, platform: str) -> CondaPlan:
        return cls(tuple(context["channels"]), tuple(context["specs"]), context["base_image"], platform,
                   tuple(context.get("commands") or ()), bool(context.get("locked")))


def explicit_entries(text: str) -> list[str] | None:
    """The `<url>#<hash>` lines of an `@EXPLICIT` lock, or None when `text` is not one."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not lines or lines[0] != "@EXPLICIT":
        return None
    entries = lines[1:]
    for entry in entries:
        url, _, checksum = entry.partition("#")
        if not url.startswith(("http://", "https://")) or not url.endswith((".conda", ".tar.bz2")) or not checksum:
            raise CondaPlanError(f"'{entry}' is not a lock entry: expected <package URL>#<sha256 or md5>")
    if not entries:
        raise CondaPlanError("The @EXPLICIT lock lists no packages")
    return entries


def plan_from_environment(conda_text: str, base_packages: str, default_channels: list[str], base_image: str,
                          platform: str, commands: list[str]) -> CondaPlan:
    """Channels and specs of a conda environment file (or the entries of an @EXPLICIT lock);
    `pip:` sub-lists cannot be installed this way."""
    locked = explicit_entries(conda_text)
    if locked is not None:
        channels = sorted({entry.split("#")[0].rsplit("/", 2)[0] for entry in locked})
        return CondaPlan(tuple(channels), tuple(locked), base_image, platform, tuple(commands), locked=True)
    try:
        doc = yaml.safe_load(conda_text) or {}
    except yaml.YAMLError as exc:
        raise CondaPlanError(f"The conda environment file is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise CondaPlanError("The conda environment file must be a mapping with 'channels' and 'dependencies'")
    dependencies = doc.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise CondaPlanError("'dependencies' in the conda environment file must be a list")
    if any(isinstance(d, dict) for d in dependencies):
        raise CondaPlanError(
            "pip packages cannot be installed by the conda builder; use buildTemplate 'conda/micromamba:v1'"
        )
    specs = [str(d) for d in dependencies if str(d).strip() and str(d) != "pip"]
    specs += [p for p in base_packages.split() if p]
    channels = [str(c) for c in doc.get("channels") or default_channels]
    return CondaPlan(tuple(channels), tuple(specs), base_image, platform, tuple(commands))
