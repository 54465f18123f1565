"""Every path a conda package names is checked before anything of it is linked.

Rattler trusts `info/paths.json`: `../` copies files from outside the package into the prefix and
an absolute path makes it panic. So each archive is read here first, without extracting it: its
members (names, symlink and hard link targets) and the path lists rattler links from
(`info/paths.json`, or without it `info/files`, `info/has_prefix` and `info/no_link`). A path must
be relative with no `..`; a link must resolve inside the prefix, from the link's own folder.
conda-build itself makes absolute links inside the prefix relative, so nothing legitimate is lost.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from pathlib import Path

from rattler.package_streaming import PackageArchive

LISTS = ("info/paths.json", "info/files", "info/has_prefix", "info/no_link")


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


async def check_archive(archive: Path) -> None:
    """Raise UnsafePackage naming the package and the path when `archive` could write or read
    outside the prefix (or rattler could not link it)."""
    package = archive.name

    def refuse(where: str, path: str, problem: str) -> UnsafePackage:
        return UnsafePackage(f"Package {package} is refused: {where} '{path}' {problem}")

    opened = await PackageArchive.from_path(archive)
    for section in ("info", "pkg"):
        async for entry in opened.stream(section):
            problem = path_problem(entry.name)
            if problem:
                raise refuse("its archive member", entry.name, problem)
            if entry.is_symlink:
                problem = link_problem(entry.name, entry.link_target or "")
            elif entry.is_hardlink:
                problem = path_problem(entry.link_target or "")
                problem = problem and f"is a hard link to '{entry.link_target}', which {problem}"
            if problem:
                raise refuse("its archive member", entry.name, problem)
    for name, data in (await opened.read_files(LISTS)).items():
        if data is None:
            continue
        try:
            paths = _listed_paths(name, data)
        except ValueError as exc:
            raise UnsafePackage(f"Package {package} is refused: its {name} {exc}") from None
        for path in paths:
            problem = path_problem(path)
            if problem:
                raise refuse(f"its {name} path", path, problem)
