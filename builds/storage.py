"""The builder's local storage (`data/buildah`): who may use it, what is left in it, and its bound.

Builds hold a shared lock on the storage while they run; cleanup takes it exclusively, so that
"every working container is a leftover" holds while it works. No Django here: the janitor uses this
outside the worker.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def storage_lock(storage: Path, exclusive: bool = False) -> Iterator[None]:
    storage.mkdir(parents=True, exist_ok=True)
    with open(storage / "builds.lock", "a") as lock:  # not inherited: builders never hold it
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield


def buildah(storage: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["buildah", "--root", str(storage / "root"), "--runroot", str(storage / "runroot"), *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
    )


def listed(storage: Path, what: str) -> list[dict]:
    """`buildah containers` or `buildah images --all`, as their JSON (which says `null` for none)."""
    result = buildah(storage, what, *(["--all"] if what == "images" else []), "--json")
    return json.loads(result.stdout or "null") or []


def disk_usage(path: Path) -> int:
    """Bytes allocated under `path`, each hard-linked file counted once."""
    seen, total = set(), 0
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue  # removed while walking
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def remove_leftovers(storage: Path) -> None:
    """Remove every working container (and its mounts); call only under the exclusive lock."""
    buildah(storage, "rm", "--all")


def prune(storage: Path, limit: int) -> list[str]:
    """Remove images, oldest first, until the storage takes at most `limit` bytes; return their ids.

    The images are the layer cache (`--layers` keeps one per step) and the pulled bases: anything
    removed is pulled or rebuilt again when needed. Call only under the exclusive lock.
    """
    if not (storage / "root").exists() or disk_usage(storage) <= limit:
        return []
    images = sorted(listed(storage, "images"), key=lambda image: image.get("created", 0))  # the cached steps too
    removed = []
    for image in images:
        if buildah(storage, "rmi", "--force", image["id"]).returncode == 0:
            removed.append(image["id"])
        if disk_usage(storage) <= limit:
            break
    return removed
