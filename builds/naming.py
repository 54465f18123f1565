"""The build id and the name a build is pushed under (SPEC section 1)."""

from __future__ import annotations

import hashlib
import json
import re

from oci.reference import parse_repository

from .recipes import PackageName

NAME_STRATEGIES = ("none", "tagPrefix", "imageSuffix")
MAX_TAG = 80
MAX_REPOSITORY_PATH = 255  # distribution's limit on a repository's path
MAX_NAMES = 5
HASH_LEN = 16


def content_hash(inputs: dict) -> str:
    """16 hex of a sha256 over everything that determines the image, the same on every machine."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LEN]


def _names(packages: list[PackageName], qualified: bool) -> str:
    names = [p.qualified if qualified else p.name for p in packages]
    if len(names) > MAX_NAMES:
        names = names[: MAX_NAMES - 1] + ["pruned"]
    return "_".join(names)


def sanitise_tag(tag: str, limit: int = MAX_TAG) -> str:
    tag = re.sub(r"[^a-zA-Z0-9_.-]", "_", tag).lstrip(".-")
    return tag[:limit]


def _sanitise_name(name: str) -> str:
    name = re.sub(r"[^a-z0-9_.-]+", "_", name.lower()).strip("._-")
    return name[:100]


def target_image(repository: str, build_hash: str, packages: list[PackageName], strategy: str | None) -> str:
    """`<repo>:<tag>` for a build; `strategy` has been validated against NAME_STRATEGIES."""
    strategy = strategy or "tagPrefix"
    tag = build_hash
    if strategy == "tagPrefix" and packages:
        prefix = sanitise_tag(_names(packages, qualified=True), MAX_TAG - len(build_hash) - 2).rstrip("._-")
        tag = f"{prefix}--{build_hash}" if prefix else build_hash
    elif strategy == "imageSuffix" and packages:
        # The suffix is cut so that the repository's path stays within distribution's 255 characters.
        room = MAX_REPOSITORY_PATH - len(parse_repository(repository).path) - 1
        suffix = _sanitise_name(_names(packages, qualified=False))[: max(room, 0)].rstrip("._-")
        if suffix:
            repository = f"{repository}/{suffix}"
        if len(packages) == 1 and packages[0].version:
            version = sanitise_tag(packages[0].version, MAX_TAG - len(build_hash) - 2)
            tag = f"{version}--{build_hash}"
    return f"{repository}:{tag}"
