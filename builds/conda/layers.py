"""One deterministic layer per conda package, so that a package has the same layer digest in every
image and on every worker; plus one small layer with the environment's own metadata."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import rattler

from oci.layer import LayerBuilder, LayerFile

from .paths import UnsafePackage, path_problem
from .plan import PREFIX

LAYER_BUDGET = 90  # package layers at most; with the base image's, images stay under ~100 layers
_SKIP = {"CACHEDIR.TAG"}


@dataclass(frozen=True)
class PackageLayer:
    names: tuple[str, ...]
    layer: LayerFile


def _add(builder: LayerBuilder, prefix: Path, relative: str) -> None:
    """Add `prefix/relative`, which must resolve inside the (resolved) prefix: the package checks
    see one package at a time, and links from several could still lead out together."""
    path = prefix / relative
    resolved = os.path.realpath(path)
    if path_problem(relative) or not resolved.startswith(f"{prefix}/"):
        raise UnsafePackage(f"The installed path '{relative}' resolves to '{resolved}', outside the prefix")
    inside = f"{PREFIX.lstrip('/')}/{relative}"
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        builder.add_symlink(inside, os.readlink(path))
    elif stat.S_ISDIR(info.st_mode):
        builder.add_dir(inside, stat.S_IMODE(info.st_mode))
    else:
        builder.add_file(inside, path, 0o755 if info.st_mode & 0o111 else 0o644)


def _prefix_records(prefix: Path) -> list[rattler.PrefixRecord]:
    records = [rattler.PrefixRecord.from_path(p) for p in sorted((prefix / "conda-meta").glob("*.json"))]
    return sorted(records, key=lambda r: r.name.normalized)


def _metadata_layer(prefix: Path, owned: set[str], urls: dict[str, str], target: Path) -> LayerFile:
    """conda-meta without the worker's own paths (each package's URL is where it came from, not
    the file it was installed from), and anything no package owns."""
    builder = LayerBuilder()
    for meta in sorted((prefix / "conda-meta").glob("*.json")):
        doc = json.loads(meta.read_text())
        for key in ("extracted_package_dir", "package_tarball_full_path"):
            doc.pop(key, None)
        if doc.get("fn") in urls:
            doc["url"] = urls[doc["fn"]]
        if isinstance(doc.get("link"), dict):
            doc["link"].pop("source", None)
        builder.add_file(f"{PREFIX.lstrip('/')}/conda-meta/{meta.name}", json.dumps(doc, indent=2, sort_keys=True).encode())
    builder.add_file(f"{PREFIX.lstrip('/')}/conda-meta/history", b"")
    for path in sorted(prefix.rglob("*")):
        relative = path.relative_to(prefix).as_posix()
        if relative in _SKIP or relative.startswith("conda-meta") or relative in owned or path.is_dir():
            continue
        _add(builder, prefix, relative)
    return builder.write(target)


def package_layers(prefix: Path, out: Path, urls: dict[str, str] | None = None) -> tuple[list[PackageLayer], LayerFile]:
    """A layer per installed package (merging the smallest past LAYER_BUDGET), and the metadata layer,
    written to `out` as `layer-<n>.tar.gz` (the metadata last); files stream from the prefix, so
    memory does not grow with a package's size. `urls` maps package file names to the URLs the lock names."""
    prefix = prefix.resolve()
    groups: list[tuple[tuple[str, ...], list[str]]] = [
        ((r.name.normalized,), sorted(str(f) for f in r.files)) for r in _prefix_records(prefix)
    ]
    if len(groups) > LAYER_BUDGET:
        by_size = sorted(groups, key=lambda g: sum((prefix / f).lstat().st_size for f in g[1]))
        keep, small = by_size[len(groups) - LAYER_BUDGET + 1 :], by_size[: len(groups) - LAYER_BUDGET + 1]
        merged = (tuple(n for names, _ in small for n in names), sorted(f for _, files in small for f in files))
        groups = sorted([*keep, merged], key=lambda g: g[0])
    layers = []
    for number, (names, files) in enumerate(groups):
        builder = LayerBuilder()
        for relative in files:
            _add(builder, prefix, relative)
        layers.append(PackageLayer(names, builder.write(out / f"layer-{number}.tar.gz")))
    owned = {f for _, files in groups for f in files}
    return layers, _metadata_layer(prefix, owned, urls or {}, out / f"layer-{len(groups)}.tar.gz")
