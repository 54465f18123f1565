"""The lock of a conda build: every package's URL and checksum, as `@EXPLICIT` and as conda-lock YAML."""

from __future__ import annotations

import yaml


def _hex(value) -> str:
    return value.hex() if value else ""


def explicit_lock(records, subdir: str) -> str:
    """An `@EXPLICIT` list (micromamba and conda accept `url#sha256:<hex>`)."""
    lines = ["# This file may be used to create an environment using:", "# $ conda create --name <env> --file <this file>",
             f"# platform: {subdir}", "@EXPLICIT"]
    lines += [f"{r.url}#sha256:{_hex(r.sha256)}" for r in sorted(records, key=lambda r: r.name.normalized)]
    return "\n".join(lines) + "\n"


def conda_lock_yaml(records, subdir: str, channels: list[str]) -> str:
    packages = [
        {
            "name": r.name.normalized,
            "version": str(r.version),
            "manager": "conda",
            "platform": subdir,
            "dependencies": {d.split(" ")[0]: " ".join(d.split(" ")[1:]) for d in r.depends},
            "url": r.url,
            "hash": {"md5": _hex(r.md5), "sha256": _hex(r.sha256)},
            "category": "main",
            "optional": False,
        }
        for r in sorted(records, key=lambda r: r.name.normalized)
    ]
    doc = {"version": 1, "metadata": {"channels": [{"url": c, "used_env_vars": []} for c in channels], "platforms": [subdir]},
           "package": packages}
    return yaml.safe_dump(doc, sort_keys=False)
