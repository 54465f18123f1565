"""What a conda build installs: channels and specs from the environment file, plus base packages."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

PREFIX = "/opt/conda"


class CondaPlanError(ValueError):
    pass


@dataclass(frozen=True)
class CondaPlan:
    channels: tuple[str, ...]
    specs: tuple[str, ...]
    base_image: str
    platform: str  # e.g. linux/arm64
    commands: tuple[str, ...] = ()

    @property
    def subdir(self) -> str:
        return {"linux/amd64": "linux-64", "linux/arm64": "linux-aarch64"}[self.platform]

    def recipe(self) -> str:
        """The plan as text: what the build record shows and the build hash covers."""
        doc = {
            "builder": "conda (py-rattler, no container runtime)",
            "base_image": self.base_image,
            "prefix": PREFIX,
            "platform": self.platform,
            "channels": list(self.channels),
            "specs": list(self.specs),
            "commands": list(self.commands),
        }
        return yaml.safe_dump(doc, sort_keys=False)

    def context(self) -> dict:
        return {"builder": "conda", "base_image": self.base_image, "channels": list(self.channels),
                "specs": list(self.specs), "commands": list(self.commands)}

    @classmethod
    def from_context(cls, context: dict, platform: str) -> CondaPlan:
        return cls(tuple(context["channels"]), tuple(context["specs"]), context["base_image"], platform,
                   tuple(context.get("commands") or ()))


def plan_from_environment(conda_text: str, base_packages: str, default_channels: list[str], base_image: str,
                          platform: str, commands: list[str]) -> CondaPlan:
    """Channels and specs of a conda environment file; `pip:` sub-lists cannot be installed this way."""
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
