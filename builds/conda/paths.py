"""Every path a conda package names is checked before anything of it is linked.

Rattler trusts `info/paths.json`: `../` copies files from outside the package into the prefix and
an absolute path makes it panic. So each archive is read here first, without extracting it: its
members (names, symlink and hard link targets) and the path lists rattler links from
(`info/paths.json`, or without it `info/files`, `info/has_prefix` and `info/no_link`). A path must
be relative with no `..`; a link must resolve inside the prefix, from the link's own folder.
conda-build itself makes absolute links inside the prefix relative, so nothing legitimate is lost.
"""

from __future__ import annotations

import asyncio
import json
import posixpath
import shlex
import tarfile
from pathlib import Path

from rattler.package_streaming import PackageArchive

LISTS = ("info/paths.json", "info/files", "info/has_prefix", "info/no_link")
MAX_LIST = 64 * 1024 * 1024  # bytes of one path list read into memory (the largest real ones are a few MB)


class UnsafePackage(Exception):
    pass


def path_problem(path: str) -> str | None:
    """Why `path` (relative to the prefix) could land outside it, or None when it cannot."""
    if not path or "\0" in path:
        return "is empty or holds a NUL"
    if path.startswith("/"):
        return "is absolute"
    if ".." in path.split("/"):
        return "has a '..' component"
    return None


def link_problem(link: str, target: str) -> str | None:
    """Why a symlink at `link` pointing at `target` resolves outside the prefix, or None."""
    if target.startswith("/"):
        return f"points at the absolute path '{target}'"
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
    if resolved == ".." or resolved.startswith("../"):
        return f"points at '{target}', outside the prefix"
    return None


def _listed_paths(name: str, data: bytes) -> list[str]:
    """The paths a package list names (rattler links exactly these)."""
    text = data.decode("utf-8", "replace")
    if name == "info/paths.json":
        try:
            entries = json.loads(text).get("paths") or []
            return [str(entry.get("_path", "")) for entry in entries]
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"is not a valid paths.json ({exc})") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if name != "info/has_prefix":
        return lines
    try:  # `<placeholder> <text|binary> <path>` or a bare path, shell-quoted when it has spaces
        return [shlex.split(line)[-1] for line in lines]
    except ValueError as exc:
        raise ValueError(f"has a line that cannot be read ({exc})") from None


def _member_problem(name: str, symlink: str | None, hardlink: str | None) -> str | None:
    problem = path_problem(name)
    if not problem and symlink is not None:
        problem = link_problem(name, symlink)
    if not problem and hardlink is not None:
        problem = path_problem(hardlink)
        problem = problem and f"is a hard link to '{hardlink}', which {problem}"
    return problem


def _tar_bz2_members(archive: Path) -> tuple[list[tuple[str, str | None, str | None]], dict[str, bytes]]:
    """Every member (name, symlink target, hard link target) and the path lists, in one pass: a
    `.tar.bz2` has no index, and bzip2 is slow enough that each pass shows (0.35 s for 2 MB)."""
    members, lists = [], {}
    with tarfile.open(archive, "r|bz2") as tar:
        for member in tar:
            members.append((member.name, member.linkname if member.issym() else None,
                            member.linkname if member.islnk() else None))
            if member.name in LISTS and member.isfile():
                if member.size > MAX_LIST:
                    raise UnsafePackage(f"Package {archive.name} is refused: its {member.name} is {member.size} bytes, over {MAX_LIST}")
                lists[member.name] = tar.extractfile(member).read()
    return members, lists


async def _conda_members(archive: Path) -> tuple[list[tuple[str, str | None, str | None]], dict[str, bytes]]:
    opened = await PackageArchive.from_path(archive)
    members = []
    for section in ("info", "pkg"):  # two zstd tars of their own: each read once
        async for entry in opened.stream(section):
            target = entry.link_target or ""
            members.append((entry.name, target if entry.is_symlink else None, target if entry.is_hardlink else None))
    lists = {name: data for name, data in (await opened.read_files(LISTS)).items() if data is not None}
    return members, lists


async def check_archive(archive: Path) -> None:
    """Raise UnsafePackage naming the package and the path when `archive` could write or read
    outside the prefix (or rattler could not link it)."""
    package = archive.name

    def refuse(where: str, path: str, problem: str) -> UnsafePackage:
        return UnsafePackage(f"Package {package} is refused: {where} '{path}' {problem}")

    try:
        if package.endswith(".tar.bz2"):
            members, lists = await asyncio.to_thread(_tar_bz2_members, archive)
        else:
            members, lists = await _conda_members(archive)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnsafePackage(f"Package {package} is refused: it cannot be read as a package ({exc})") from None
    for name, symlink, hardlink in members:
        problem = _member_problem(name, symlink, hardlink)
        if problem:
            raise refuse("its archive member", name, problem)
    for name, data in lists.items():
        try:
            paths = _listed_paths(name, data)
        except ValueError as exc:
            raise UnsafePackage(f"Package {package} is refused: its {name} {exc}") from None
        for path in paths:
            problem = path_problem(path)
            if problem:
                raise refuse(f"its {name} path", path, problem)
