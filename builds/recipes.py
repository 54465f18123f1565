"""Build recipes: the conda environment YAML and the Dockerfiles the builder runs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml

PIP_PREFIX = "pip:"
# How conda packages become an image: assembled by the worker with py-rattler (the default), or the
# reference service's micromamba Dockerfile run by the builder backend.
CONDA_RATTLER = "conda/rattler"
CONDA_MICROMAMBA = "conda/micromamba:v1"
# Wave's templates, rendered as Wave renders them (builds/templates.py).
CONDA_MICROMAMBA_V2, CONDA_PIXI_V1, CRAN_INSTALLR_V1 = "conda/micromamba:v2", "conda/pixi:v1", "cran/installr:v1"
BUILD_TEMPLATES = (CONDA_RATTLER, CONDA_MICROMAMBA, CONDA_MICROMAMBA_V2, CONDA_PIXI_V1, CRAN_INSTALLR_V1)
_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.+-]+)\s*(?P<op>==|=|>=|<=|>|<|!=|~=)?\s*(?P<rest>.*)$")


def conda_yaml(entries: list[str], channels: list[str]) -> str:
    """A conda environment file: channels, then dependencies; `pip:` entries under a pip sub-list."""
    conda = [e for e in entries if not e.startswith(PIP_PREFIX)]
    pip = [e[len(PIP_PREFIX) :] for e in entries if e.startswith(PIP_PREFIX)]
    dependencies: list = list(conda)
    if pip:
        if "pip" not in conda:
            dependencies.append("pip")
        dependencies.append({"pip": pip})
    return yaml.safe_dump({"channels": list(channels), "dependencies": dependencies}, sort_keys=False)


@dataclass(frozen=True)
class PackageName:
    name: str
    version: str | None

    @property
    def qualified(self) -> str:
        return f"{self.name}-{self.version}" if self.version else self.name


def parse_package_spec(spec: str) -> PackageName | None:
    """`bioconda::samtools=1.0` -> samtools 1.0; ranges keep only the name."""
    spec = spec.strip().split("::")[-1]
    match = _SPEC.match(spec)
    if not match:
        return None
    op, rest = match.group("op"), match.group("rest").strip()
    version = None
    if op in ("=", "==") or (op is None and rest):  # `name=1.0`, `name==1.0` or `name 1.0`
        version = rest.split("=")[0].split(" ")[0].rstrip("*").rstrip(".") or None
    return PackageName(match.group("name").lower(), version)


def _archive_name(url: str) -> PackageName:
    """`.../samtools-1.19-h50ea8bc_0.tar.bz2` -> samtools 1.19."""
    stem = url.split("#")[0].rsplit("/", 1)[-1].removesuffix(".tar.bz2").removesuffix(".conda")
    name, version, _build = stem.rsplit("-", 2)
    return PackageName(name.lower(), version)


def conda_packages(conda_text: str) -> list[PackageName]:
    """The conda packages a conda environment file (or @EXPLICIT lock) asks for, in order."""
    lines = [line.strip() for line in conda_text.splitlines() if line.strip() and not line.startswith("#")]
    if lines and lines[0] == "@EXPLICIT":
        return [_archive_name(line) for line in lines[1:] if line.count("-") >= 2]
    try:
        doc = yaml.safe_load(conda_text)
    except yaml.YAMLError:
        return []
    deps = doc.get("dependencies") if isinstance(doc, dict) else None
    if not isinstance(deps, list):
        return []
    names = [parse_package_spec(d) for d in deps if isinstance(d, str)]
    return [n for n in names if n is not None]


def conda_dockerfile(mamba_image: str, base_packages: str, commands: list[str]) -> str:
    """The micromamba recipe the reference service uses; the lock is printed between markers."""
    lines = [
        f"FROM {mamba_image}",
        "COPY --chown=$MAMBA_USER:$MAMBA_USER conda.yml /tmp/conda.yml",
        "RUN micromamba install -y -n base -f /tmp/conda.yml \\",
    ]
    if base_packages.strip():
        lines.append(f"    && micromamba install -y -n base {base_packages.strip()} \\")
    lines += [
        "    && micromamba env export --name base --explicit > environment.lock \\",
        '    && echo ">> CONDA_LOCK_START" \\',
        "    && cat environment.lock \\",
        '    && echo "<< CONDA_LOCK_END" \\',
        "    && micromamba clean -a -y",
        "USER root",
        'ENV PATH="$MAMBA_ROOT_PREFIX/bin:$PATH"',
    ]
    lines += commands
    return "\n".join(lines) + "\n"


def layer_file_name(index: int) -> str:
    return f"layer-{index}.tar.gz"


def config_steps(config: dict) -> str:
    """A container config turned into build steps; added layers are build-context files."""
    lines = []
    for i, _ in enumerate(config.get("layers") or []):
        lines.append(f"ADD {layer_file_name(i)} /")
    if config.get("workingDir"):
        lines.append(f"WORKDIR {config['workingDir']}")
    for entry in config.get("env") or []:
        key, _, value = entry.partition("=")
        lines.append(f"ENV {key}={json.dumps(value)}")
    if config.get("entrypoint"):
        lines.append(f"ENTRYPOINT {json.dumps(config['entrypoint'])}")
    if config.get("cmd"):
        lines.append(f"CMD {json.dumps(config['cmd'])}")
    return "\n".join(lines) + "\n"
